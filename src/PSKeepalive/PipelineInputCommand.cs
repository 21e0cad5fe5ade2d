using System;
using System.Globalization;
using System.Management.Automation;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;

namespace PSKeepalive;

/// <summary>
/// A cmdlet that binds process ids, sockets or namespace names from piped objects by property name. An object that
/// came over PowerShell remoting (Invoke-Command -HostName web1 { Get-Process x }) carries PSComputerName, and its
/// numbers name things of that computer: acted on here, they would hit whatever has the same process id, inode or
/// name. Such objects are refused, one error each.
/// </summary>
public abstract class PipelineInputCommand : PSCmdlet
{
    /// <summary>Set by PowerShell remoting on objects from another computer (PSComputerName). Not meant to be typed.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [AllowNull]
    [AllowEmptyString]
    public string? PSComputerName { get; set; }

    /// <summary>
    /// A piped connection's state by name. ConvertTo-Json writes enums as numbers (TimeWait is 6, Listen 10), so a
    /// connection saved as JSON comes back with a number; null stays null.
    /// </summary>
    protected static string? StateName(string? state) =>
        int.TryParse(state, NumberStyles.None, CultureInfo.InvariantCulture, out int number) && Enum.IsDefined(typeof(TcpState), number)
            ? ((TcpState)number).ToString()
            : state;

    /// <summary>Writes the error and returns true when the current object was listed on another computer.</summary>
    /// <param name="subject">The error id's subject ("Process", "Socket", "Connection", "NetworkNamespace").</param>
    /// <param name="what">What the object names ("process 4242", "socket:[81234]").</param>
    /// <param name="command">The pipeline to run there instead, for the message.</param>
    protected bool RefusedFromAnotherComputer(string subject, string what, string command) =>
        Refused(this, PSComputerName, subject, what, command);

    /// <summary>
    /// The same for a cmdlet that declares PSComputerName itself because it derives from another base
    /// (Get-TcpConnection, from the filters it shares with Watch-TcpConnection).
    /// </summary>
    internal static bool Refused(Cmdlet cmdlet, string? computerName, string subject, string what, string command)
    {
        if (string.IsNullOrEmpty(computerName))
        {
            return false;
        }

        var error = new KeepaliveInvalidTargetException(
            subject,
            $"The piped object was listed on computer '{computerName}' (PowerShell remoting): {what} is one of that computer, "
            + $"not of this one, so it was left alone here. Run it there: Invoke-Command -HostName {computerName} {{ {command} }}.",
            computerName,
            0);
        cmdlet.WriteError(ErrorRecords.From(error));
        return true;
    }
}

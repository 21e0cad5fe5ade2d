using System.Management.Automation;
using PSKeepalive.Core.Errors;

namespace PSKeepalive;

/// <summary>
/// What the cmdlets that take piped objects check about them: whether an object came from another computer
/// (PowerShell remoting adds PSComputerName), whose process ids, sockets and namespace names mean nothing here.
/// </summary>
internal static class PipelineInput
{
    /// <summary>The property PowerShell remoting adds to every object it returns.</summary>
    internal const string ComputerNameProperty = "PSComputerName";

    /// <summary>
    /// The error for an object listed on <paramref name="computerName"/> and piped to a cmdlet here: acting on it would
    /// hit whatever has the same process id, inode or address here. Null for an object of this computer.
    /// </summary>
    /// <param name="subject">The error id's subject ("Process", "Socket", "Connection").</param>
    /// <param name="what">What the object names ("process 4242", "socket:[81234]").</param>
    /// <param name="command">The pipeline to run there instead, for the message.</param>
    internal static KeepaliveException? FromAnotherComputer(string? computerName, string subject, string what, string command)
    {
        if (string.IsNullOrEmpty(computerName))
        {
            return null;
        }

        return new KeepaliveInvalidTargetException(
            subject,
            $"The piped object was listed on computer '{computerName}' (PowerShell remoting): {what} is one of that computer, "
            + $"not of this one, so it was left alone here. Run it there: Invoke-Command -HostName {computerName} {{ {command} }}.",
            computerName,
            0);
    }

    /// <summary>The value of property <paramref name="name"/> of a piped object; null when it has none.</summary>
    internal static object? Property(PSObject input, string name) => input.Properties[name]?.Value;
}

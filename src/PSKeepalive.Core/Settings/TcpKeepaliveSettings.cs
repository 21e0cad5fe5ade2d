using System;
using System.Collections.Generic;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Namespaces;

namespace PSKeepalive.Core.Settings;

/// <summary>
/// Reads and changes net.ipv4.tcp_keepalive_{time,intvl,probes} of a network namespace. A change is
/// validated as a whole before anything is written, every write is read back, and a failed write
/// restores the values already written.
/// </summary>
public sealed class TcpKeepaliveSettings
{
    public const string TimeKey = "net.ipv4.tcp_keepalive_time";
    public const string IntervalKey = "net.ipv4.tcp_keepalive_intvl";
    public const string ProbesKey = "net.ipv4.tcp_keepalive_probes";

    private const string Subject = "Sysctl";

    private readonly SysctlFile _sysctl;

    public TcpKeepaliveSettings(string sysctlRoot = "/proc/sys")
    {
        _sysctl = new SysctlFile(sysctlRoot);
    }

    /// <summary>Reads the three values, in <paramref name="networkNamespace"/> (a path) or the caller's own.</summary>
    public TcpKeepaliveSetting Get(string? networkNamespace = null) =>
        NetworkNamespace.Run(networkNamespace, ReadHere);

    /// <summary>Refuses values outside the kernel's per-socket limits; the kernel itself would take 0 or -1.</summary>
    public static void Validate(TcpKeepaliveSettingChange change)
    {
        if (change.IsEmpty)
        {
            throw new KeepaliveValidationException(Subject, "Time", "Give at least one of Time, Interval or Probes to change.", null);
        }

        if (change.Time is int time)
        {
            KeepaliveLimits.CheckIdle(time, "Time", Subject);
        }

        if (change.Interval is int interval)
        {
            KeepaliveLimits.CheckInterval(interval, "Interval", Subject);
        }

        if (change.Probes is int probes)
        {
            KeepaliveLimits.CheckCount(probes, "Probes", Subject);
        }
    }

    /// <summary>
    /// What a setting piped to Set-TcpKeepaliveSetting changes, and where. As with Get-Service | Set-Service, the target
    /// is the object piped: the namespace it was read in (<see cref="PipedTcpKeepaliveSetting.NetworkNamespace"/>), never
    /// the caller's by accident. Its values travel with it, and the values typed override only what they name, so a
    /// saved setting piped back restores it. Copying it elsewhere takes an explicit <paramref name="networkNamespace"/>,
    /// and so does a setting read on another computer, whose namespace name means nothing here.
    /// </summary>
    /// <param name="piped">The piped setting; null when nothing was piped (only <paramref name="typed"/> counts).</param>
    /// <param name="typed">The values given as parameters.</param>
    /// <param name="networkNamespace">-NetworkNamespace as given; null when not given.</param>
    /// <returns>The values to write and the namespace to write them in (null: the caller's).</returns>
    /// <exception cref="KeepaliveInvalidTargetException">A setting of another computer without <paramref name="networkNamespace"/>.</exception>
    public static (TcpKeepaliveSettingChange Change, string? NetworkNamespace) ChangeFor(
        PipedTcpKeepaliveSetting? piped, TcpKeepaliveSettingChange typed, string? networkNamespace)
    {
        ArgumentNullException.ThrowIfNull(typed);
        if (piped is null)
        {
            return (typed, networkNamespace);
        }

        var change = new TcpKeepaliveSettingChange(typed.Time ?? piped.Time, typed.Interval ?? piped.Interval, typed.Probes ?? piped.Probes);
        if (!string.IsNullOrEmpty(networkNamespace))
        {
            return (change, networkNamespace);
        }

        if (!string.IsNullOrEmpty(piped.ComputerName))
        {
            throw new KeepaliveInvalidTargetException(
                "NetworkNamespace",
                $"The piped setting was read on computer '{piped.ComputerName}' (PowerShell remoting): its network namespace "
                + $"{piped.NetworkNamespace ?? "(none named)"} is one of that computer, not of this one, so nothing was changed. Change it there "
                + $"(Invoke-Command -HostName {piped.ComputerName} {{ Set-TcpKeepaliveSetting ... }}), or give -NetworkNamespace to copy its values "
                + "to a namespace of this computer (/proc/self/ns/net for this process's own).",
                piped.ComputerName,
                0);
        }

        return (change, string.IsNullOrEmpty(piped.NetworkNamespace) ? null : piped.NetworkNamespace);
    }

    /// <summary>The sysctl names and values a change writes, in write order.</summary>
    public static IReadOnlyList<KeyValuePair<string, int>> Assignments(TcpKeepaliveSettingChange change)
    {
        var list = new List<KeyValuePair<string, int>>(3);
        if (change.Time is int time)
        {
            list.Add(new(TimeKey, time));
        }

        if (change.Interval is int interval)
        {
            list.Add(new(IntervalKey, interval));
        }

        if (change.Probes is int probes)
        {
            list.Add(new(ProbesKey, probes));
        }

        return list;
    }

    /// <summary>Applies <paramref name="change"/> all or nothing and returns the values now in force.</summary>
    public TcpKeepaliveSetting Set(TcpKeepaliveSettingChange change, string? networkNamespace = null)
    {
        Validate(change);
        return NetworkNamespace.Run(networkNamespace, () =>
        {
            WriteAllOrNothing(Assignments(change));
            return ReadHere();
        });
    }

    /// <summary>
    /// Persists a change that was just written live (<paramref name="persist"/>). When persisting fails, the
    /// changed keys get their <paramref name="previous"/> values back, so that the system is as it was, and the
    /// error says so; if even that fails, it names the values that are live but not persisted.
    /// </summary>
    public SysctlPersistResult PersistOrRestore(
        TcpKeepaliveSettingChange change, TcpKeepaliveSetting previous, string? networkNamespace, System.Func<SysctlPersistResult> persist)
    {
        System.ArgumentNullException.ThrowIfNull(change);
        System.ArgumentNullException.ThrowIfNull(previous);
        System.ArgumentNullException.ThrowIfNull(persist);
        try
        {
            return persist();
        }
        catch (KeepaliveException failure)
        {
            var restore = new TcpKeepaliveSettingChange(
                change.Time is null ? null : previous.Time,
                change.Interval is null ? null : previous.Interval,
                change.Probes is null ? null : previous.Probes);
            var restored = new List<string>();
            foreach (var (key, value) in Assignments(restore))
            {
                restored.Add($"{key} = {value}");
            }

            try
            {
                Set(restore, networkNamespace);
            }
            catch (KeepaliveException)
            {
                var live = new List<string>();
                foreach (var (key, value) in Assignments(change))
                {
                    live.Add($"{key} (live value {value}, should be {(key == TimeKey ? previous.Time : key == IntervalKey ? previous.Interval : previous.Probes)})");
                }

                throw new SysctlPersistException(failure, [], live);
            }

            throw new SysctlPersistException(failure, restored, []);
        }
    }

    private TcpKeepaliveSetting ReadHere() => new(
        _sysctl.ReadInt(TimeKey),
        _sysctl.ReadInt(IntervalKey),
        _sysctl.ReadInt(ProbesKey),
        NetworkNamespace.Current());

    private void WriteAllOrNothing(IReadOnlyList<KeyValuePair<string, int>> assignments)
    {
        var previous = new Dictionary<string, int>();
        foreach (var (key, _) in assignments)
        {
            previous[key] = _sysctl.ReadInt(key);
        }

        var written = new List<string>();
        foreach (var (key, value) in assignments)
        {
            try
            {
                _sysctl.WriteInt(key, value);
                written.Add(key);
            }
            catch (KeepaliveException failure)
            {
                throw RollBack(failure, written, previous);
            }
        }
    }

    private SysctlWriteException RollBack(KeepaliveException failure, List<string> written, Dictionary<string, int> previous)
    {
        var restored = new List<string>();
        var notRestored = new List<string>();
        for (int i = written.Count - 1; i >= 0; i--)
        {
            string key = written[i];
            try
            {
                _sysctl.WriteInt(key, previous[key]);
                restored.Add($"{key} = {previous[key]}");
            }
            catch (KeepaliveException)
            {
                notRestored.Add($"{key} (should be {previous[key]})");
            }
        }

        return new SysctlWriteException(failure, restored, notRestored);
    }
}

/// <summary>A multi-value sysctl write that failed part way; the values already written were put back.</summary>
public sealed class SysctlWriteException : KeepaliveRollbackException
{
    public SysctlWriteException(KeepaliveException failure, IReadOnlyList<string> restored, IReadOnlyList<string> notRestored)
        : base(failure, restored, notRestored, "values already written", "; set them by hand")
    {
    }
}

/// <summary>Persisting failed after the values were written live; the live values were put back (or the message says which are not).</summary>
public sealed class SysctlPersistException : KeepaliveRollbackException
{
    public SysctlPersistException(KeepaliveException failure, IReadOnlyList<string> restored, IReadOnlyList<string> notRestored)
        : base(failure, restored, notRestored, "live values (nothing is changed)", "; the new values are live but not persisted")
    {
    }
}

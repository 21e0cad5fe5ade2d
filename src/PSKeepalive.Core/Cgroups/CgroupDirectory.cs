using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.Win32.SafeHandles;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Cgroups;

/// <summary>
/// An open cgroup v2 directory: checked with fstatfs to be on a cgroup2 file system (CGROUP2_SUPER_MAGIC), held
/// open (O_RDONLY | O_DIRECTORY) as the target of BPF attach and query. Found from a path or from a process.
/// </summary>
public sealed unsafe class CgroupDirectory : IDisposable
{
    public const string Subject = "Cgroup";

    /// <summary>CGROUP2_SUPER_MAGIC (include/uapi/linux/magic.h).</summary>
    internal const long Cgroup2Magic = 0x63677270;

    private const int StatFsBufferSize = 120;

    private CgroupDirectory(SafeFileHandle handle, string path, CgroupMount mount)
    {
        Handle = handle;
        Path = path;
        Mount = mount;
        CgroupPath = mount.CgroupPathOf(path);
        Id = FileStatus.InodeOf((int)handle.DangerousGetHandle());
    }

    /// <summary>The open directory (for BPF_PROG_ATTACH/QUERY and flock).</summary>
    public SafeFileHandle Handle { get; }

    /// <summary>The directory's absolute path ("/sys/fs/cgroup/system.slice/nginx.service").</summary>
    public string Path { get; }

    /// <summary>The cgroup's path as /proc/PID/cgroup names it ("/system.slice/nginx.service").</summary>
    public string CgroupPath { get; }

    /// <summary>The cgroup id (the directory's inode), as bpftool and bpf_get_current_cgroup_id report it.</summary>
    public ulong Id { get; }

    public CgroupMount Mount { get; }

    /// <summary>
    /// Opens the cgroup named by <paramref name="path"/>: a directory under the cgroup2 mount (absolute), a relative
    /// path (from <paramref name="baseDirectory"/> when that is inside the cgroup2 mount, as after
    /// cd /sys/fs/cgroup/system.slice; else from the mount: "system.slice/nginx.service"), or a cgroup path as
    /// /proc/PID/cgroup prints it ("/system.slice/nginx.service") when no directory of that name is a cgroup.
    /// </summary>
    public static CgroupDirectory Open(string path, string? baseDirectory = null)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new KeepaliveValidationException(Subject, "Cgroup", "Cgroup must name a cgroup v2 directory.", path);
        }

        CgroupMount mount = CgroupMount.Find();
        var candidates = new List<string>();
        if (!System.IO.Path.IsPathRooted(path))
        {
            bool inMount = baseDirectory is not null && mount.Contains(System.IO.Path.TrimEndingDirectorySeparator(baseDirectory));
            candidates.Add(System.IO.Path.Combine(inMount ? baseDirectory! : mount.MountPoint, path));
        }
        else
        {
            string full = System.IO.Path.GetFullPath(path);
            candidates.Add(full);
            if (!mount.Contains(full) && mount.DirectoryOf(full) is string underMount)
            {
                candidates.Add(underMount); // "/system.slice/x" as /proc/PID/cgroup and systemctl print it
            }
        }

        KeepaliveException? first = null;
        foreach (string candidate in candidates.Select(c => System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(c))).Distinct())
        {
            try
            {
                return OpenDirectory(candidate, mount);
            }
            catch (KeepaliveException e) when (e is KeepaliveNotFoundException or KeepaliveInvalidTargetException)
            {
                // An existing directory that is no cgroup says more than a missing one.
                if (first is null || (first is KeepaliveNotFoundException && e is KeepaliveInvalidTargetException))
                {
                    first = e;
                }
            }
        }

        throw first!;
    }

    /// <summary>Opens the cgroup that process <paramref name="pid"/> belongs to.</summary>
    public static CgroupDirectory OfProcess(int pid)
    {
        if (pid <= 0)
        {
            throw new KeepaliveValidationException(Subject, "ProcessId", string.Create(CultureInfo.InvariantCulture, $"ProcessId must be between 1 and {int.MaxValue}; {pid} is outside that range."), pid);
        }

        return OfCgroupPath(CgroupMount.OfProcess(pid), pid);
    }

    /// <summary>Opens the cgroup of the calling process (through /proc/self, so also right inside a PID namespace).</summary>
    public static CgroupDirectory OfThisProcess() => OfCgroupPath(CgroupMount.OfThisProcess(), Environment.ProcessId);

    private static CgroupDirectory OfCgroupPath(string cgroupPath, int pid)
    {
        CgroupMount mount = CgroupMount.Find();
        string directory = mount.DirectoryOf(cgroupPath) ?? throw new KeepaliveNotFoundException(
            Subject,
            $"Process {pid} is in cgroup {cgroupPath}, which the cgroup2 mount at {mount.MountPoint} (showing {mount.Root}) does not contain.",
            pid,
            Errno.ENOENT);
        return OpenDirectory(directory, mount);
    }

    private static CgroupDirectory OpenDirectory(string directory, CgroupMount mount)
    {
        int fd = Libc.Open(directory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Libc.LastErrno;
            if (errno == Errno.ENOTDIR)
            {
                throw new KeepaliveInvalidTargetException(Subject, $"'{directory}' is not a directory, so no cgroup; cgroup v2 is mounted at {mount.MountPoint}.", directory, errno);
            }

            if (errno == Errno.ENOENT)
            {
                throw new KeepaliveNotFoundException(Subject, $"The cgroup directory '{directory}' does not exist (cgroup v2 is mounted at {mount.MountPoint}).", directory, errno);
            }

            throw Errno.ToException(errno, Subject, $"open the cgroup directory {directory}", directory, "root");
        }

        var handle = new SafeFileHandle((IntPtr)fd, ownsHandle: true);
        try
        {
            long type = FileSystemType(fd, directory);
            if (type != Cgroup2Magic)
            {
                throw new KeepaliveInvalidTargetException(
                    Subject,
                    string.Create(CultureInfo.InvariantCulture, $"'{directory}' is not a cgroup v2 directory (its file system type is 0x{type:x}, not cgroup2's 0x{Cgroup2Magic:x}); cgroup v2 is mounted at {mount.MountPoint}."),
                    directory,
                    0);
            }

            return new CgroupDirectory(handle, directory, mount);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>statfs f_type (the first field of struct statfs on 64-bit Linux).</summary>
    internal static long FileSystemType(int fd, string path)
    {
        byte* buffer = stackalloc byte[StatFsBufferSize];
        if (Libc.FStatFs(fd, buffer) != 0)
        {
            throw Errno.Last(Subject, $"examine {path}", path);
        }

        return *(long*)buffer;
    }

    /// <summary>This cgroup's parent, or null for the top of the mount.</summary>
    public CgroupDirectory? OpenParent()
    {
        if (Path == Mount.MountPoint)
        {
            return null;
        }

        return OpenDirectory(System.IO.Path.GetDirectoryName(Path)!, Mount);
    }

    /// <summary>Processes in this cgroup (cgroup.procs), and with <paramref name="recursive"/> in its descendants too.</summary>
    public IReadOnlyList<int> Processes(bool recursive)
    {
        var pids = new List<int>();
        IEnumerable<string> directories = [Path];
        if (recursive)
        {
            directories = directories.Concat(Directory.EnumerateDirectories(Path, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint }));
        }

        foreach (string directory in directories)
        {
            try
            {
                foreach (string line in File.ReadLines(System.IO.Path.Combine(directory, "cgroup.procs")))
                {
                    if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                    {
                        pids.Add(pid);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A child cgroup removed during the walk.
            }
        }

        return pids;
    }

    public void Dispose() => Handle.Dispose();

    public override string ToString() => Path;
}

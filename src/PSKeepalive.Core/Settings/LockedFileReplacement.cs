using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Interop;

namespace PSKeepalive.Core.Settings;

/// <summary>
/// Read-change-replace of one file, safe against concurrent writers and crashes. The exclusive lock is flock(2)
/// on the directory that holds the file: the file itself is replaced by rename, so a lock on it would stay with
/// the old inode, and a sibling lock file would be left behind in /etc/sysctl.d. The new content goes to a
/// temporary file in the same directory with the old file's exact mode and owner (umask does not apply), is
/// fsynced and renamed over the file, and the directory is fsynced. Bytes are bytes: nothing is decoded.
/// </summary>
internal static class LockedFileReplacement
{
    /// <summary>How long a writer waits for another one (each holds the lock for milliseconds).</summary>
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A new file is world-readable, as sysctl.d files are (root's umask 077 must not make it 0600).</summary>
    private const uint NewFileMode = 0b110_100_100;

    /// <summary>
    /// Replaces <paramref name="path"/> (a regular file or none; links already followed) with
    /// <paramref name="change"/> applied to its current bytes (empty when it does not exist), under the lock.
    /// </summary>
    public static void UpdateUnderLock(string path, Func<byte[], byte[]> change, string subject)
    {
        string directory = Path.GetDirectoryName(path) ?? "/";
        GuardFileAccess(path, subject, () => Directory.CreateDirectory(directory));
        int lockFd = LockDirectory(directory, subject);
        try
        {
            byte[] existing = GuardFileAccess(path, subject, () => File.Exists(path) ? File.ReadAllBytes(path) : []);
            ReplaceAtomically(path, change(existing), subject);
        }
        finally
        {
            Libc.Close(lockFd); // releases the lock
        }
    }

    private static int LockDirectory(string directory, string subject)
    {
        int fd = Libc.Open(directory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw Errno.Last(subject, $"open {directory} to lock it", directory, "root");
        }

        var clock = Stopwatch.StartNew();
        while (Libc.Flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
        {
            int errno = Libc.LastErrno;
            if (errno != Errno.EAGAIN && errno != Errno.EINTR)
            {
                Libc.Close(fd);
                throw Errno.ToException(errno, subject, $"lock {directory}", directory);
            }

            if (clock.Elapsed > LockTimeout)
            {
                Libc.Close(fd);
                throw new KeepaliveTimeoutException(
                    subject,
                    $"Another writer has held the lock on {directory} for more than {LockTimeout.TotalSeconds:0} s (flock on the directory); nothing was written.",
                    directory);
            }

            Thread.Sleep(5);
        }

        return fd;
    }

    private static void ReplaceAtomically(string path, byte[] content, string subject)
    {
        string directory = Path.GetDirectoryName(path) ?? "/";
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        (uint Uid, uint Gid, uint Mode)? existing = FileStatus.OwnerAndMode(path);
        try
        {
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                int fd = (int)stream.SafeFileHandle.DangerousGetHandle();
                if (existing is { } old && Libc.FChown(fd, old.Uid, old.Gid) != 0)
                {
                    throw Errno.Last(subject, $"keep the owner {old.Uid}:{old.Gid} of {path}", path, "root");
                }

                if (Libc.FChmod(fd, existing?.Mode ?? NewFileMode) != 0)
                {
                    throw Errno.Last(subject, $"set the mode of {temporary}", path);
                }

                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            SyncDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KeepaliveException)
        {
            TryDelete(temporary);
            if (e is KeepaliveException)
            {
                throw;
            }

            throw FileError(e, path, subject);
        }
    }

    private static T GuardFileAccess<T>(string path, string subject, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw FileError(e, path, subject);
        }
    }

    private static KeepaliveException FileError(Exception e, string path, string subject) => e is UnauthorizedAccessException
        ? new KeepalivePermissionException(subject, $"Cannot write {path}: {e.Message} Persisting to {Path.GetDirectoryName(path)} needs root.", path, Errno.EACCES)
        : new KeepaliveKernelException(subject, $"Cannot write {path}: {e.Message}", path, 0, e);

    private static void SyncDirectory(string directory)
    {
        int fd = Libc.Open(directory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd >= 0)
        {
            Libc.FSync(fd);
            Libc.Close(fd);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the original error is the one worth reporting.
        }
    }
}

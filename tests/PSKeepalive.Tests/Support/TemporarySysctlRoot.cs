using System;
using System.IO;

namespace PSKeepalive.Tests.Support;

/// <summary>A directory laid out like /proc/sys with the three keepalive files, for tests of file-level failures.</summary>
public sealed class TemporarySysctlRoot : IDisposable
{
    public TemporarySysctlRoot(string time, string interval, string probes)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pskeepalive-sysctl-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Ipv4);
        File.WriteAllText(FileOf("tcp_keepalive_time"), time + "\n");
        File.WriteAllText(FileOf("tcp_keepalive_intvl"), interval + "\n");
        File.WriteAllText(FileOf("tcp_keepalive_probes"), probes + "\n");
    }

    public string Path { get; }

    public string Ipv4 => System.IO.Path.Combine(Path, "net", "ipv4");

    public string FileOf(string name) => System.IO.Path.Combine(Ipv4, name);

    public string Read(string name) => File.ReadAllText(FileOf(name)).Trim();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

namespace PSKeepalive.Core.Launch;

/// <summary>Where the preload shim sets the keepalive options (PSKEEPALIVE_MODE).</summary>
public enum PreloadMode
{
    /// <summary>Every TCP socket, when it is created (socket()).</summary>
    All,

    /// <summary>Sockets the program connects with, just before connect().</summary>
    Outgoing,

    /// <summary>Listening sockets, just before listen(); accepted connections inherit the options.</summary>
    Listening,
}

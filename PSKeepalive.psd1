@{
    RootModule           = 'PSKeepalive.dll'
    # Keep in step with <Version> in Directory.Build.props (a test checks it).
    ModuleVersion        = '0.1.0'
    GUID                 = '5b8f2c0e-3d4a-4e8b-9a51-7c1f0d6e2a94'
    Author               = 'PSKeepalive developers'
    CompanyName          = 'PSKeepalive'
    Copyright            = '(c) PSKeepalive developers. MIT License.'
    Description          = 'See and fix TCP keepalive on Linux: the keepalive sysctls, every TCP connection with its keepalive state and owners (netlink sock_diag), per-socket options, a real end-to-end keepalive self-test, and keepalive for programs that never asked for it.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('PSKeepalive.Format.ps1xml')
    # How output objects travel through remoting (nested records with their properties, enums as names). The types
    # file names enums of PSKeepalive.Core, which must be loaded before it is read: hence RequiredAssemblies.
    RequiredAssemblies   = @('PSKeepalive.Core.dll')
    TypesToProcess       = @('PSKeepalive.Types.ps1xml')
    CmdletsToExport      = @(
        'Get-TcpKeepaliveSetting'
        'Set-TcpKeepaliveSetting'
        'Start-KeepaliveProcess'
        'Get-TcpConnection'
        'Enable-TcpKeepalive'
        'Disable-TcpKeepalive'
        'Close-TcpConnection'
        'Get-SocketKeepalive'
        'Set-SocketKeepalive'
        'Test-TcpKeepalive'
        'Set-TcpKeepalivePolicy'
        'Get-TcpKeepalivePolicy'
        'Remove-TcpKeepalivePolicy'
        'Watch-TcpConnection'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Linux', 'PSEdition_Core', 'TCP', 'Keepalive', 'Networking', 'sysctl', 'netlink')
            LicenseUri   = 'https://github.com/pskeepalive/PSKeepalive/blob/main/LICENSE'
            ProjectUri   = 'https://github.com/pskeepalive/PSKeepalive'
            # The newest entry of CHANGELOG.md (a test keeps them in step).
            ReleaseNotes = @'
## 0.1.0 - 2026-11-22

- Keepalive settings: Get-/Set-TcpKeepaliveSetting and `pskeepalive settings`/`set` read and change
  net.ipv4.tcp_keepalive_time/_intvl/_probes, validated against the per-socket kernel limits, all or nothing
  with read-back and rollback, in any network namespace, persisted atomically to sysctl.d with a warning
  when a later file overrides them at boot.
- Connections: Get-TcpConnection and `pskeepalive connections` list every TCP socket over netlink sock_diag,
  streamed, with state, timer, keepalive state (NoKeepalive), tcp_info and owning processes; faster than
  `ss -tan`, and linear where `ss -tanp` is quadratic.
- Socket options and a real self-test: Get-/Set-SocketKeepalive for scripts' own sockets; Test-TcpKeepalive
  and `pskeepalive test` prove on the host, with a deaf loopback peer, when keepalive (or TCP_USER_TIMEOUT,
  or retransmission) ends a connection.
- Programs that never asked: Start-KeepaliveProcess and `pskeepalive run` launch a program under an
  LD_PRELOAD shim written in C, or, for static and Go programs, under a seccomp user-notification
  supervisor (`-Method Preload|Seccomp|Auto`).
- Programs already running: Enable-/Disable-TcpKeepalive and `pskeepalive enable`/`disable` change the
  sockets of running programs through pidfd_getfd; Get-TcpConnection -IncludeSocketOption reads their exact
  options; Close-TcpConnection and `pskeepalive close` destroy chosen connections (SOCK_DESTROY).
- PowerShell experience: platyPS help for every cmdlet and about_PSKeepalive, table views, tab completion
  for namespaces and process ids, stable error ids, remoting-safe output objects.
'@
        }
    }
}

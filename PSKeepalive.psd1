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
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Linux', 'PSEdition_Core', 'TCP', 'Keepalive', 'Networking', 'sysctl', 'netlink')
            LicenseUri   = 'https://github.com/pskeepalive/PSKeepalive/blob/main/LICENSE'
            ProjectUri   = 'https://github.com/pskeepalive/PSKeepalive'
            ReleaseNotes = 'See CHANGELOG.md.'
        }
    }
}

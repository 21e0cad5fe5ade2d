BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
}

Describe 'Get-TcpKeepaliveSetting' {
    It 'returns the values of /proc/sys' {
        $setting = Get-TcpKeepaliveSetting
        $setting.Time | Should -Be ([int](Get-Content /proc/sys/net/ipv4/tcp_keepalive_time))
        $setting.Interval | Should -Be ([int](Get-Content /proc/sys/net/ipv4/tcp_keepalive_intvl))
        $setting.Probes | Should -Be ([int](Get-Content /proc/sys/net/ipv4/tcp_keepalive_probes))
        $setting.DeadPeerDetectionSeconds | Should -Be ($setting.Time + $setting.Interval * $setting.Probes)
        $setting.NetworkNamespace | Should -Match '^net:\[\d+\]$'
    }

    It 'is a typed object with a table view' {
        $setting = Get-TcpKeepaliveSetting
        $setting | Should -BeOfType ([PSKeepalive.Core.Settings.TcpKeepaliveSetting])
        ($setting | Format-Table | Out-String -Width 120) | Should -Match 'DeadPeerDetection'
    }

    It 'refuses a setting read on another computer instead of reading this one''s namespace of the same name' {
        $remote = Get-TcpKeepaliveSetting | Add-Member -NotePropertyName PSComputerName -NotePropertyValue 'web1' -PassThru
        { $remote | Get-TcpKeepaliveSetting -ErrorAction Stop } |
            Should -Throw -ErrorId 'NetworkNamespaceInvalidTarget,PSKeepalive.Commands.GetTcpKeepaliveSettingCommand' -ExpectedMessage '*web1*'
    }

    # Only where PID 1 refuses root (some containers): the message must not ask for root, which the caller has.
    It 'says what is really missing when /proc/1/ns/net is denied to root' -Skip:(-not $Pid1DeniesRoot) {
        Get-TcpKeepaliveSetting -NetworkNamespace /proc/1/ns/net -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'NetworkNamespacePermissionDenied,PSKeepalive.Commands.GetTcpKeepaliveSettingCommand'
        $err[0].Exception.Message | Should -Not -BeLike '*This needs root.*'
        $err[0].Exception.Message | Should -BeLike '*ptrace*although this process runs as root*'
    }

    # Root and ip: a throw-away namespace from `ip netns add` (its sysctl is written there, never on the host).
    It 'reads another namespace' -Skip:(-not ($IsRoot -and $HasIpNetns)) {
        $ns = New-TestNetworkNamespace
        try {
            & ip netns exec (Split-Path -Leaf $ns) sh -c 'echo 123 > /proc/sys/net/ipv4/tcp_keepalive_time'
            (Get-TcpKeepaliveSetting -NetworkNamespace $ns).Time | Should -Be 123
            (Get-TcpKeepaliveSetting).Time | Should -Not -Be 123
        }
        finally { Remove-TestNetworkNamespace $ns }
    }

    # Root and ip: a named namespace from `ip netns add` to complete.
    It 'completes -NetworkNamespace with the namespaces under /run/netns' -Skip:(-not ($IsRoot -and $HasIpNetns)) {
        $ns = New-TestNetworkNamespace
        try {
            $line = "Get-TcpKeepaliveSetting -NetworkNamespace $(Split-Path -Parent $ns)/pskeepalive-pester"
            $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches
            $completions.CompletionText | Should -Contain $ns
        }
        finally { Remove-TestNetworkNamespace $ns }
    }

    It 'reports a path that is no namespace with a specific error id' {
        { Get-TcpKeepaliveSetting -NetworkNamespace /etc/hostname -ErrorAction Stop } |
            Should -Throw -ErrorId 'NetworkNamespaceInvalidTarget,PSKeepalive.Commands.GetTcpKeepaliveSettingCommand'
    }
}

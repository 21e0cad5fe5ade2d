BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
}

Describe 'Set-TcpKeepaliveSetting' {
    Context 'validation' {
        It 'refuses <Name> = <Value> before writing anything' -TestCases @(
            @{ Name = 'Time'; Value = 0 }
            @{ Name = 'Time'; Value = 32768 }
            @{ Name = 'Interval'; Value = 0 }
            @{ Name = 'Probes'; Value = 128 }
        ) {
            $before = Get-HostKeepaliveSysctl
            $splat = @{ $Name = $Value }
            { Set-TcpKeepaliveSetting @splat -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,PSKeepalive.Commands.SetTcpKeepaliveSettingCommand'
            Get-HostKeepaliveSysctl | Should -Be $before
        }

        It 'takes the socket words too: -Idle for -Time, -Count (and -ProbeCount) for -Probes' {
            $before = Get-HostKeepaliveSysctl
            Set-TcpKeepaliveSetting -Idle 600 -Count 5 -WhatIf
            Set-TcpKeepaliveSetting -ProbeCount 5 -WhatIf
            $command = Get-Command -Name 'Set-TcpKeepaliveSetting'
            $command.Parameters['Time'].Aliases | Should -Contain 'Idle'
            $command.Parameters['Probes'].Aliases | Should -Contain 'Count'
            Get-HostKeepaliveSysctl | Should -Be $before
        }

        It 'supports -WhatIf and changes nothing' {
            $before = Get-HostKeepaliveSysctl
            Set-TcpKeepaliveSetting -Time 1234 -WhatIf
            Get-HostKeepaliveSysctl | Should -Be $before
        }
    }

    # Root and ip: writes go to a throw-away namespace from `ip netns add`, never to the host.
    Context 'in a private network namespace' -Skip:(-not ($IsRoot -and $HasIpNetns)) {
        BeforeEach { $script:ns = New-TestNetworkNamespace }
        AfterEach { Remove-TestNetworkNamespace $script:ns }

        It 'changes the values there and not on the host' {
            $hostValues = Get-HostKeepaliveSysctl
            $result = Set-TcpKeepaliveSetting -Time 600 -Interval 30 -Probes 5 -NetworkNamespace $script:ns -PassThru
            $result.Time | Should -Be 600
            $result.DeadPeerDetectionSeconds | Should -Be 750
            (Get-TcpKeepaliveSetting -NetworkNamespace $script:ns).Probes | Should -Be 5
            Get-HostKeepaliveSysctl | Should -Be $hostValues
        }

        It 'takes Time, Interval and Probes from a piped setting (another namespace''s, or another host''s)' {
            $source = Set-TcpKeepaliveSetting -Time 700 -Interval 20 -Probes 4 -NetworkNamespace $script:ns -PassThru
            $target = New-TestNetworkNamespace
            try {
                $result = $source | Set-TcpKeepaliveSetting -NetworkNamespace $target -PassThru
                $result.Time | Should -Be 700
                $result.Interval | Should -Be 20
                $result.Probes | Should -Be 4
                $result.NetworkNamespace | Should -Not -Be $source.NetworkNamespace
            }
            finally { Remove-TestNetworkNamespace $target }
        }

        It 'writes -Idle and -Count as Time and Probes' {
            $result = Set-TcpKeepaliveSetting -Idle 601 -Count 6 -NetworkNamespace $script:ns -PassThru
            $result.Time | Should -Be 601
            $result.Probes | Should -Be 6
        }

        It 'persists to a file and keeps foreign lines' {
            $file = Join-Path ([IO.Path]::GetTempPath()) "pskeepalive-pester-$([guid]::NewGuid()).conf"
            try {
                Set-Content -Path $file -Value 'vm.swappiness = 10'
                Set-TcpKeepaliveSetting -Time 600 -NetworkNamespace $script:ns -Persist -PersistPath $file -WarningVariable warnings -WarningAction SilentlyContinue
                Get-Content $file | Should -Contain 'vm.swappiness = 10'
                Get-Content $file | Should -Contain 'net.ipv4.tcp_keepalive_time = 600'
                $warnings | Should -Match 'not read at boot'
            }
            finally { Remove-Item $file -ErrorAction SilentlyContinue }
        }
    }

    # Only an unprivileged caller is refused; as root the write would reach the host's sysctl, so it is not run.
    It 'reports missing privilege with SysctlPermissionDenied' -Skip:$IsRoot {
        { Set-TcpKeepaliveSetting -Time 600 -ErrorAction Stop } |
            Should -Throw -ErrorId 'SysctlPermissionDenied,PSKeepalive.Commands.SetTcpKeepaliveSettingCommand'
    }
}

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

        It 'persists when -PersistPath is given without -Persist' {
            $file = Join-Path ([IO.Path]::GetTempPath()) "pskeepalive-pester-$([guid]::NewGuid()).conf"
            try {
                Set-TcpKeepaliveSetting -Time 602 -NetworkNamespace $script:ns -PersistPath $file -WarningAction SilentlyContinue
                Get-Content $file | Should -Contain 'net.ipv4.tcp_keepalive_time = 602'
            }
            finally { Remove-Item $file -ErrorAction SilentlyContinue }
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

    # Get-X | Set-X changes the object it got: the piped setting's own namespace, never the caller's. Every pipeline
    # that names no -NetworkNamespace runs in a child pwsh inside a throw-away namespace ($outer), so that even a
    # regression could only write there: the host's sysctls are never at risk.
    Context 'piped settings' -Skip:(-not ($IsRoot -and $HasIpNetns)) {
        BeforeEach {
            $script:inner = New-TestNetworkNamespace
            $script:outer = New-TestNetworkNamespace
            $script:innerName = (Get-TcpKeepaliveSetting -NetworkNamespace $script:inner).NetworkNamespace
        }

        AfterEach {
            Remove-TestNetworkNamespace $script:inner
            Remove-TestNetworkNamespace $script:outer
        }

        It 'changes the namespace the setting came from, not the caller''s' {
            $hostValues = Get-HostKeepaliveSysctl
            $child = Invoke-ModuleInChildPwsh -NetworkNamespace $script:outer -Script "Get-TcpKeepaliveSetting -NetworkNamespace '$script:inner' | Set-TcpKeepaliveSetting -Time 999 -ErrorAction Stop"
            $child.ExitCode | Should -Be 0 -Because $child.Error
            (Get-TcpKeepaliveSetting -NetworkNamespace $script:inner).Time | Should -Be 999
            (Get-TcpKeepaliveSetting -NetworkNamespace $script:outer).Time | Should -Be 7200
            Get-HostKeepaliveSysctl | Should -Be $hostValues
        }

        It 'names that namespace as the target with -WhatIf' {
            $child = Invoke-ModuleInChildPwsh -NetworkNamespace $script:outer -Script "Get-TcpKeepaliveSetting -NetworkNamespace '$script:inner' | Set-TcpKeepaliveSetting -Time 999 -WhatIf"
            $child.ExitCode | Should -Be 0 -Because $child.Error
            $child.Output | Should -Match ([regex]::Escape("on target ""network namespace $script:innerName"""))
            $child.Output | Should -Not -BeLike '*this network namespace*'
            (Get-TcpKeepaliveSetting -NetworkNamespace $script:inner).Time | Should -Be 7200
        }

        It 'restores a saved setting where it was read; typed values override only what they name' {
            Set-TcpKeepaliveSetting -NetworkNamespace $script:inner -Time 100 -Interval 10 -Probes 2
            $child = Invoke-ModuleInChildPwsh -NetworkNamespace $script:outer -Script (
                "`$saved = Get-TcpKeepaliveSetting -NetworkNamespace '$script:inner'; " +
                "Set-TcpKeepaliveSetting -NetworkNamespace '$script:inner' -Time 300 -Interval 30 -Probes 3; " +
                "`$saved | Set-TcpKeepaliveSetting -Probes 7 -ErrorAction Stop")
            $child.ExitCode | Should -Be 0 -Because $child.Error
            $now = Get-TcpKeepaliveSetting -NetworkNamespace $script:inner
            $now.Time, $now.Interval, $now.Probes | Should -Be 100, 10, 7
            $outerNow = Get-TcpKeepaliveSetting -NetworkNamespace $script:outer
            $outerNow.Time, $outerNow.Interval, $outerNow.Probes | Should -Be 7200, 75, 9
        }

        It 'copies a setting only to an explicit -NetworkNamespace, typed values overriding' {
            Set-TcpKeepaliveSetting -NetworkNamespace $script:inner -Time 100 -Interval 10 -Probes 2
            $copy = Get-TcpKeepaliveSetting -NetworkNamespace $script:inner | Set-TcpKeepaliveSetting -NetworkNamespace $script:outer -Probes 4 -PassThru
            $copy.Time, $copy.Interval, $copy.Probes | Should -Be 100, 10, 4
            $copy.NetworkNamespace | Should -Not -Be $script:innerName
            (Get-TcpKeepaliveSetting -NetworkNamespace $script:inner).Probes | Should -Be 2
        }

        It 'copies a setting from another computer with -NetworkNamespace' {
            $remote = [pscustomobject]@{ Time = 111; Interval = 11; Probes = 3; NetworkNamespace = 'net:[4026531840]'; PSComputerName = 'web1' }
            $copy = $remote | Set-TcpKeepaliveSetting -NetworkNamespace $script:inner -PassThru
            $copy.Time, $copy.Interval, $copy.Probes | Should -Be 111, 11, 3
        }
    }

    Context 'objects that are no setting of this computer' {
        It 'refuses a setting from another computer unless -NetworkNamespace says where to copy it' {
            # As Invoke-Command -HostName web1 { Get-TcpKeepaliveSetting } returns it: its namespace is web1's.
            $remote = Get-TcpKeepaliveSetting | Add-Member -NotePropertyName PSComputerName -NotePropertyValue 'web1' -PassThru
            { $remote | Set-TcpKeepaliveSetting -Time 999 -WhatIf -ErrorAction Stop } |
                Should -Throw -ErrorId 'NetworkNamespaceInvalidTarget,PSKeepalive.Commands.SetTcpKeepaliveSettingCommand' -ExpectedMessage '*web1*-NetworkNamespace*'
        }

        It 'refuses a piped object that carries no Time, Interval and Probes' {
            { [pscustomobject]@{ Interval = 30 } | Set-TcpKeepaliveSetting -WhatIf -ErrorAction Stop } |
                Should -Throw -ErrorId 'SysctlInvalidArgument,PSKeepalive.Commands.SetTcpKeepaliveSettingCommand' -ExpectedMessage '*Time*Probes*'
        }

        It 'binds no value by property name: a piped connection''s Idle or Interval never becomes a sysctl' {
            $command = Get-Command -Name 'Set-TcpKeepaliveSetting'
            foreach ($name in 'Time', 'Interval', 'Probes', 'NetworkNamespace') {
                $command.Parameters[$name].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] }).ValueFromPipelineByPropertyName |
                    Should -Not -Contain $true
            }
            $command.Parameters['InputObject'].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] })[0].ValueFromPipeline |
                Should -BeTrue
        }
    }

    # Only an unprivileged caller is refused; as root the write would reach the host's sysctl, so it is not run.
    It 'reports missing privilege with SysctlPermissionDenied' -Skip:$IsRoot {
        { Set-TcpKeepaliveSetting -Time 600 -ErrorAction Stop } |
            Should -Throw -ErrorId 'SysctlPermissionDenied,PSKeepalive.Commands.SetTcpKeepaliveSettingCommand'
    }
}

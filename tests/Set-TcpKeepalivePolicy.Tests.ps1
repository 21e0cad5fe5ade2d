BeforeDiscovery {
    . $PSScriptRoot/common.ps1
    . $PSScriptRoot/cgroup.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    . $PSScriptRoot/cgroup.ps1
}

Describe 'Set-TcpKeepalivePolicy' {
    Context 'Metadata' {
        BeforeAll { $command = Get-Command Set-TcpKeepalivePolicy }

        It 'supports -WhatIf and -Confirm' {
            $command.Parameters.Keys | Should -Contain 'WhatIf'
            $command.Parameters.Keys | Should -Contain 'Confirm'
        }

        It 'has the Cgroup (default) and Process parameter sets' {
            $command.DefaultParameterSet | Should -Be 'Cgroup'
            $command.ParameterSets.Name | Should -Contain 'Process'
        }

        It 'binds Get-Process output through the Id alias of -ProcessId' {
            $command.Parameters['ProcessId'].Aliases | Should -Contain 'Id'
        }

        It 'takes -Cgroup by position and by property name' {
            $attribute = $command.Parameters['Cgroup'].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] })[0]
            $attribute.Position | Should -Be 0
            $attribute.ValueFromPipelineByPropertyName | Should -BeTrue
        }

        It 'refuses -<Name> <Value> before touching anything' -TestCases @(
            @{ Name = 'Idle'; Value = 0 }
            @{ Name = 'Interval'; Value = 32768 }
            @{ Name = 'Count'; Value = 128 }
            @{ Name = 'UserTimeout'; Value = -1 }
        ) {
            $splat = @{ $Name = $Value }
            { Set-TcpKeepalivePolicy -Cgroup / @splat -ErrorAction Stop } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,PSKeepalive.Commands.SetTcpKeepalivePolicyCommand'
        }

        It 'offers the three modes' {
            $command.Parameters['Mode'].ParameterType.GetEnumNames() | Should -Be @('All', 'Outgoing', 'Listening')
        }
    }

    # Root and cgroup2: the policy is a BPF program attached to a throw-away cgroup; python3 makes the connections.
    Context 'On a throw-away cgroup' -Skip:(-not $CanSetPolicy) {
        BeforeEach { $script:cgroup = New-TestCgroup }
        AfterEach { Remove-TestCgroup $script:cgroup }

        It 'gives both ends of a connection made inside the values, and -PassThru reads them back' {
            $policy = Set-TcpKeepalivePolicy -Cgroup $script:cgroup -Idle 61 -Interval 11 -Count 7 -PassThru
            $policy.GetType().FullName | Should -Be 'PSKeepalive.Core.Policy.TcpKeepalivePolicy'
            $policy.Idle | Should -Be 61
            $policy.UserTimeout | Should -BeNullOrEmpty
            $policy.Mode | Should -Be 'All'
            $probe = Invoke-PairProbe $script:cgroup
            $probe['outgoing'].so_keepalive | Should -Be 1
            $probe['outgoing'].idle | Should -Be 61
            $probe['accepted'].idle | Should -Be 61
        }

        It 'attaches nothing with -WhatIf' {
            Set-TcpKeepalivePolicy -Cgroup $script:cgroup -Idle 61 -WhatIf
            Get-TcpKeepalivePolicy -Cgroup $script:cgroup | Should -BeNullOrEmpty
            (Invoke-PairProbe $script:cgroup)['outgoing'].so_keepalive | Should -Be 0
        }

        It 'reaches the cgroup of piped processes once, however many of them share it' {
            $sleepers = 1..2 | ForEach-Object { Start-InCgroup $script:cgroup @('sleep', '30') }
            try {
                $deadline = [DateTime]::UtcNow.AddSeconds(10)
                while ((Get-Content (Join-Path $script:cgroup 'cgroup.procs')).Count -lt 2 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 10 }
                $policies = $sleepers | ForEach-Object { Get-Process -Id $_.Id } | Set-TcpKeepalivePolicy -Idle 62 -Mode Outgoing -PassThru
                @($policies).Count | Should -Be 1
                $policies.Cgroup | Should -Be $script:cgroup
                $probe = Invoke-PairProbe $script:cgroup
                $probe['outgoing'].idle | Should -Be 62
                $probe['accepted'].so_keepalive | Should -Be 0
            }
            finally { $sleepers | ForEach-Object { if (-not $_.HasExited) { $_.Kill() } } }
        }

        It 'replaces the policy there, keeping one' {
            $first = Set-TcpKeepalivePolicy $script:cgroup -Idle 63 -PassThru
            $second = Set-TcpKeepalivePolicy $script:cgroup -Idle 64 -PassThru
            $second.ProgramId | Should -Not -Be $first.ProgramId
            @(Get-TcpKeepalivePolicy -Cgroup $script:cgroup).Count | Should -Be 1
            (Invoke-PairProbe $script:cgroup)['outgoing'].idle | Should -Be 64
        }

        It 'shows the policy in its table view' {
            $text = Set-TcpKeepalivePolicy $script:cgroup -Idle 65 -PassThru | Format-Table | Out-String -Width 120
            $text | Should -Match 'Idle\(s\)'
            $text | Should -Match 'system'
            $text | Should -Match ([regex]::Escape((Split-Path $script:cgroup -Leaf)))
        }
    }

    # Root and a cgroup2 mount: the errors come after the cgroup2 mount is found.
    Context 'Errors' -Skip:(-not $CanSetPolicy) {
        It 'names a path that is no cgroup (<Path>)' -TestCases @(@{ Path = '/proc' }) {
            { Set-TcpKeepalivePolicy -Cgroup $Path -Idle 60 -ErrorAction Stop } |
                Should -Throw -ErrorId 'CgroupInvalidTarget,PSKeepalive.Commands.SetTcpKeepalivePolicyCommand'
        }

        # ip netns exec mounts a fresh /sys without the cgroup file systems: an admin's usual way into a namespace.
        It 'inside ip netns exec, says the cgroup2 mount is missing there, not that the host is cgroup v1 only' -Skip:(-not $HasIpNetns) {
            $namespace = New-TestNetworkNamespace
            try {
                $child = Invoke-ModuleInChildPwsh "try { Set-TcpKeepalivePolicy -Cgroup / -Idle 60 } catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message }" -NetworkNamespace $namespace
                $child.Output | Should -Match 'CgroupNotSupported'
                $child.Output | Should -Not -Match 'cgroup v1 only'
                $child.Output | Should -Match 'ip netns exec'
            }
            finally { Remove-TestNetworkNamespace $namespace }
        }

        It 'names a missing cgroup' {
            { Set-TcpKeepalivePolicy -Cgroup pskeepalive-pester-no-such-cgroup -Idle 60 -ErrorAction Stop } |
                Should -Throw -ErrorId 'CgroupNotFound,PSKeepalive.Commands.SetTcpKeepalivePolicyCommand'
        }
    }
}

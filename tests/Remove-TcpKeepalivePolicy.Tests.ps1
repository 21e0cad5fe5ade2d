BeforeDiscovery {
    . $PSScriptRoot/common.ps1
    . $PSScriptRoot/cgroup.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    . $PSScriptRoot/cgroup.ps1
}

Describe 'Remove-TcpKeepalivePolicy' {
    Context 'Metadata' {
        BeforeAll { $command = Get-Command Remove-TcpKeepalivePolicy }

        It 'supports -WhatIf and -Confirm' {
            $command.Parameters.Keys | Should -Contain 'WhatIf'
            $command.Parameters.Keys | Should -Contain 'Confirm'
        }

        It 'binds Get-Process output through the Id alias of -ProcessId' {
            $command.Parameters['ProcessId'].Aliases | Should -Contain 'Id'
        }
    }

    # Root, a cgroup2 mount and python3: policies are BPF programs on throw-away cgroups.
    Context 'On a throw-away cgroup' -Skip:(-not $CanSetPolicy) {
        BeforeEach {
            $script:cgroup = New-TestCgroup
            Set-TcpKeepalivePolicy -Cgroup $script:cgroup -Idle 66
        }

        AfterEach { Remove-TestCgroup $script:cgroup }

        It 'keeps the policy with -WhatIf' {
            Remove-TcpKeepalivePolicy -Cgroup $script:cgroup -WhatIf
            (Get-TcpKeepalivePolicy -Cgroup $script:cgroup).Idle | Should -Be 66
        }

        It 'removes what Get-TcpKeepalivePolicy pipes, and connections made after get nothing' {
            $removed = Get-TcpKeepalivePolicy -Cgroup $script:cgroup | Remove-TcpKeepalivePolicy -PassThru
            $removed.Idle | Should -Be 66
            Get-TcpKeepalivePolicy -Cgroup $script:cgroup | Should -BeNullOrEmpty
            (Invoke-PairProbe $script:cgroup)['outgoing'].so_keepalive | Should -Be 0
        }

        It 'says so when there is no policy to remove' {
            Remove-TcpKeepalivePolicy -Cgroup $script:cgroup
            { Remove-TcpKeepalivePolicy -Cgroup $script:cgroup -ErrorAction Stop } |
                Should -Throw -ErrorId 'KeepalivePolicyNotFound,PSKeepalive.Commands.RemoveTcpKeepalivePolicyCommand'
        }
    }
}

BeforeDiscovery {
    . $PSScriptRoot/common.ps1
    . $PSScriptRoot/cgroup.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    . $PSScriptRoot/cgroup.ps1
}

Describe 'Get-TcpKeepalivePolicy' {
    Context 'Metadata' {
        BeforeAll { $command = Get-Command Get-TcpKeepalivePolicy }

        It 'changes nothing, so offers no -WhatIf' {
            $command.Parameters.Keys | Should -Not -Contain 'WhatIf'
        }

        It 'lists every policy by default, one cgroup with -Cgroup or -ProcessId' {
            $command.DefaultParameterSet | Should -Be 'All'
            $command.ParameterSets.Name | Should -Contain 'Cgroup'
            $command.ParameterSets.Name | Should -Contain 'Process'
        }

        It 'declares its output type' {
            $command.OutputType.Name | Should -Contain 'PSKeepalive.Core.Policy.TcpKeepalivePolicy'
        }
    }

    # Root, a cgroup2 mount and python3: policies are BPF programs on throw-away cgroups.
    Context 'With policies on throw-away cgroups' -Skip:(-not $CanSetPolicy) {
        BeforeAll {
            $script:parent = New-TestCgroup
            $script:child = New-TestCgroup $script:parent
            Set-TcpKeepalivePolicy -Cgroup $script:parent -Idle 100 -Force
            Set-TcpKeepalivePolicy -Cgroup $script:child -Interval 9 -UserTimeout 0 -Mode Listening
        }

        AfterAll { Remove-TestCgroup $script:parent }

        It 'lists both among every policy on the host' {
            $mine = Get-TcpKeepalivePolicy | Where-Object Cgroup -Like "$script:parent*"
            @($mine).Count | Should -Be 2
        }

        It 'reads the exact values of one cgroup back from the kernel' {
            $policy = Get-TcpKeepalivePolicy -Cgroup $script:child
            $policy.Idle | Should -BeNullOrEmpty
            $policy.Interval | Should -Be 9
            $policy.UserTimeout | Should -Be 0
            $policy.Mode | Should -Be 'Listening'
            $policy.Force | Should -BeFalse
            $policy.ProgramId | Should -BeGreaterThan 0
            $policy.LoadedAt | Should -BeOfType [datetime]
        }

        It 'takes a policy object back by its Cgroup property' {
            $again = Get-TcpKeepalivePolicy -Cgroup $script:parent | Get-TcpKeepalivePolicy
            $again.Idle | Should -Be 100
            $again.Force | Should -BeTrue
        }

        It 'finds a cgroup by its cgroup path, as /proc/PID/cgroup prints it' {
            $cgroupPath = '/' + [IO.Path]::GetRelativePath($script:CgroupMount, $script:child)
            (Get-TcpKeepalivePolicy -Cgroup $cgroupPath).Cgroup | Should -Be $script:child
        }

        It 'reaches the cgroup of a piped process' {
            $sleeper = Start-InCgroup $script:child @('sleep', '30')
            try {
                $deadline = [DateTime]::UtcNow.AddSeconds(10)
                while (-not (Get-Content (Join-Path $script:child 'cgroup.procs')) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 10 }
                (Get-Process -Id $sleeper.Id | Get-TcpKeepalivePolicy).Interval | Should -Be 9
            }
            finally { if (-not $sleeper.HasExited) { $sleeper.Kill() } }
        }

        It 'converts to JSON with its values' {
            $json = Get-TcpKeepalivePolicy -Cgroup $script:child | ConvertTo-Json | ConvertFrom-Json
            $json.Interval | Should -Be 9
            $json.Cgroup | Should -Be $script:child
        }
    }

    # Root and a cgroup2 mount: the errors come after the cgroup2 mount is found.
    Context 'Errors' -Skip:(-not $CanSetPolicy) {
        It 'names a missing cgroup' {
            { Get-TcpKeepalivePolicy -Cgroup pskeepalive-pester-no-such-cgroup -ErrorAction Stop } |
                Should -Throw -ErrorId 'CgroupNotFound,PSKeepalive.Commands.GetTcpKeepalivePolicyCommand'
        }
    }
}

BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
}

Describe 'Test-TcpKeepalive' {
    # A deaf peer needs SO_ATTACH_FILTER, which this kernel refuses to unprivileged users (root always may).
    Context 'against the kernel' -Skip:(-not $CanMakeDeafPeer) {
        It 'detects a silent peer after Idle + Interval x Count with the defaults (1/1/3)' {
            $result = Test-TcpKeepalive
            $result | Should -BeOfType ([PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult])
            $result.Passed | Should -BeTrue -Because $result.Message
            $result.Error | Should -Be 'ETIMEDOUT'
            $result.ProbesSent | Should -Be 3
            $result.ExpectedDetection | Should -Be ([timespan]::FromSeconds(4))
            $result.MeasuredDetection.TotalSeconds | Should -BeGreaterOrEqual 3.5
            $result.MeasuredDetection.TotalSeconds | Should -BeLessOrEqual 5.0
            $result.Mechanism | Should -Be 'Keepalive'
        }

        It 'times each probe against the schedule: 1, 2 and 3 s after the last data' {
            $result = Test-TcpKeepalive
            $result.Passed | Should -BeTrue -Because $result.Message
            $result.ProbeTimes | Should -HaveCount 3
            $result.ExpectedProbeTimes | Should -Be @(1, 2, 3)
            # Timers never fire early, but a probe's time is read in jiffies from a sample whose clock is read before the
            # kernel answers: 50 ms early is on time (as the cmdlet itself judges). The timer wheel may round each 1 s
            # step up (32 ms at HZ=250), the tolerance is 0.375 s a step.
            for ($k = 0; $k -lt 3; $k++) {
                $result.ProbeTimes[$k] | Should -BeGreaterOrEqual ($k + 1 - 0.05)
                $result.ProbeTimes[$k] | Should -BeLessOrEqual ($k + 1 + 0.375 * ($k + 1))
            }
            $result.LateProbes | Should -HaveCount 0
            $result.MissingProbes | Should -HaveCount 0
            $result.TimelineResolution.TotalMilliseconds | Should -BeLessOrEqual 10
            $result.Timeline | Should -Match '^\d\.\d\d \d\.\d\d \d\.\d\d \| reset \d\.\d\d$'
            $result.Message | Should -Match 'went out on schedule'
        }

        It 'follows -Idle 2 -Interval 1 -Count 2 over IPv6' {
            $result = Test-TcpKeepalive -Idle 2 -Interval 1 -Count 2 -IPv6
            $result.Passed | Should -BeTrue -Because $result.Message
            $result.Address | Should -Be '::1'
            $result.ProbesSent | Should -Be 2
            $result.ProbeCount | Should -Be 2
            $result.Count | Should -Be 1
        }

        It 'shows that keepalive does not fire with data in flight, and TCP_USER_TIMEOUT decides' {
            $result = Test-TcpKeepalive -WithDataInFlight -UserTimeout 1500
            $result.Passed | Should -BeTrue -Because $result.Message
            $result.Mechanism | Should -Be 'UserTimeout'
            $result.ProbesSent | Should -Be 0
            $result.Retransmissions | Should -BeGreaterThan 0
            $result.MeasuredDetection.TotalSeconds | Should -BeLessThan 3.5
            $result.Message | Should -Match 'did not fire'
        }

        It 'runs Example 5 of its help, checks in parallel runspaces, as written' {
            # The module is imported by path here, as README says: a -Parallel runspace does not find it by name.
            $example = @((Get-Help Test-TcpKeepalive).examples.example)[4]
            $example.title | Should -BeLike '*several checks at once*'
            $code = ($example.code -split '\r?\n' | ForEach-Object { $_ -replace '^PS> ', '' }) -join "`n"
            $text = & ([scriptblock]::Create($code)) 2>&1 | Out-String -Width 120
            $text | Should -Not -Match 'not recognized'
            @([regex]::Matches($text, '(?m)^\s*True\s')).Count | Should -Be 3 -Because $text
        }

        It 'has a table view' {
            $table = Test-TcpKeepalive -Count 1 | Format-Table | Out-String -Width 120
            $table | Should -Match 'Mechanism'
            $table | Should -Match 'Timeline'
            $table | Should -Match '\d\.\d\d \| reset \d\.\d\d'
        }
    }

    It 'takes the sysctl words too: -Time for -Idle, -Probes (and -ProbeCount) for -Count' {
        $command = Get-Command Test-TcpKeepalive
        $command.Parameters['Idle'].Aliases | Should -Contain 'Time'
        $command.Parameters['Count'].Aliases | Should -Contain 'Probes'
        $command.Parameters['Count'].Aliases | Should -Contain 'ProbeCount'
    }

    # Where the kernel refuses socket filters to this user: the missing privilege, named.
    It 'names the missing privilege where the kernel refuses it a deaf peer' -Skip:$CanMakeDeafPeer {
        $thrown = { Test-TcpKeepalive -Count 1 -ErrorAction Stop } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -BeLike '*PermissionDenied,PSKeepalive.Commands.TestTcpKeepaliveCommand'
        $thrown.Exception.Message | Should -BeLike '*SO_ATTACH_FILTER*root or CAP_NET_ADMIN*'
    }

    It 'refuses -WithDataInFlight without -UserTimeout when the timeout is too short, naming the duration' {
        $thrown = { Test-TcpKeepalive -WithDataInFlight -ErrorAction Stop } |
            Should -Throw -ErrorId 'KeepaliveTestInvalidArgument,PSKeepalive.Commands.TestTcpKeepaliveCommand' -PassThru
        $thrown.Exception.Message | Should -Match 'tcp_retries2'
        $thrown.Exception.Message | Should -Match 'at least \d+ seconds'
    }

    It 'does not mix -UseSystemSettings with explicit values' {
        { Test-TcpKeepalive -UseSystemSettings -Idle 5 -ErrorAction Stop } | Should -Throw -ErrorId 'AmbiguousParameterSet,PSKeepalive.Commands.TestTcpKeepaliveCommand'
    }

    It 'refuses <Name> = <Value>' -TestCases @(
        @{ Name = 'Idle'; Value = 0 }
        @{ Name = 'Interval'; Value = 32768 }
        @{ Name = 'Count'; Value = 128 }
        @{ Name = 'UserTimeout'; Value = -1 }
        @{ Name = 'Timeout'; Value = 0 }
    ) {
        $splat = @{ $Name = $Value }
        { Test-TcpKeepalive @splat -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,PSKeepalive.Commands.TestTcpKeepaliveCommand'
    }

    # Root and ip: the namespace's sysctls are set in a throw-away namespace from `ip netns add`.
    Context 'in a private network namespace' -Skip:(-not ($IsRoot -and $HasIpNetns)) {
        BeforeAll {
            $ns = New-TestNetworkNamespace
            $name = Split-Path -Leaf $ns
            & ip netns exec $name sh -c 'echo 1 > /proc/sys/net/ipv4/tcp_keepalive_time; echo 1 > /proc/sys/net/ipv4/tcp_keepalive_intvl; echo 2 > /proc/sys/net/ipv4/tcp_keepalive_probes'
            $hostBefore = Get-HostKeepaliveSysctl
        }

        AfterAll {
            Remove-TestNetworkNamespace $ns
        }

        It 'follows the namespace sysctls with -UseSystemSettings' {
            $result = Test-TcpKeepalive -UseSystemSettings -NetworkNamespace $ns
            $result.Passed | Should -BeTrue -Because $result.Message
            $result.UsedSystemSettings | Should -BeTrue
            $result.ExpectedDetection | Should -Be ([timespan]::FromSeconds(3))
            $result.ProbesSent | Should -Be 2
            Get-HostKeepaliveSysctl | Should -Be $hostBefore
        }

        It 'refuses long system settings unless -Timeout allows them' {
            & ip netns exec $name sh -c 'echo 7200 > /proc/sys/net/ipv4/tcp_keepalive_time'
            $thrown = { Test-TcpKeepalive -UseSystemSettings -NetworkNamespace $ns -ErrorAction Stop } |
                Should -Throw -ErrorId 'KeepaliveTestInvalidArgument,PSKeepalive.Commands.TestTcpKeepaliveCommand' -PassThru
            $thrown.Exception.Message | Should -Match 'about 2h2s'
        }
    }
}

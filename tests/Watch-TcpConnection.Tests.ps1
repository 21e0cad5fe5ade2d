BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1

    # A loopback pair owned by the test: client and accepted server side; the listener stays open (its port is the filter).
    function New-WatchedPair {
        $listener = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
        $listener.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0))
        $listener.Listen(4)
        $client = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
        $client.Connect([System.Net.IPAddress]::Loopback, $listener.LocalEndPoint.Port)
        $connected = Get-Date
        $server = $listener.Accept()
        [pscustomobject]@{ Listener = $listener; Client = $client; Server = $server; Port = $listener.LocalEndPoint.Port; ClientPort = $client.LocalEndPoint.Port; Connected = $connected }
    }

    function Remove-WatchedPair($Pair) {
        if ($null -eq $Pair) { return }
        foreach ($socket in $Pair.Client, $Pair.Server) { try { $socket.LingerState = [System.Net.Sockets.LingerOption]::new($true, 0) } catch { }; $socket.Dispose() }
        $Pair.Listener.Dispose()
    }

    # Runs the watch with -Debug and splits what it wrote: the events, and the samples (number, start, end) from the
    # per-sample debug lines, which say when each sample began and how long it took.
    function Invoke-Watch([hashtable] $Parameters) {
        $DebugPreference = 'Continue' # not -Debug, which asks for confirmation at each debug line in this host
        $out = Watch-TcpConnection @Parameters 5>&1
        $samples = foreach ($record in $out | Where-Object { $_ -is [System.Management.Automation.DebugRecord] }) {
            if ($record.Message -match '^Sample (\d+) at (\S+): .*, ([\d.]+) ms\.$') {
                $started = [datetime]::ParseExact($Matches[2], 'HH:mm:ss.fff', [cultureinfo]::InvariantCulture)
                [pscustomobject]@{ Number = [int]$Matches[1]; Started = $started; Ended = $started.AddMilliseconds([double]$Matches[3]) }
            }
        }
        [pscustomobject]@{ Events = @($out | Where-Object { $_ -is [PSKeepalive.Core.Watch.TcpConnectionEvent] }); Samples = @($samples) }
    }

    # An event happened after the previous sample began and before its own sample ended (20 ms for the ms rounding of
    # the debug lines): that window, whatever the machine's load made of the sampling rhythm, must meet the expected one.
    function Assert-SeenWithin($Watch, $Event, [datetime] $Earliest, [datetime] $Latest) {
        $stamp = $Event.Time.ToString('HH:mm:ss.fff', [cultureinfo]::InvariantCulture)
        $index = [array]::FindIndex([object[]]$Watch.Samples, [Predicate[object]] { param($s) $s.Started.ToString('HH:mm:ss.fff', [cultureinfo]::InvariantCulture) -eq $stamp })
        $index | Should -BeGreaterThan 0 -Because "$($Event.Kind) must come from a sample after the baseline"
        $after = $Watch.Samples[$index - 1].Started.TimeOfDay.TotalSeconds - 0.02
        $before = $Watch.Samples[$index].Ended.TimeOfDay.TotalSeconds + 0.02
        $after | Should -BeLessOrEqual $Latest.TimeOfDay.TotalSeconds -Because "$($Event.Kind) $($Event.Probes) was seen after $($Watch.Samples[$index - 1].Started.ToString('HH:mm:ss.fff')), expected by $($Latest.ToString('HH:mm:ss.fff'))"
        $before | Should -BeGreaterOrEqual $Earliest.TimeOfDay.TotalSeconds -Because "$($Event.Kind) $($Event.Probes) was seen by $($Watch.Samples[$index].Ended.ToString('HH:mm:ss.fff')), expected after $($Earliest.ToString('HH:mm:ss.fff'))"
    }

    function Set-Keepalive([System.Net.Sockets.Socket] $Socket, [int] $Idle, [int] $Interval, [int] $Count) {
        $Socket.SetSocketOption('Socket', 'KeepAlive', $true)
        $Socket.SetSocketOption('Tcp', 'TcpKeepAliveTime', $Idle)
        $Socket.SetSocketOption('Tcp', 'TcpKeepAliveInterval', $Interval)
        $Socket.SetSocketOption('Tcp', 'TcpKeepAliveRetryCount', $Count)
    }
}

Describe 'Watch-TcpConnection' {
    # A deaf peer needs SO_ATTACH_FILTER, which this kernel refuses to unprivileged users (root always may).
    Context 'A deaf peer (keepalive 1/1/3 on the server side)' -Skip:(-not $CanMakeDeafPeer) {
        BeforeAll {
            $pair = New-WatchedPair
            Set-DeafSocket $pair.Client
            Set-Keepalive $pair.Server -Idle 1 -Interval 1 -Count 3
            # Bounded by -Duration: the reset is due 4 s after the handshake.
            $watch = Invoke-Watch @{ LocalPort = $pair.Port; RemotePort = $pair.ClientPort; SampleInterval = 100; Duration = 7 }
            $events = $watch.Events
        }

        AfterAll {
            Remove-WatchedPair $pair
        }

        It 'reports probes 1, 2 and 3, then the reset by keepalive, in that order' {
            $kinds = $events | ForEach-Object { "$($_.Kind):$($_.Probes)" }
            # The first probe may already be out in the first sample (the baseline), which reports nothing.
            ($kinds -join ' ') | Should -BeIn @('Probe:1 Probe:2 Probe:3 KeepaliveTimeout:3', 'Probe:2 Probe:3 KeepaliveTimeout:3')
            $events[-1].Detail | Should -BeLike 'ended by keepalive with 3 probes unanswered*'
            $events | ForEach-Object { $_.Cookie } | Select-Object -Unique | Should -HaveCount 1
        }

        It 'keeps the schedule: probe k at k s after the handshake, the reset at 4 s' {
            # Timers never fire early (50 ms for the jiffy rounding of the clocks compared); each 1 s step may be late by
            # the kernel's tolerance of 0.375 s (its timer wheel rounds up by up to 1/8, plus softirq delay).
            $events | Should -Not -BeNullOrEmpty
            foreach ($e in $events) {
                $step = if ($e.Kind -eq 'KeepaliveTimeout') { 4 } else { $e.Probes }
                Assert-SeenWithin $watch $e $pair.Connected.AddSeconds($step - 0.05) $pair.Connected.AddSeconds($step * 1.375)
            }
        }

        It 'writes typed events that name the connection' {
            $events[0] | Should -BeOfType ([PSKeepalive.Core.Watch.TcpConnectionEvent])
            $events[0].Time | Should -BeOfType ([datetime])
            $events[0].LocalAddress | Should -Be '127.0.0.1'
            $events[0].RemotePort | Should -Be $pair.ClientPort
            $events[0].State | Should -Be 'Established'
            $events[0].Timer | Should -Be 'Keepalive'
            $events[0].TimerExpires | Should -BeOfType ([timespan])
        }
    }

    # python3: the child that makes, switches and closes the connection on its own clock.
    Context 'Connections that come and go during the watch' -Skip:(-not $HasPython) {
        BeforeAll {
            $listener = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
            $listener.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0))
            $listener.Listen(4)
            $port = $listener.LocalEndPoint.Port
            # The child connects at 0.8 s (left in the accept queue: no accept needed), switches keepalive on at 1.8 s,
            # closes at 2.8 s and exits, printing when it did each; the watch follows its side by the remote port.
            $code = "import socket,time`ndef say(w): print(w, time.time(), flush=True)`ntime.sleep(0.8)`ns=socket.create_connection(('127.0.0.1',$port)); say('new')`ntime.sleep(1)`ns.setsockopt(socket.SOL_SOCKET,socket.SO_KEEPALIVE,1); say('on')`ntime.sleep(1)`ns.close(); say('closed')`ntime.sleep(1)"
            $start = [System.Diagnostics.ProcessStartInfo]::new('python3')
            $start.ArgumentList.Add('-c')
            $start.ArgumentList.Add($code)
            $start.RedirectStandardOutput = $true
            $child = [System.Diagnostics.Process]::Start($start)
            # 8 s leaves room for a slow python start on a loaded machine.
            $watch = Invoke-Watch @{ RemotePort = $port; SampleInterval = 100; Duration = 8 }
            $events = $watch.Events
            $null = $child.WaitForExit(10000)
            $done = @{}
            foreach ($line in $child.StandardOutput.ReadToEnd() -split "`n" | Where-Object { $_ }) {
                $what, $epoch = $line -split ' '
                $done[$what] = [DateTimeOffset]::FromUnixTimeMilliseconds([long]([double]$epoch * 1000)).LocalDateTime
            }
        }

        AfterAll {
            if (-not $child.HasExited) { $child.Kill() }
            $null = $child.WaitForExit(5000)
            $listener.Dispose()
        }

        It 'reports New, KeepaliveOn and Closed for the same connection, in order' {
            $done.Keys | Sort-Object | Should -Be @('closed', 'new', 'on') -Because 'the child must have done all three'
            ($events | ForEach-Object Kind) -join ' ' | Should -Be 'New KeepaliveOn Closed'
            $events | ForEach-Object Cookie | Select-Object -Unique | Should -HaveCount 1
            $events[0].Detail | Should -Be 'new established connection, no keepalive'
            $events[2].State | Should -BeIn @('FinWait1', 'FinWait2', 'TimeWait', 'Established')
        }

        It 'sees each in the samples around the moment the child did it' {
            $events | Should -HaveCount 3
            Assert-SeenWithin $watch $events[0] $done['new'] $done['new']
            Assert-SeenWithin $watch $events[1] $done['on'] $done['on']
            Assert-SeenWithin $watch $events[2] $done['closed'] $done['closed']
        }
    }

    Context 'PowerShell idioms' {
        BeforeAll {
            $pair = New-WatchedPair
        }

        AfterAll {
            Remove-WatchedPair $pair
        }

        It 'streams into the pipeline: Select-Object -First 1 ends the watch at once' {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            # -Duration only bounds the test if Select-Object failed to stop the watch.
            $first = Watch-TcpConnection -LocalPort $pair.Port -IncludeExisting -SampleInterval 100 -Duration 60 | Select-Object -First 1
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 20
            $first.Kind | Should -Be 'New'
            $first.LocalPort | Should -Be $pair.Port
        }

        It 'reports the existing connections as New with -IncludeExisting, nothing without' {
            $with = @(Watch-TcpConnection -LocalPort $pair.Port -IncludeExisting -Duration 1)
            $without = @(Watch-TcpConnection -LocalPort $pair.Port -Duration 1)
            $with | Should -HaveCount 2 # the listener and the accepted side
            $with.Kind | Sort-Object -Unique | Should -Be 'New'
            $without | Should -HaveCount 0
        }

        It 'ends on StopProcessing (Ctrl+C) without an error' {
            $ps = [powershell]::Create()
            try {
                $null = $ps.AddScript("Import-Module '$ModulePath'; Watch-TcpConnection -LocalPort $($pair.Port) -SampleInterval 100")
                $async = $ps.BeginInvoke()
                Start-Sleep -Seconds 1.5
                $async.IsCompleted | Should -BeFalse -Because 'without -Duration the watch runs until stopped'
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                $ps.Stop()
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 10
                $ps.InvocationStateInfo.State | Should -Be 'Stopped'
                $ps.Streams.Error | Should -HaveCount 0
            }
            finally { $ps.Dispose() }
        }

        It 'says what it samples with -Verbose' {
            $verbose = Watch-TcpConnection -LocalPort $pair.Port -State Established -Duration 1 -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
            $verbose[0].Message | Should -BeLike "Watching sock_diag every 1000 ms for 1 s in this network namespace, connections with state established when first seen, local port $($pair.Port)*"
            $verbose[1].Message | Should -BeLike 'First sample: 1 matching connection(s) followed of * listed*'
        }

        It 'has a table view and survives serialization as remoting does it' {
            $seen = Watch-TcpConnection -LocalPort $pair.Port -IncludeExisting -Duration 1 | Select-Object -First 1
            $table = $seen | Format-Table | Out-String -Width 120
            $table | Should -Match 'Time\s+Kind\s+Probes\s+Local\s+Remote\s+State\s+Detail'
            $table | Should -Match "127\.0\.0\.1:$($pair.Port)"
            $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($seen))
            $copy.Time | Should -BeOfType ([datetime])
            $copy.Time | Should -Be $seen.Time
            $copy.Cookie | Should -Be $seen.Cookie
            $copy.Detail | Should -Be $seen.Detail
            ($copy | Format-Table | Out-String -Width 120) | Should -Match "127\.0\.0\.1:$($pair.Port)"
        }

        It 'works from another process, as remoting brings it: events filter and format the same' {
            # A background job runs in its own pwsh process and sends its output back serialized (CLIXML).
            $job = Start-Job { param($Module, $Port) Import-Module $Module; Watch-TcpConnection -LocalPort $Port -IncludeExisting -Duration 2 } -ArgumentList $ModulePath, $pair.Port
            try {
                $remote = @($job | Wait-Job -Timeout 60 | Receive-Job)
            }
            finally { $job | Remove-Job -Force }
            $remote | Should -HaveCount 2
            $remote[0].pstypenames[0] | Should -Be 'Deserialized.PSKeepalive.Core.Watch.TcpConnectionEvent'
            $remote[0].Time | Should -BeOfType ([datetime])
            @($remote | Where-Object Kind -eq 'New') | Should -HaveCount 2
            ($remote | Format-Table | Out-String -Width 120) | Should -Match "New\s+0\s+127\.0\.0\.1:$($pair.Port)"
        }

        It 'refuses -SampleInterval <Value>' -TestCases @(@{ Value = 9 }, @{ Value = 3600001 }) {
            { Watch-TcpConnection -SampleInterval $Value -Duration 1 -ErrorAction Stop } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,PSKeepalive.Commands.WatchTcpConnectionCommand'
        }

        It 'names a process that does not exist, at once, instead of watching nothing for the whole duration' {
            $missing = [int](Get-Content /proc/sys/kernel/pid_max)
            $took = Measure-Command {
                { Watch-TcpConnection -OwningProcess $missing -Duration 30 -ErrorAction Stop } |
                    Should -Throw -ErrorId 'ProcessNotFound,PSKeepalive.Commands.WatchTcpConnectionCommand'
            }
            $took.TotalSeconds | Should -BeLessThan 20
        }

        It 'names a missing namespace' {
            { Watch-TcpConnection -NetworkNamespace /run/netns/pskeepalive-no-such-namespace -Duration 1 -ErrorAction Stop } |
                Should -Throw -ErrorId 'NetworkNamespaceNotFound,PSKeepalive.Commands.WatchTcpConnectionCommand'
        }
    }
}

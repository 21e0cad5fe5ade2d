BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1

    # A listener and connected pairs owned by the test; -KeepaliveIdle sets SO_KEEPALIVE + TCP_KEEPIDLE on the client.
    function New-LoopbackSet([System.Net.IPAddress] $Address = [System.Net.IPAddress]::Loopback) {
        $listener = [System.Net.Sockets.Socket]::new($Address.AddressFamily, 'Stream', 'Tcp')
        $listener.Bind([System.Net.IPEndPoint]::new($Address, 0))
        $listener.Listen(16)
        [pscustomobject]@{ Address = $Address; Listener = $listener; Port = $listener.LocalEndPoint.Port; Sockets = [System.Collections.Generic.List[System.Net.Sockets.Socket]]::new() }
    }

    function Connect-LoopbackSet($Set, [int] $KeepaliveIdle = 0) {
        $client = [System.Net.Sockets.Socket]::new($Set.Address.AddressFamily, 'Stream', 'Tcp')
        if ($KeepaliveIdle -gt 0) {
            $client.SetSocketOption('Socket', 'KeepAlive', $true)
            $client.SetSocketOption('Tcp', 'TcpKeepAliveTime', $KeepaliveIdle)
        }
        $client.Connect($Set.Address, $Set.Port)
        $server = $Set.Listener.Accept()
        $Set.Sockets.Add($client); $Set.Sockets.Add($server)
        [pscustomobject]@{ Client = $client; Server = $server; ClientPort = $client.LocalEndPoint.Port }
    }

    function Remove-LoopbackSet($Set) {
        foreach ($socket in $Set.Sockets) { $socket.LingerState = [System.Net.Sockets.LingerOption]::new($true, 0); $socket.Dispose() }
        $Set.Listener.Dispose()
    }
}

Describe 'Get-TcpConnection' {
    BeforeAll {
        $v4 = New-LoopbackSet
        $plain = Connect-LoopbackSet $v4
        $kept = Connect-LoopbackSet $v4 -KeepaliveIdle 600
    }

    AfterAll {
        Remove-LoopbackSet $v4
    }

    It 'finds the listener with state Listen and unknown keepalive' {
        $listener = Get-TcpConnection -State Listen -LocalAddress 127.0.0.1 -LocalPort $v4.Port
        $listener | Should -HaveCount 1
        $listener | Should -BeOfType ([PSKeepalive.Core.Connections.TcpConnection])
        $listener.LocalAddress | Should -Be '127.0.0.1'
        $listener.NoKeepalive | Should -BeNullOrEmpty
    }

    It 'marks the idle connection without SO_KEEPALIVE as NoKeepalive' {
        $c = Get-TcpConnection -LocalAddress 127.0.0.1 -RemotePort $v4.Port -LocalPort $plain.ClientPort
        $c.State | Should -Be 'Established'
        $c.RemotePort | Should -Be $v4.Port
        $c.Timer | Should -Be 'None'
        $c.NoKeepalive | Should -BeTrue
    }

    It 'shows the keepalive timer of the connection with SO_KEEPALIVE' {
        $c = Get-TcpConnection -LocalAddress 127.0.0.1 -RemotePort $v4.Port -LocalPort $kept.ClientPort
        $c.Timer | Should -Be 'Keepalive'
        $c.KeepaliveTimerActive | Should -BeTrue
        $c.NoKeepalive | Should -BeFalse
        $c.TimerExpires.TotalSeconds | Should -BeLessOrEqual 600
        $c.TimerExpires.TotalSeconds | Should -BeGreaterThan 500
    }

    It 'filters by remote port and Where-Object NoKeepalive answers in one line' {
        # Established only: a client in TIME_WAIT towards an earlier listener that had the same port would match too.
        $found = Get-TcpConnection -RemoteAddress 127.0.0.1 -RemotePort $v4.Port -LocalAddress 127.0.0.1 -State Established | Where-Object NoKeepalive
        $found | Should -HaveCount 1
        $found.LocalPort | Should -Be $plain.ClientPort
    }

    It '-NoKeepalive filters in the cmdlet as Where-Object NoKeepalive does' {
        $found = Get-TcpConnection -RemoteAddress 127.0.0.1 -RemotePort $v4.Port -LocalAddress 127.0.0.1 -State Established -NoKeepalive
        $found | Should -HaveCount 1
        $found.LocalPort | Should -Be $plain.ClientPort
    }

    # Root: reading a socket's options from its owner needs pidfd_getfd (ptrace rights), even for this process's listener.
    It '-NoKeepalive -IncludeSocketOption includes the listener, read from the socket' -Skip:(-not $IsRoot) {
        $found = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port -NoKeepalive -IncludeSocketOption
        ($found | Where-Object State -eq 'Listen') | Should -HaveCount 1
        $found | ForEach-Object { $_.KeepaliveEnabled | Should -BeFalse }
    }

    It 'accepts several states' {
        (Get-TcpConnection -State Listen, Established -LocalAddress 127.0.0.1 -LocalPort $v4.Port) | Should -HaveCount 3
    }

    It 'names this process as the owner with -IncludeProcess' {
        $c = Get-TcpConnection -LocalAddress 127.0.0.1 -RemotePort $v4.Port -LocalPort $plain.ClientPort -IncludeProcess
        $c.OwningProcess | Should -Be $PID
        $c.Processes.Pid | Should -Contain $PID
    }

    It 'names a process that does not exist in a non-terminating ProcessNotFound error, and lists the others' {
        $missing = [int](Get-Content /proc/sys/kernel/pid_max) # never a process id: the kernel hands out 1..pid_max-1
        $found = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port -OwningProcess $PID, $missing -ErrorVariable err -ErrorAction SilentlyContinue
        $found | Should -HaveCount 3
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ProcessNotFound,*'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be $missing
        $err[0].Exception.Message | Should -BeLike "There is no process $missing (OwningProcess)*"
        # Alone, it lists nothing (not every connection of the host, as an empty filter would).
        Get-TcpConnection -OwningProcess $missing -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'takes several owning processes, and lists piped processes in one pass' {
        (Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port -OwningProcess $PID, 1) | Should -HaveCount 3
        (Get-Process -Id $PID, $PID | Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port) | Should -HaveCount 3
    }

    It 'says once why OwningProcess is empty when the statement reads it without -IncludeProcess' {
        # A fresh session: the warning comes once per session, when the command line reads an owner property.
        $child = Invoke-ModuleInChildPwsh -Script (
            "(Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $($v4.Port) -State Listen).OwningProcess; " +
            "Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $($v4.Port) -State Listen | Where-Object OwningProcess -EQ 1; " +
            "`$null = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $($v4.Port) -State Listen")
        $child.ExitCode | Should -Be 0 -Because $child.Error
        # The child writes its warnings to stderr (as CLIXML when redirected): count the sentence itself.
        $text = ($child.Output + $child.Error) -replace '\s+', ' '
        ([regex]::Matches($text, 'Add -IncludeProcess to fill them')).Count | Should -Be 1
        $text | Should -BeLike '*OwningProcess*are empty*/proc/PID/fd*'
    }

    It 'carries the owner flat (ProcessId, ProcessName) for Export-Csv, JSON and remoting' {
        $c = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port -State Listen -IncludeProcess
        $c.ProcessId | Should -Be $PID
        $c.ProcessId | Should -Be $c.OwningProcess
        $c.ProcessName | Should -Be (Get-Content "/proc/$PID/comm")

        $csv = $c | ConvertTo-Csv | ConvertFrom-Csv
        $csv.ProcessId | Should -Be "$PID"
        $csv.ProcessName | Should -Be $c.ProcessName
        $csv.State | Should -Be 'Listen'

        # As remoting sends it (depth 1): Processes arrives as text, the flat owner intact.
        $remote = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($c, 1))
        $remote.ProcessId | Should -Be $PID
        $remote.ProcessName | Should -Be $c.ProcessName
    }

    It 'exports readable states and timers to JSON with ConvertTo-Json -EnumsAsStrings (the documented recipe)' {
        $json = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port -State Listen -IncludeProcess | ConvertTo-Json -EnumsAsStrings | ConvertFrom-Json
        $json.State | Should -Be 'Listen'
        $json.Timer | Should -Be 'None'
        $json.ProcessId | Should -Be $PID
        (Get-Help Get-TcpConnection -Full | Out-String) + (Get-Content (Join-Path $script:RepoRoot 'docs/en-US/Get-TcpConnection.md') -Raw) |
            Should -Match 'ConvertTo-Json -EnumsAsStrings'
    }

    It 'filters by owning process, also from Get-Process' {
        (Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port -OwningProcess $PID) | Should -HaveCount 3
        (Get-Process -Id $PID | Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port) | Should -HaveCount 3
    }

    It 'counts one connection as 1 (no property hides .Count)' {
        $one = Get-TcpConnection -LocalAddress 127.0.0.1 -RemotePort $v4.Port -LocalPort $plain.ClientPort
        $one.Count | Should -Be 1
        $one.Length | Should -Be 1
    }

    It 'refuses a process from another computer instead of listing this one''s with the same id' {
        $remote = [pscustomobject]@{ Id = $PID; PSComputerName = 'web1' }
        { $remote | Get-TcpConnection -ErrorAction Stop } |
            Should -Throw -ErrorId 'ProcessInvalidTarget,PSKeepalive.Commands.GetTcpConnectionCommand' -ExpectedMessage '*web1*'
    }

    It 'reads as its state and endpoints in strings and in Group-Object''s Group column' {
        $connection = [PSKeepalive.Core.Connections.TcpConnection] @{
            AddressFamily = 'IPv6'; LocalAddress = '::1'; LocalPort = 5432; RemoteAddress = '::1'; RemotePort = 41000
            State = 'Established'; Inode = 1; Uid = 0; Cookie = 1; ProbesSent = 0
        }
        "$connection" | Should -Be 'Established [::1]:5432 -> [::1]:41000'
        $connection | Group-Object State | Format-Table | Out-String -Width 120 |
            Should -Match ([regex]::Escape('{Established [::1]:5432 -> [::1]:41000}'))
    }

    Context 'lists, wildcards and CIDR blocks, as Get-NetTCPConnection takes them' {
        BeforeAll {
            $other = New-LoopbackSet
            $null = Connect-LoopbackSet $other
        }

        AfterAll {
            Remove-LoopbackSet $other
        }

        It 'takes several local ports (one kernel filter for both)' {
            $found = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port, $other.Port -State Listen
            $found | Should -HaveCount 2
            $found.LocalPort | Sort-Object | Should -Be (@($v4.Port, $other.Port) | Sort-Object)
        }

        It 'takes several remote ports and states' {
            @(Get-TcpConnection -LocalAddress 127.0.0.1 -RemotePort $v4.Port, $other.Port -State Established) | Should -HaveCount 3
            @(Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port, $other.Port -State Established, Listen) | Should -HaveCount 5
        }

        It 'matches -LocalAddress <Pattern> on the listener' -TestCases @(
            @{ Pattern = '127.*' }
            @{ Pattern = '127.0.*' }
            @{ Pattern = '127.0.0.?' }
            @{ Pattern = '127.0.0.0/8' }
            @{ Pattern = '*' }
        ) {
            Get-TcpConnection -LocalAddress $Pattern -LocalPort $v4.Port -State Listen | Should -HaveCount 1
        }

        It 'matches none with -LocalAddress <Pattern>' -TestCases @(
            @{ Pattern = '127.1.*' }
            @{ Pattern = '127.0.0.2/31' }
            @{ Pattern = '::1/128' }
        ) {
            Get-TcpConnection -LocalAddress $Pattern -LocalPort $v4.Port -State Listen | Should -BeNullOrEmpty
        }

        It 'takes a list of addresses and patterns, any of which may match' {
            @(Get-TcpConnection -RemoteAddress '127.0.0.2/31', '127.0.0.1' -RemotePort $v4.Port -State Established) | Should -HaveCount 2
        }

        It 'refuses a pattern that is no address with ConnectionInvalidArgument' {
            Get-TcpConnection -LocalAddress '127.0.0.0/33' -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -Be 'ConnectionInvalidArgument,PSKeepalive.Commands.GetTcpConnectionCommand'
            $err[0].Exception.Message | Should -BeLike '*prefix length*0 to 32*'
        }
    }

    # Only where PID 1 refuses root its descriptors (this happens in some containers), as on the machine this was found on.
    It 'counts a process whose descriptors even root may not read as denied, and names it' -Skip:(-not $Pid1DeniesRoot) {
        $null = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $v4.Port -IncludeProcess -WarningVariable warnings -WarningAction SilentlyContinue
        "$warnings" | Should -BeLike '*could not be read (1*denied even to root*'
    }

    It 'fills tcp_info fields only with -IncludeInfo' {
        (Get-TcpConnection -LocalAddress 127.0.0.1 -RemotePort $v4.Port -LocalPort $plain.ClientPort).Rtt | Should -BeNullOrEmpty
        (Get-TcpConnection -LocalAddress 127.0.0.1 -RemotePort $v4.Port -LocalPort $plain.ClientPort -IncludeInfo).Rtt | Should -BeGreaterThan ([TimeSpan]::Zero)
    }

    It 'streams: Select-Object -First stops early' {
        @(Get-TcpConnection | Select-Object -First 1) | Should -HaveCount 1
    }

    It 'works on IPv6' {
        $v6 = New-LoopbackSet ([System.Net.IPAddress]::IPv6Loopback)
        try {
            $null = Connect-LoopbackSet $v6
            $found = Get-TcpConnection -LocalAddress ::1 -LocalPort $v6.Port
            $found | Should -HaveCount 2
            $found.AddressFamily | Should -Be @('IPv6', 'IPv6')
            $found.LocalAddress | Should -Be @('::1', '::1')
        }
        finally { Remove-LoopbackSet $v6 }
    }

    It 'has a table view with a Keepalive column' {
        $text = Get-TcpConnection -LocalAddress 127.0.0.1 -RemotePort $v4.Port -LocalPort $kept.ClientPort | Format-Table | Out-String -Width 120
        $text | Should -Match 'Keepalive'
        $text | Should -Match 'keepalive \d+m'
    }

    # python3: the process that gives itself the hostile name (prctl PR_SET_NAME) and holds the listener.
    It 'escapes a hostile process name in its views: no escape sequence reaches the terminal, one row per socket' -Skip:(-not $HasPython) {
        # A process names itself: a quote, a backslash, a newline and a colour escape (15 bytes, PR_SET_NAME).
        $name = "a`"b\c`nd`e[31mRED"
        $start = [System.Diagnostics.ProcessStartInfo]::new('python3')
        $start.RedirectStandardInput = $true
        $start.RedirectStandardOutput = $true
        foreach ($argument in '-c', "import ctypes, socket, sys`nctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)`ns = socket.socket()`ns.bind(('127.0.0.1', 0))`ns.listen(1)`nprint(s.getsockname()[1], flush=True)`nsys.stdin.read()", $name) {
            $start.ArgumentList.Add($argument)
        }
        $holder = [System.Diagnostics.Process]::Start($start)
        try {
            $read = $holder.StandardOutput.ReadLineAsync()
            $read.Wait(20000) | Should -BeTrue
            $c = Get-TcpConnection -State Listen -LocalAddress 127.0.0.1 -LocalPort ([int]$read.Result) -IncludeProcess
            $c.Processes[0].Name | Should -BeExactly $name
            $table = $c | Format-Table | Out-String -Width 200
            $list = $c | Format-List | Out-String -Width 200
            foreach ($text in $table, $list) {
                $text | Should -Not -Match "`e"
                $text | Should -Match ([regex]::Escape('a"b\\c\nd\x1b[31mRED'))
            }
            @($table.Trim() -split "`n" | Where-Object { $_ -match 'Listen' }) | Should -HaveCount 1
        }
        finally {
            $holder.StandardInput.Close()
            if (-not $holder.WaitForExit(10000)) { $holder.Kill() }
        }
    }

    It 'refuses a port out of range' {
        { Get-TcpConnection -LocalPort 70000 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,PSKeepalive.Commands.GetTcpConnectionCommand'
    }

    It 'reports a bad address with ConnectionInvalidArgument' {
        Get-TcpConnection -RemoteAddress 'not-an-address' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'ConnectionInvalidArgument,PSKeepalive.Commands.GetTcpConnectionCommand'
    }

    # Root and ip: a throw-away namespace from `ip netns add`, entered with setns (CAP_SYS_ADMIN).
    It 'lists another network namespace' -Skip:(-not ($IsRoot -and $HasIpNetns)) {
        $ns = New-TestNetworkNamespace
        try {
            # Nothing listens in a fresh namespace.
            @(Get-TcpConnection -NetworkNamespace $ns) | Should -HaveCount 0
        }
        finally { Remove-TestNetworkNamespace $ns }
    }

    It 'reports a missing namespace with NetworkNamespaceNotFound' {
        Get-TcpConnection -NetworkNamespace /run/netns/pskeepalive-no-such -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'NetworkNamespaceNotFound,PSKeepalive.Commands.GetTcpConnectionCommand'
    }
}

Describe 'Get-TcpConnection -IncludeSocketOption' {
    # Root: reading another process's socket options needs pidfd_getfd (ptrace rights). python3: the child.
    Context 'On a child process holding a loopback connection and a listener' -Skip:(-not ($IsRoot -and $HasPython)) {
        BeforeAll {
            $script:client = Start-PythonLoopbackClient "import socket,time; s=socket.create_connection(('127.0.0.1',{PORT})); s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 91); l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen(); time.sleep(60)"
            $script:child = $client.Child
            $script:port = $client.Port
            $script:childPort = $client.ChildPort
        }

        AfterAll {
            Stop-PythonLoopbackClient $script:client
        }

        It 'reads the options the program set, exactly' {
            $c = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $childPort -RemotePort $port -IncludeSocketOption
            $c.KeepaliveEnabled | Should -BeTrue
            $c.Idle | Should -Be 91
            $c.NoKeepalive | Should -BeFalse
            $c.OwningProcess | Should -Be $child.Id
            $c.Count | Should -Be 1
            $c.ProbeCount | Should -Be ([int](Get-Content /proc/sys/net/ipv4/tcp_keepalive_probes))
        }

        It 'makes NoKeepalive exact for a listening socket' {
            $l = Get-TcpConnection -OwningProcess $child.Id -State Listen -IncludeSocketOption
            $l.KeepaliveEnabled | Should -BeFalse
            $l.NoKeepalive | Should -BeTrue
        }
    }
}

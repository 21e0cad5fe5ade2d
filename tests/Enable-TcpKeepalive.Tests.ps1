BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
}

Describe 'Enable-TcpKeepalive' {
    Context 'Metadata' {
        BeforeAll { $command = Get-Command Enable-TcpKeepalive }

        It 'supports -WhatIf and -Confirm' {
            $command.Parameters.Keys | Should -Contain 'WhatIf'
            $command.Parameters.Keys | Should -Contain 'Confirm'
        }

        It 'has the Connection and Process parameter sets' {
            $command.ParameterSets.Name | Should -Contain 'Connection'
            $command.ParameterSets.Name | Should -Contain 'Process'
        }

        It 'binds the NetworkNamespace of a piped connection by property name (null allowed)' {
            $parameter = $command.Parameters['NetworkNamespace']
            $parameter.ParameterSets.Keys | Should -Be @('Connection')
            $parameter.Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] })[0].ValueFromPipelineByPropertyName |
                Should -BeTrue
            $parameter.Attributes.Where({ $_ -is [System.Management.Automation.AllowNullAttribute] }) | Should -Not -BeNullOrEmpty
        }

        It 'binds Get-Process output through the Id alias of -ProcessId' {
            $command.Parameters['ProcessId'].Aliases | Should -Contain 'Id'
        }

        It 'completes -ProcessId with process ids and names' {
            $line = "Enable-TcpKeepalive -ProcessId $PID"
            $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches
            $completions.CompletionText | Should -Contain "$PID"
            ($completions | Where-Object CompletionText -EQ "$PID").ListItemText | Should -BeLike "$PID *"
        }

        It 'takes the sysctl words too: -Time for -Idle, -Probes (and -ProbeCount) for -Count' {
            $command.Parameters['Idle'].Aliases | Should -Contain 'Time'
            $command.Parameters['Count'].Aliases | Should -Contain 'Probes'
            $command.Parameters['Count'].Aliases | Should -Contain 'ProbeCount'
            { Enable-TcpKeepalive -ProcessId $PID -Time 600 -Probes 5 -WhatIf } | Should -Not -Throw
        }

        # As Invoke-Command -HostName web1 { Get-Process x } returns them: web1's process ids mean nothing here.
        It 'refuses a process from another computer' {
            $remote = [pscustomobject]@{ Id = $PID; PSComputerName = 'web1' }
            { $remote | Enable-TcpKeepalive -Idle 60 -WhatIf -ErrorAction Stop } |
                Should -Throw -ErrorId 'ProcessInvalidTarget,PSKeepalive.Commands.EnableTcpKeepaliveCommand' -ExpectedMessage '*web1*Invoke-Command*'
        }

        It 'refuses a connection from another computer' {
            $remote = [pscustomobject]@{ Inode = 1; LocalAddress = '127.0.0.1'; LocalPort = 1; RemoteAddress = '127.0.0.1'; RemotePort = 2; PSComputerName = 'web1' }
            { $remote | Enable-TcpKeepalive -Idle 60 -WhatIf -ErrorAction Stop } |
                Should -Throw -ErrorId 'SocketInvalidTarget,PSKeepalive.Commands.EnableTcpKeepaliveCommand' -ExpectedMessage '*web1*'
        }

        It 'offers no kernel thread to -ProcessId completion' {
            $kernelThreads = @(Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$' | Where-Object {
                    $stat = Get-Content "/proc/$($_.Name)/stat" -ErrorAction SilentlyContinue
                    $stat -and ([int64](($stat -split '\) ')[-1] -split ' ')[6] -band 0x200000)
                } | ForEach-Object Name)
            if ($kernelThreads.Count -eq 0) { Set-ItResult -Skipped -Because 'no kernel thread is visible in this PID namespace'; return }
            $line = 'Enable-TcpKeepalive -ProcessId '
            $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
            $completions | Should -Contain "$PID"
            $completions | Where-Object { $_ -in $kernelThreads } | Should -BeNullOrEmpty
        }

        It 'refuses -Count 128 before touching anything' {
            { Enable-TcpKeepalive -ProcessId $PID -Count 128 -WhatIf } | Should -Throw -ErrorId 'ParameterArgumentValidationError,PSKeepalive.Commands.EnableTcpKeepaliveCommand'
        }

        It 'refuses -Idle 0' {
            { Enable-TcpKeepalive -ProcessId $PID -Idle 0 -WhatIf } | Should -Throw -ErrorId 'ParameterArgumentValidationError,PSKeepalive.Commands.EnableTcpKeepaliveCommand'
        }
    }

    # Root: pidfd_getfd on another process needs ptrace rights over it. python3: the child holding the socket.
    Context 'On a child process holding a loopback connection' -Skip:(-not ($IsRoot -and $HasPython)) {
        BeforeAll {
            $script:client = Start-PythonLoopbackClient "import socket,time; s=socket.create_connection(('127.0.0.1',{PORT})); time.sleep(60)"
            $script:child = $client.Child
            $script:port = $client.Port
            $script:childPort = $client.ChildPort
        }

        AfterAll {
            Stop-PythonLoopbackClient $script:client
        }

        It '-WhatIf changes nothing' {
            Enable-TcpKeepalive -ProcessId $child.Id -Idle 61 -WhatIf | Should -BeNullOrEmpty
            $c = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $childPort -RemotePort $port -IncludeSocketOption
            $c.KeepaliveEnabled | Should -BeFalse
        }

        It 'switches keepalive on with the given values, read back' {
            $result = Enable-TcpKeepalive -ProcessId $child.Id -Idle 61 -Interval 11 -Count 7
            $result | Should -HaveCount 1
            $result.Outcome | Should -Be 'Applied'
            $result.LocalPort | Should -Be $childPort
            $result.Before.Enabled | Should -BeFalse
            $result.After.Enabled | Should -BeTrue
            $result.After.Idle | Should -Be 61
            $result.After.Interval | Should -Be 11
            $result.After.ProbeCount | Should -Be 7
        }

        It 'is what Get-TcpConnection -IncludeSocketOption sees, and the keepalive timer runs' {
            $c = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $childPort -RemotePort $port -IncludeSocketOption
            $c.KeepaliveEnabled | Should -BeTrue
            $c.Idle | Should -Be 61
            $c.NoKeepalive | Should -BeFalse
            $c.Timer | Should -Be 'Keepalive'
        }

        It 'takes piped connections and returns the updated connection with -PassThru' {
            $c = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $childPort -RemotePort $port -IncludeProcess | Enable-TcpKeepalive -Idle 62 -PassThru
            $c.LocalPort | Should -Be $childPort
            $c.Idle | Should -Be 62
            $c.KeepaliveEnabled | Should -BeTrue
        }

        It 'skips a socket that already has the values' {
            (Enable-TcpKeepalive -ProcessId $child.Id -Idle 62).Outcome | Should -Be 'Skipped'
        }
    }

    # Root and python3, as above: a child holding a listener and a bound, unconnected socket (TCP_CLOSE).
    Context 'Words shared with Get-TcpConnection' -Skip:(-not ($IsRoot -and $HasPython)) {
        BeforeAll {
            $script:client = Start-PythonLoopbackClient "import socket,time; s=socket.create_connection(('127.0.0.1',{PORT})); l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen(); u=socket.socket(); u.bind(('127.0.0.1',0)); time.sleep(60)"
            $script:child = $client.Child
        }

        AfterAll {
            Stop-PythonLoopbackClient $script:client
        }

        It 'changes only the piped connection, not every socket of its owner (ProcessId binds no process)' {
            $results = Get-TcpConnection -OwningProcess $child.Id -State Listen | Enable-TcpKeepalive -Time 299
            $results | Should -HaveCount 1
            $results.State | Should -Be 'Listen'
        }

        It 'names states and the listener''s remote end as Get-TcpConnection does' {
            $results = Enable-TcpKeepalive -ProcessId $child.Id -Time 300
            $listed = Get-TcpConnection -OwningProcess $child.Id
            $results | Should -HaveCount 3
            foreach ($result in $results | Where-Object State -NE 'Closed') {
                $same = $listed | Where-Object { $_.Inode -eq $result.Inode }
                $result.State | Should -Be $same.State.ToString()
            }
            # sock_diag lists no bound, unconnected socket; its state is still one of TcpState's names.
            ($results | Where-Object State -EQ 'Closed') | Should -HaveCount 1
            [PSKeepalive.Core.Connections.TcpState]'Closed' | Should -Be 7
            $listener = $results | Where-Object State -EQ 'Listen'
            $text = $listener | Format-List | Out-String
            $text | Should -Match 'Remote\s*:\s*0\.0\.0\.0:0'
            $text | Should -Not -Match 'Remote\s*:\s*\*'
        }
    }

    Context 'A process without TCP sockets' {
        BeforeAll {
            $script:sleeper = [System.Diagnostics.Process]::Start('sleep', '60')
        }

        AfterAll {
            if (-not $script:sleeper.HasExited) { $script:sleeper.Kill(); $null = $script:sleeper.WaitForExit(5000) }
        }

        It 'says that there was nothing to change, in the verbose stream and with a warning' {
            $out = Enable-TcpKeepalive -ProcessId $script:sleeper.Id -Idle 60 -Verbose -WarningVariable warnings -WarningAction SilentlyContinue 4>&1
            ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -BeLike "*process $($script:sleeper.Id)*no TCP socket*"
            "$warnings" | Should -BeLike "*no TCP socket*nothing was changed*"
        }
    }

    # A listener of this session that never accepts: the server end of the connection waits in its accept queue,
    # a socket with no file yet (inode 0), which no process holds.
    Context 'A connection its program has not accepted yet' {
        BeforeAll {
            $script:listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
            $listener.Start()
            $script:port = $listener.LocalEndpoint.Port
            $script:client = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $port)
        }

        AfterAll {
            $script:client.Dispose()
            $script:listener.Stop()
        }

        It 'keeps the piped state and says why no process holds it' {
            $queued = @(Get-TcpConnection -LocalPort $port -State Established)
            $queued | Should -HaveCount 1
            $queued[0].Inode | Should -Be 0
            $result = $queued | Enable-TcpKeepalive -Idle 60 -WarningAction SilentlyContinue
            $result.Outcome | Should -Be 'Skipped'
            $result.State | Should -Be 'Established'
            $result.Reason | Should -BeLike '*accept queue*'
            $result.Reason | Should -Not -BeLike '*TIME_WAIT*'
        }
    }

    Context 'Views' {
        It 'escape process names and reasons, also of a deserialized result (a property bag with the type name)' {
            $hostile = "x`e]0;title`a`nnext"
            $result = [pscustomobject]@{
                PSTypeName = 'PSKeepalive.Core.Retrofit.KeepaliveChangeResult'
                Pid = 42; Fd = 3; Inode = 1; State = 'Established'; ProcessName = $hostile
                LocalAddress = '127.0.0.1'; LocalPort = 1; RemoteAddress = '127.0.0.1'; RemotePort = 2
                Outcome = 'Failed'; Before = $null; After = $null; Reason = "Failed for $hostile"; ErrorId = 'SocketChangeFailed'
            }
            foreach ($text in ($result | Format-Table | Out-String -Width 250), ($result | Format-List | Out-String -Width 250)) {
                $text | Should -Not -Match "`e"
                $text | Should -Not -Match "`a"
                $text | Should -Match ([regex]::Escape('x\x1b]0;title\x07\nnext'))
            }
        }
    }

    Context 'Before and After as text' {
        It 'reads as the options, in Export-Csv, Select-Object and strings, as in the list view' {
            $before = [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($false, 7200, 75, 9, 0)
            $after = [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($true, 60, 10, 6, 30000)
            "$before" | Should -Be 'off idle 7200 s, interval 75 s, count 9, user timeout 0 ms'
            "$after" | Should -Be 'on idle 60 s, interval 10 s, count 6, user timeout 30000 ms'
            $result = [pscustomobject]@{ Outcome = 'Applied'; Before = $before; After = $after }
            $file = Join-Path $TestDrive 'results.csv'
            $result | Export-Csv -LiteralPath $file
            $row = Import-Csv -LiteralPath $file
            $row.Before | Should -Be "$before"
            $row.After | Should -Be "$after"
        }
    }

    # Root, as the live-socket tests above: an unprivileged caller cannot tell a missing process from another user's.
    Context 'Errors' -Skip:(-not $IsRoot) {
        It 'reports a process that does not exist as ProcessNotFound' {
            $missing = 4194304 # above pid_max's largest value
            { Enable-TcpKeepalive -ProcessId $missing -Idle 60 -ErrorAction Stop } | Should -Throw -ErrorId 'ProcessNotFound,PSKeepalive.Commands.EnableTcpKeepaliveCommand'
        }
    }
}

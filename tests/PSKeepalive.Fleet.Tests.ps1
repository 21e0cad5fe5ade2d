# The README's fleet examples ("Auditing many hosts"), taken from README.md statement by statement and run as a
# user types them in a console, over real PowerShell SSH remoting to three hosts made on this machine
# (tests/fleet.ps1: network namespaces, each with its own sshd, the PowerShell subsystem and the staged module
# installed for root). Each host gets its own keepalive sysctls and its own program holding idle connections
# without keepalive, so that every answer is checked against the host it came from, and against the same
# command run locally on that host. Bounded: every statement has a timeout; everything is torn down in AfterAll.
BeforeDiscovery {
    . $PSScriptRoot/common.ps1
    . $PSScriptRoot/fleet.ps1
    $script:FleetMissing = @(Get-TestFleetMissing)
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    . $PSScriptRoot/fleet.ps1

    # The top-level statements of the first powershell block of README.md's "## Auditing many hosts".
    function Get-ReadmeFleetStatement {
        $readme = Get-Content -Raw (Join-Path $script:RepoRoot 'README.md')
        $section = [regex]::Match($readme, '(?ms)^## Auditing many hosts\s*$(.*?)(?=^## )').Groups[1].Value
        $block = [regex]::Match($section, '(?ms)^```powershell\s*$(.*?)^```').Groups[1].Value
        if (-not $block) { throw "README.md has no powershell block under '## Auditing many hosts'" }
        $tokens = $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($block, [ref]$tokens, [ref]$errors)
        if ($errors) { throw "README.md's fleet block does not parse: $($errors[0].Message)" }
        $ast.EndBlock.Statements | ForEach-Object { $_.Extent.Text }
    }

    # The one README statement that contains every word of $Like and none of $Unlike.
    function Find-ReadmeStatement([string[]] $Like, [string[]] $Unlike = @()) {
        $found = @($script:Statements | Where-Object {
                $s = $_
                -not ($Like | Where-Object { -not $s.Contains($_) }) -and -not ($Unlike | Where-Object { $s.Contains($_) })
            })
        if ($found.Count -ne 1) { throw "README.md's fleet block has $($found.Count) statements with '$($Like -join "', '")'; the fleet test expects one" }
        $found[0]
    }

    # The -ScriptBlock { ... } that a README statement sends to the hosts, as text.
    function Get-RemoteScript([string] $Statement) {
        $tokens = $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Statement, [ref]$tokens, [ref]$errors)
        $block = $ast.Find({ param($a) $a -is [System.Management.Automation.Language.ScriptBlockExpressionAst] }, $true)
        $block.ScriptBlock.EndBlock.Extent.Text
    }

    # The same script run locally "on" a host: every PSKeepalive cmdlet it calls acts in the host's namespace. The
    # results carry the PSComputerName that remoting adds (formatting shows it as a column), so that only what the
    # host computed can differ.
    function Invoke-OnHost($HostEntry, [string] $Script, [switch] $HideComputerName) {
        $PSDefaultParameterValues = @{ 'Get-TcpConnection:NetworkNamespace' = $HostEntry.Namespace; 'Get-TcpKeepaliveSetting:NetworkNamespace' = $HostEntry.Namespace }
        foreach ($o in & ([scriptblock]::Create($Script))) {
            $o.PSObject.Properties.Add([psnoteproperty]::new('PSComputerName', $HostEntry.Name))
            $o.PSObject.Properties.Add([psnoteproperty]::new('PSShowComputerName', -not $HideComputerName))
            $o
        }
    }

    # A console: a runspace in which statements run one after the other as typed, variables kept between them.
    function New-FleetConsole([string[]] $HostName, [switch] $WithoutModule) {
        $state = [initialsessionstate]::CreateDefault2()
        if (-not $WithoutModule) { $state.ImportPSModule($script:ModulePath) }
        $console = [runspacefactory]::CreateRunspace($state)
        $console.Open()
        $console.SessionStateProxy.SetVariable('hosts', $HostName)
        $console
    }

    function Invoke-FleetConsole($Console, [string] $Statement, [int] $TimeoutSeconds = 60) {
        $ps = [powershell]::Create()
        try {
            $ps.Runspace = $Console
            $null = $ps.AddScript($Statement)
            $async = $ps.BeginInvoke()
            if (-not $async.AsyncWaitHandle.WaitOne($TimeoutSeconds * 1000)) {
                $ps.Stop()
                throw "did not finish within $TimeoutSeconds s: $Statement"
            }
            $output = $ps.EndInvoke($async)
            if ($ps.Streams.Error.Count -gt 0) { throw "failed: $Statement`n$($ps.Streams.Error | Out-String)" }
            $output
        }
        finally { $ps.Dispose() }
    }

    function Close-FleetConsole($Console) {
        if ($null -eq $Console) { return }
        try { $null = Invoke-FleetConsole $Console 'Get-PSSession | Remove-PSSession' 30 } catch { }
        $Console.Dispose()
    }

    # What users see: text wide enough that no column is cut. -TimerAgnostic: keepalive timers counting down
    # ("keepalive 59s/0", "keepalive 1m/0") read "keepalive T/0", and runs of blanks one blank.
    function Show-Text($InputObject, [switch] $TimerAgnostic) {
        $lines = ($InputObject | Out-String -Width 250) -split "`r?`n" | ForEach-Object TrimEnd
        if ($TimerAgnostic) { $lines = $lines -replace '(keepalive )[\d.hms]+/', '${1}T/' -replace '\s+', ' ' }
        $lines -join "`n"
    }

    function Read-NamespaceSysctl($HostEntry) {
        $text = Invoke-FleetTool ip @('netns', 'exec', $HostEntry.Name, 'cat', '/proc/sys/net/ipv4/tcp_keepalive_time', '/proc/sys/net/ipv4/tcp_keepalive_intvl', '/proc/sys/net/ipv4/tcp_keepalive_probes')
        $t, $i, $p = $text.Trim() -split '\s+'
        @{ Time = [int]$t; Interval = [int]$i; Probes = [int]$p }
    }

    # Before any statement that writes sysctls: every session must run in its own host's namespace, never in the
    # machine's own (a ProxyCommand gone wrong would make the README's Set-TcpKeepaliveSetting change the machine).
    function Assert-SessionsInTheirNamespace($Console) {
        $where = @(Invoke-FleetConsole $Console 'Invoke-Command -Session $sessions -ScriptBlock { (Get-TcpKeepaliveSetting).NetworkNamespace }')
        foreach ($h in $script:Fleet.Hosts) {
            $expected = (Get-TcpKeepaliveSetting -NetworkNamespace $h.Namespace).NetworkNamespace
            $actual = @($where | Where-Object PSComputerName -eq $h.Name)
            if ($actual.Count -ne 1 -or $actual[0] -ne $expected -or $expected -eq $script:OwnNamespace) {
                throw "The session to $($h.Name) runs in $actual, not in its namespace ${expected}: refusing to run statements that write sysctls"
            }
        }
        $where
    }

    # The idle program's connections on a host, rendered by the view: what the ghost hunt must show for them.
    function Get-IdleAppRow($HostEntry, $Connections) {
        @($Connections | Where-Object { $_.Processes.Count -gt 0 -and $_.Processes[0].Pid -eq $HostEntry.IdleProcess } | Sort-Object LocalPort, RemotePort)
    }
}

Describe 'Fleet: the README examples over SSH remoting to three hosts' {
    It 'has what a fleet on this machine needs' {
        if ($FleetMissing) { Set-ItResult -Skipped -Because "the fleet test needs $($FleetMissing -join ', ')" }
        $FleetMissing | Should -BeNullOrEmpty
    }

    # Skipped with the reason the It above gives: what the fleet on this machine lacks.
    Context 'Three hosts' -Skip:($FleetMissing.Count -gt 0) {
        BeforeAll {
            $script:Statements = @(Get-ReadmeFleetStatement)
            $script:HostSysctlsBefore = Get-HostKeepaliveSysctl
            $script:OwnNamespace = (Get-TcpKeepaliveSetting).NetworkNamespace

            $cli = @(
                Join-Path $script:RepoRoot 'out/pskeepalive/pskeepalive'
                Get-ChildItem (Join-Path $script:RepoRoot 'src/PSKeepalive.Cli/bin') -Recurse -Filter pskeepalive.dll -ErrorAction SilentlyContinue |
                    Sort-Object LastWriteTime -Descending | ForEach-Object FullName
            ) | Where-Object { Test-Path $_ } | Select-Object -First 1
            $script:Fleet = New-TestFleet -ModuleFolder (Split-Path -Parent $script:ModulePath) -CliPath $cli `
                -Sysctls @{ Time = 1101; Interval = 31; Probes = 4 }, @{ Time = 1202; Interval = 32; Probes = 5 }, @{ Time = 1303; Interval = 33; Probes = 6 } `
                -IdlePairs 1, 2, 3
            $script:Cli = $cli
            $script:Console = New-FleetConsole $script:Fleet.Hosts.Name
        }

        AfterAll {
            Close-FleetConsole $script:Console
            Remove-TestFleet $script:Fleet
        }

        It 'serves the hosts with the Subsystem line the README gives for a tool-installed pwsh' {
            $readme = Get-Content -Raw (Join-Path $script:RepoRoot 'README.md')
            $line = [regex]::Match($readme, '(?m)^Subsystem powershell /usr/bin/dotnet \S+/pwsh\.dll[^\r\n]*$').Value
            $line | Should -Not -BeNullOrEmpty
            # The same line but for where this machine keeps the tool (the README shows root's NuGet cache).
            ($line -replace '\S+/pwsh\.dll', 'PWSH.DLL') | Should -BeExactly ($script:Fleet.Subsystem -replace '\S+/pwsh\.dll', 'PWSH.DLL')
            $pinned = (Get-Content -Raw (Join-Path $script:RepoRoot '.config/dotnet-tools.json') | ConvertFrom-Json).tools.powershell.version
            $line | Should -Match "/powershell/$([regex]::Escape($pinned))/tools/net\d+\.\d+/any/unix/pwsh\.dll "
            $script:Fleet.Subsystem | Should -Match "/$([regex]::Escape($pinned))/"
        }

        It 'audits the settings of every host with Invoke-Command -HostName, each row from its own host' {
            $text = Show-Text (Invoke-FleetConsole $script:Console (Find-ReadmeStatement 'Get-TcpKeepaliveSetting', '-HostName'))
            $remoteScript = Get-RemoteScript (Find-ReadmeStatement 'Get-TcpKeepaliveSetting', '-HostName')
            foreach ($h in $script:Fleet.Hosts) {
                $local = Invoke-OnHost $h $remoteScript
                $local.Time, $local.Interval, $local.Probes | Should -Be $h.Sysctls.Time, $h.Sysctls.Interval, $h.Sysctls.Probes
                $row = "$($h.Name) $($local.Time) $($local.Interval) $($local.Probes) $($local.DeadPeerDetectionTime)"
                ($text -split "`n" | ForEach-Object { ($_.Trim() -split '\s+') -join ' ' }) | Should -Contain $row
            }
        }

        It 'opens one session per host' {
            Invoke-FleetConsole $script:Console (Find-ReadmeStatement 'New-PSSession')
            $sessions = @(Invoke-FleetConsole $script:Console '$sessions')
            $sessions | Should -HaveCount 3
            @($sessions | Where-Object State -eq 'Opened') | Should -HaveCount 3
            # Each session runs in its own host's namespace, not in the machine's: later statements change sysctls.
            $where = Assert-SessionsInTheirNamespace $script:Console
            $where | Should -HaveCount 3
            $where | Should -Not -Contain $script:OwnNamespace
        }

        It 'hunts the ghosts by host and program, and shows them as the host itself does' {
            $statement = Find-ReadmeStatement 'NoKeepalive', 'Group-Object' -Unlike 'Enable-TcpKeepalive'
            $groups = @(Invoke-FleetConsole $script:Console $statement)
            foreach ($h in $script:Fleet.Hosts) {
                $mine = @($groups | Where-Object { $_.Values[0] -eq $h.Name })
                $app = @($mine | Where-Object { $_.Values[1] -eq $h.IdleProcessName })
                $app | Should -HaveCount 1 -Because "$($h.IdleProcessName) runs on $($h.Name)"
                $app[0].Count | Should -Be (2 * $h.IdlePorts.Count)
                # Besides the program, at most the ProxyCommand's nc (its end of the SSH connection has no keepalive).
                @($mine | Where-Object { $_.Values[1] -notin $h.IdleProcessName, 'nc' }).Values | Should -BeNullOrEmpty

                $remote = Get-IdleAppRow $h $app[0].Group
                $local = Get-IdleAppRow $h (Invoke-OnHost $h (Get-RemoteScript $statement))
                $remote | Should -HaveCount (2 * $h.IdlePorts.Count)
                $expected = Show-Text $local
                $expected | Should -Match "off\s+$($h.IdleProcessName)/$($h.IdleProcess)"
                Show-Text $remote | Should -BeExactly $expected -Because 'a remote connection shows in the table view as on the host'
            }
            # Sorted by count, as the README promises.
            $counts = @($groups | ForEach-Object Count)
            $counts | Should -HaveCount $groups.Count
            $counts | Should -Be @($counts | Sort-Object -Descending)
        }

        It 'hunts the same ghosts from a client without the module (no types, no views there)' {
            # One host is enough for the client's side of the shape, and each remote pwsh costs seconds of CPU.
            $h = $script:Fleet.Hosts[2]
            $bare = New-FleetConsole $h.Name -WithoutModule
            try {
                Invoke-FleetConsole $bare (Find-ReadmeStatement 'New-PSSession')
                $groups = @(Invoke-FleetConsole $bare (Find-ReadmeStatement 'NoKeepalive', 'Group-Object' -Unlike 'Enable-TcpKeepalive'))
                $app = @($groups | Where-Object { $_.Values[0] -eq $h.Name -and $_.Values[1] -eq $h.IdleProcessName })
                $app.Count | Should -Be 1
                @($app[0].Group | Where-Object State -eq Established) | Should -HaveCount (2 * $h.IdlePorts.Count)
                @($app[0].Group.Processes.Pid | Sort-Object -Unique) | Should -Be $h.IdleProcess
                @($app[0].Group.LocalPort | Sort-Object) | Should -Be @((Get-TcpConnection -NetworkNamespace $h.Namespace -OwningProcess $h.IdleProcess -State Established).LocalPort | Sort-Object)
                $app[0].Group[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.PSKeepalive.Core.Connections.TcpConnection'
                Invoke-FleetConsole $bare (Find-ReadmeStatement 'Remove-PSSession')
            }
            finally { Close-FleetConsole $bare }
        }

        It 'finds the same ghosts with the CLI over plain ssh' {
            if (-not $script:Cli) { Set-ItResult -Skipped -Because 'no pskeepalive CLI is built (dotnet build, or dotnet publish src/PSKeepalive.Cli -o out/pskeepalive)' }
            $line = [regex]::Match((Get-Content -Raw (Join-Path $script:RepoRoot 'README.md')), '(?m)^ssh web1 (pskeepalive [^\r\n]*)$').Groups[1].Value
            $line | Should -Not -BeNullOrEmpty -Because "README.md shows the CLI route as 'ssh web1 pskeepalive ...'"
            foreach ($h in $script:Fleet.Hosts) {
                $json = Invoke-FleetTool ssh (@($h.Name) + ($line -split ' ')) 30 | ConvertFrom-Json
                $ghostPorts = @($json | Where-Object { $_.noKeepalive -and $_.state -eq 'established' } | ForEach-Object localPort)
                $appPorts = @((Get-TcpConnection -NetworkNamespace $h.Namespace -OwningProcess $h.IdleProcess -State Established).LocalPort)
                $appPorts | Should -HaveCount (2 * $h.IdlePorts.Count)
                foreach ($port in $appPorts) { $ghostPorts | Should -Contain $port }
            }
        }

        It 'fixes the ghosts live on every host with Enable-TcpKeepalive' {
            $results = @(Invoke-FleetConsole $script:Console (Find-ReadmeStatement 'Enable-TcpKeepalive'))
            foreach ($h in $script:Fleet.Hosts) {
                $applied = @($results | Where-Object { $_.PSComputerName -eq $h.Name -and $_.Pid -eq $h.IdleProcess })
                $applied | Should -HaveCount (2 * $h.IdlePorts.Count)
                $applied.Outcome | Sort-Object -Unique | Should -Be 'Applied'
                $applied.ProcessName | Sort-Object -Unique | Should -Be $h.IdleProcessName
                @($applied | Where-Object { $_.After.Enabled -and $_.After.Idle -eq 60 -and $_.After.Interval -eq 10 -and $_.After.ProbeCount -eq 6 }) | Should -HaveCount $applied.Count
                (Show-Text $applied) -split "`n" | Where-Object { $_ -match 'Applied\s+on 60/10/6' } | Should -HaveCount $applied.Count

                # Checked on the host itself: the program's own sockets now carry the options.
                $sockets = @(Get-TcpConnection -NetworkNamespace $h.Namespace -OwningProcess $h.IdleProcess -State Established -IncludeSocketOption)
                $sockets | Should -HaveCount (2 * $h.IdlePorts.Count)
                @($sockets | Where-Object { $_.KeepaliveEnabled -and $_.Idle -eq 60 -and $_.Interval -eq 10 -and $_.ProbeCount -eq 6 }) | Should -HaveCount $sockets.Count
            }
        }

        It 'shows the former ghosts with a keepalive timer, grouped by host, as each host does' {
            $statement = Find-ReadmeStatement 'Format-Table -GroupBy PSComputerName'
            $text = Show-Text (Invoke-FleetConsole $script:Console $statement) -TimerAgnostic
            $byHost = @{}
            foreach ($part in $text -split '(?m)^\s*PSComputerName: ') {
                if ($part -match '^(\S+)') { $byHost[$Matches[1]] = $part }
            }
            # The view's own columns, without the PSComputerName column (-HideComputerName).
            $text -split "`n" | Should -Contain 'State Local Remote Keepalive Process'
            foreach ($h in $script:Fleet.Hosts) {
                $byHost.Keys | Should -Contain $h.Name
                # Locally, the program's connections alone (-OwningProcess reads one process, not every process).
                $local = Show-Text (Invoke-OnHost $h "Get-TcpConnection -State Established -OwningProcess $($h.IdleProcess)" -HideComputerName) -TimerAgnostic
                $rows = @($local -split "`n" | Where-Object { $_ -match "$($h.IdleProcessName)/" })
                $rows | Should -HaveCount (2 * $h.IdlePorts.Count)
                foreach ($row in $rows) {
                    $row | Should -Match "keepalive T/0 $($h.IdleProcessName)/$($h.IdleProcess)$"
                    $byHost[$h.Name] -split "`n" | Should -Contain $row
                }
                foreach ($other in $script:Fleet.Hosts | Where-Object Name -ne $h.Name) {
                    $byHost[$h.Name] | Should -Not -Match "$($other.IdleProcessName)/"
                }
            }
        }

        It 'runs Set-TcpKeepaliveSetting -WhatIf on every host, which changes nothing' {
            $null = Assert-SessionsInTheirNamespace $script:Console
            Invoke-FleetConsole $script:Console (Find-ReadmeStatement 'Set-TcpKeepaliveSetting', '-WhatIf') | Should -BeNullOrEmpty
            foreach ($h in $script:Fleet.Hosts) {
                $now = Read-NamespaceSysctl $h
                $now.Time, $now.Interval, $now.Probes | Should -Be $h.Sysctls.Time, $h.Sysctls.Interval, $h.Sysctls.Probes
            }
        }

        It 'sets the keepalive sysctls of every host, and only theirs' {
            $null = Assert-SessionsInTheirNamespace $script:Console
            $text = Show-Text (Invoke-FleetConsole $script:Console (Find-ReadmeStatement 'Set-TcpKeepaliveSetting', '-PassThru' -Unlike '-WhatIf'))
            foreach ($h in $script:Fleet.Hosts) {
                $now = Read-NamespaceSysctl $h
                $now.Time, $now.Interval, $now.Probes | Should -Be 600, 10, 6
                ($text -split "`n" | ForEach-Object { ($_.Trim() -split '\s+') -join ' ' }) | Should -Contain "$($h.Name) 600 10 6 00:11:00"
            }
            Get-HostKeepaliveSysctl | Should -Be $script:HostSysctlsBefore
        }

        It 'closes the sessions' {
            Invoke-FleetConsole $script:Console (Find-ReadmeStatement 'Remove-PSSession')
            @(Invoke-FleetConsole $script:Console 'Get-PSSession') | Should -BeNullOrEmpty
        }
    }
}

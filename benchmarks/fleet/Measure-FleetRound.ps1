#!/usr/bin/env pwsh
<#
.SYNOPSIS
    What a fleet round costs over PowerShell SSH remoting, on three hosts made on this machine (tests/fleet.ps1):
    a cold Invoke-Command -HostName, New-PSSession, warm Invoke-Command -Session, and the memory a session holds.
.DESCRIPTION
    The client's first round is not counted (JIT of its remoting code). Wall time, and CPU time split into the client (this pwsh, its ssh and the ProxyCommand processes) and the
    hosts (sshd sessions and the remote pwsh), each read from a cgroup v2 made for the run (cpu.stat usage_usec
    counts every process in it and below). Memory: VmRSS and Pss of each remote pwsh and sshd session process
    while the sessions are open. Prints a markdown table and the load average before and after; root only.
    Run from the repository root after `dotnet publish src/PSKeepalive -c Release -o out/PSKeepalive`:
        dotnet pwsh -NoProfile -File benchmarks/fleet/Measure-FleetRound.ps1
#>
param([int] $Repeat = 5)

$ErrorActionPreference = 'Stop'
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')
Import-Module (Join-Path $root 'out/PSKeepalive/PSKeepalive.psd1')
. (Join-Path $root 'tests/fleet.ps1')
$missing = Get-TestFleetMissing
if ($missing) { throw "The fleet needs $($missing -join ', ')" }

$cgroupMount = (Get-Content /proc/self/mountinfo | Where-Object { $_ -match ' - cgroup2 ' } | Select-Object -First 1) -split ' ' | Select-Object -Index 4
if (-not $cgroupMount) { throw 'No cgroup2 mount found' }
$ownCgroup = Join-Path $cgroupMount ((Get-Content /proc/self/cgroup | Where-Object { $_ -like '0::*' }).Substring(3))

function Read-CpuSeconds([string] $Cgroup) {
    [double]((Get-Content (Join-Path $Cgroup 'cpu.stat') | Where-Object { $_ -like 'usage_usec *' }) -split ' ')[1] / 1e6
}

function Measure-Round([string] $Name, [scriptblock] $Round) {
    $client0 = Read-CpuSeconds $clientCgroup; $hosts0 = Read-CpuSeconds $hostCgroup
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $null = & $Round
    $watch.Stop()
    [pscustomobject]@{
        Round = $Name; Wall = $watch.Elapsed.TotalSeconds
        ClientCpu = (Read-CpuSeconds $clientCgroup) - $client0; HostCpu = (Read-CpuSeconds $hostCgroup) - $hosts0
    }
}

function Get-Median([double[]] $Values) { $s = $Values | Sort-Object; $s[[int][math]::Floor(($s.Count - 1) / 2)] }

$load = @{ Before = (Get-Content /proc/loadavg) }
$fleet = $null
$id = 'pskf-bench-' + [guid]::NewGuid().ToString('N').Substring(0, 6)
$benchCgroup = Join-Path $cgroupMount $id
$clientCgroup = Join-Path $benchCgroup 'client'
$hostCgroup = Join-Path $benchCgroup 'hosts'
try {
    $fleet = New-TestFleet -ModuleFolder (Join-Path $root 'out/PSKeepalive') -IdlePairs 1, 2, 3
    $hosts = [string[]]$fleet.Hosts.Name
    $null = New-Item -ItemType Directory -Path $benchCgroup, $clientCgroup, $hostCgroup
    Set-Content (Join-Path $clientCgroup 'cgroup.procs') $PID
    foreach ($h in $fleet.Hosts) {
        $sshd = (Get-ChildItem /proc -Directory | Where-Object { $_.Name -match '^\d+$' } | Where-Object {
                (Get-Content "$($_.FullName)/stat" -ErrorAction SilentlyContinue) -match "^\d+ \(sshd\) \S+ $($h.Sshd.Id) "
            }).Name
        Set-Content (Join-Path $hostCgroup 'cgroup.procs') $sshd
    }

    # One round first, not counted: the client's own remoting code is compiled (JIT) on its first use.
    $null = Invoke-Command -HostName $hosts -ScriptBlock { Get-TcpKeepaliveSetting }
    $rows = [System.Collections.Generic.List[object]]::new()
    for ($i = 0; $i -lt $Repeat; $i++) {
        $rows.Add((Measure-Round 'cold Invoke-Command -HostName (3 hosts), Get-TcpKeepaliveSetting' { Invoke-Command -HostName $hosts -ScriptBlock { Get-TcpKeepaliveSetting } }))
    }
    for ($i = 0; $i -lt $Repeat; $i++) {
        $rows.Add((Measure-Round 'cold Invoke-Command -HostName (3 hosts), ghost hunt' { Invoke-Command -HostName $hosts -ScriptBlock { Get-TcpConnection -State Established -IncludeProcess | Where-Object NoKeepalive } }))
    }
    $sessions = $null
    $rows.Add((Measure-Round 'New-PSSession -HostName (3 hosts)' { $script:sessions = New-PSSession -HostName $hosts }))
    $rows.Add((Measure-Round 'first Invoke-Command -Session (module loads)' { Invoke-Command -Session $sessions -ScriptBlock { Get-TcpKeepaliveSetting } }))
    for ($i = 0; $i -lt 2 * $Repeat; $i++) {
        $rows.Add((Measure-Round 'warm Invoke-Command -Session, Get-TcpKeepaliveSetting' { Invoke-Command -Session $sessions -ScriptBlock { Get-TcpKeepaliveSetting } }))
    }
    for ($i = 0; $i -lt 2 * $Repeat; $i++) {
        $rows.Add((Measure-Round 'warm Invoke-Command -Session, ghost hunt' { Invoke-Command -Session $sessions -ScriptBlock { Get-TcpConnection -State Established -IncludeProcess | Where-Object NoKeepalive } }))
    }

    # Memory held per open session, on each host: the remote pwsh and the sshd processes serving the session.
    $memory = foreach ($h in $fleet.Hosts) {
        foreach ($p in & ip netns pids $h.Name) {
            $cmdline = (Get-Content -Raw "/proc/$p/cmdline" -ErrorAction SilentlyContinue) -replace "`0", ' '
            $kind = if ($cmdline -match 'pwsh\.dll -sshs') { 'remote pwsh' } elseif ($cmdline -match '^sshd: root') { 'sshd session' } else { continue }
            $status = Get-Content "/proc/$p/status"
            $pss = (Get-Content "/proc/$p/smaps_rollup" | Where-Object { $_ -like 'Pss:*' }) -replace '\D', ''
            [pscustomobject]@{ Host = $h.Name; Kind = $kind; RssMiB = [int](($status | Where-Object { $_ -like 'VmRSS:*' }) -replace '\D', '') / 1024; PssMiB = [int]$pss / 1024 }
        }
    }
    Remove-PSSession $sessions
    $load.After = Get-Content /proc/loadavg

    # -IncludeProcess walks every descriptor of every process of the machine: its size explains the ghost hunt's cost.
    $descriptors = (& sh -c 'find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l').Trim()
    $processes = @(Get-ChildItem /proc -Directory | Where-Object Name -match '^\d+$').Count
    "Load average before: $($load.Before); after: $($load.After); $([Environment]::ProcessorCount) CPUs; $processes processes with $descriptors descriptors"
    ''
    '| round | runs | wall (median) | client CPU | hosts CPU (all three) |'
    '|---|---:|---:|---:|---:|'
    foreach ($g in $rows | Group-Object Round) {
        '| {0} | {1} | {2:0.00} s | {3:0.00} s | {4:0.00} s |' -f $g.Name, $g.Count, (Get-Median $g.Group.Wall), (Get-Median $g.Group.ClientCpu), (Get-Median $g.Group.HostCpu)
    }
    ''
    '| per session, per host | processes | RSS (median) | Pss (median) |'
    '|---|---:|---:|---:|'
    foreach ($g in $memory | Group-Object Kind) {
        $perHost = $g.Group | Group-Object Host | ForEach-Object { [pscustomobject]@{ Rss = ($_.Group.RssMiB | Measure-Object -Sum).Sum; Pss = ($_.Group.PssMiB | Measure-Object -Sum).Sum; Count = $_.Count } }
        '| {0} | {1} | {2:0} MiB | {3:0} MiB |' -f $g.Name, $perHost[0].Count, (Get-Median $perHost.Rss), (Get-Median $perHost.Pss)
    }
}
finally {
    if (Test-Path $benchCgroup) { Set-Content (Join-Path $ownCgroup 'cgroup.procs') $PID }
    Remove-TestFleet $fleet
    foreach ($cg in $clientCgroup, $hostCgroup, $benchCgroup) {
        if (Test-Path $cg) { & rmdir $cg }
    }
}

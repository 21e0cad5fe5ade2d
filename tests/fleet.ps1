# A throw-away fleet on this machine for the fleet suite (Fleet.Tests.ps1) and benchmarks/fleet: N network
# namespaces as hosts, each with its own sshd on its own 127.0.0.1:22 and the PowerShell subsystem, the staged
# module installed for root on each host as Install-Module -Scope CurrentUser would, and an ssh client that
# reaches them only through `ProxyCommand ip netns exec NS nc 127.0.0.1 22` (no address is routed).
# Everything lives under one /tmp folder and is removed by Remove-TestFleet, which is safe to call at any
# point of a failed set-up. Needs root, ip, sshd, ssh, ssh-keygen, nc and python3 (Get-TestFleetMissing).

# What the fleet needs that this machine lacks; empty when a fleet can be built.
function Get-TestFleetMissing {
    $missing = @()
    if ((& id -u) -ne '0') { $missing += 'root (network namespaces and sshd)' }
    foreach ($tool in 'ip', 'ssh', 'ssh-keygen', 'nc', 'python3') {
        if (-not (Get-Command $tool -CommandType Application -ErrorAction SilentlyContinue)) { $missing += $tool }
    }
    if (-not (Test-Path /usr/sbin/sshd)) { $missing += '/usr/sbin/sshd (openssh-server)' }
    if (-not (Get-TestFleetPwshDll)) { $missing += 'pwsh.dll of the pinned PowerShell tool (dotnet tool restore)' }
    $missing
}

# The pwsh.dll of the running PowerShell: the subsystem starts the very version the client runs, by absolute
# paths (/usr/bin/dotnet PATH/pwsh.dll), because sshd gives the subsystem a minimal PATH and the tool's pwsh
# shim looks dotnet up through PATH.
function Get-TestFleetPwshDll {
    $dll = Join-Path $PSHOME 'pwsh.dll'
    if (Test-Path $dll) { $dll }
}

function Get-TestFleetDotnet {
    foreach ($candidate in '/usr/bin/dotnet', (Get-Command dotnet -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1 -ExpandProperty Source)) {
        if ($candidate -and (Test-Path $candidate)) { return $candidate }
    }
}

# Output (and stderr or stdin, as asked) redirected; arguments passed one by one, never through a shell.
function New-FleetStartInfo([string] $FilePath, [string[]] $ArgumentList, [switch] $RedirectError, [switch] $RedirectInput) {
    $start = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($a in $ArgumentList) { $start.ArgumentList.Add($a) }
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $RedirectError.IsPresent
    $start.RedirectStandardInput = $RedirectInput.IsPresent
    $start.UseShellExecute = $false
    $start
}

# Runs a program to completion with a bounded wait; throws with its output when it fails or hangs.
function Invoke-FleetTool([string] $FilePath, [string[]] $ArgumentList, [int] $TimeoutSeconds = 20) {
    $process = [System.Diagnostics.Process]::Start((New-FleetStartInfo $FilePath $ArgumentList -RedirectError))
    $stdout = $process.StandardOutput.ReadToEndAsync()
    $stderr = $process.StandardError.ReadToEndAsync()
    if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
        $process.Kill($true)
        throw "$FilePath $($ArgumentList -join ' ') did not end within $TimeoutSeconds s"
    }
    $process.WaitForExit()
    if ($process.ExitCode -ne 0) {
        throw "$FilePath $($ArgumentList -join ' ') failed with exit code $($process.ExitCode): $($stderr.Result)$($stdout.Result)"
    }
    $stdout.Result
}

# Starts a long-running program in the background (its PID is recorded for teardown) with stdin kept open:
# the programs started here end by themselves when it closes, so nothing outlives a crashed test process.
function Start-FleetProcess($Fleet, [string] $FilePath, [string[]] $ArgumentList) {
    $process = [System.Diagnostics.Process]::Start((New-FleetStartInfo $FilePath $ArgumentList -RedirectInput))
    $Fleet.Processes.Add($process)
    $process
}

<#
.SYNOPSIS
    Builds a fleet of $Count hosts named "pskf-<random>-<n>" and returns its description. On any failure it
    tears down what it made and rethrows.
.PARAMETER ModuleFolder
    The staged module (out/PSKeepalive); copied to each host's ~/.local/share/powershell/Modules/PSKeepalive.
.PARAMETER CliPath
    Optional: a `pskeepalive` executable, or a pskeepalive.dll to run with dotnet, put on each host's PATH.
.PARAMETER Sysctls
    One hashtable per host (Time, Interval, Probes) written to the host's net.ipv4.tcp_keepalive_* sysctls.
.PARAMETER IdlePairs
    Per host, how many idle loopback connections without keepalive its "legacy-app-<n>" process holds.
#>
function New-TestFleet {
    param(
        [int] $Count = 3,
        [Parameter(Mandatory)] [string] $ModuleFolder,
        [string] $CliPath,
        [hashtable[]] $Sysctls = @(),
        [int[]] $IdlePairs = @()
    )

    $id = 'pskf-' + [guid]::NewGuid().ToString('N').Substring(0, 6)
    $fleet = [pscustomobject]@{
        Id        = $id
        Root      = Join-Path ([System.IO.Path]::GetTempPath()) $id
        Hosts     = [System.Collections.Generic.List[object]]::new()
        Processes = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()
        OldPath   = $env:PATH
        SshConfig = $null
        Subsystem = $null
        MadeSshdRun = $false
    }

    try {
        $pwshDll = Get-TestFleetPwshDll
        $dotnet = Get-TestFleetDotnet
        $fleet.Subsystem = "Subsystem powershell $dotnet $pwshDll -sshs -NoLogo -NoProfile"
        $null = New-Item -ItemType Directory -Path $fleet.Root
        & chmod 0700 $fleet.Root
        # sshd's privilege separation folder, normally made by the openssh-server service; removed again at teardown
        # when this fleet made it.
        if (-not (Test-Path /run/sshd)) {
            $null = New-Item -ItemType Directory -Path /run/sshd
            $fleet.MadeSshdRun = $true
        }

        $clientKey = Join-Path $fleet.Root 'client_ed25519'
        $null = Invoke-FleetTool ssh-keygen @('-q', '-t', 'ed25519', '-N', '', '-C', "$id-client", '-f', $clientKey)
        Copy-Item "$clientKey.pub" (Join-Path $fleet.Root 'authorized_keys')

        $knownHosts = [System.Collections.Generic.List[string]]::new()
        $clientConfig = [System.Text.StringBuilder]::new()
        for ($n = 1; $n -le $Count; $n++) {
            $name = "$id-$n"
            $dir = Join-Path $fleet.Root $name
            $hostHome = Join-Path $dir 'home'
            $bin = Join-Path $dir 'bin'
            $null = New-Item -ItemType Directory -Path $hostHome, $bin
            $hostEntry = [pscustomobject]@{
                Name = $name; Namespace = "/run/netns/$name"; Directory = $dir; Home = $hostHome
                Sysctls = $null; IdleProcess = $null; IdleProcessName = $null; IdlePorts = @(); Sshd = $null
            }
            $null = Invoke-FleetTool ip @('netns', 'add', $name)
            $fleet.Hosts.Add($hostEntry)
            $null = Invoke-FleetTool ip @('-n', $name, 'link', 'set', 'lo', 'up')

            # The module, installed for root on this host the way Install-Module -Scope CurrentUser does it.
            $modules = Join-Path $hostHome '.local/share/powershell/Modules'
            $null = New-Item -ItemType Directory -Path $modules
            Copy-Item -Recurse $ModuleFolder (Join-Path $modules 'PSKeepalive')

            if ($CliPath) {
                $cli = Join-Path $bin 'pskeepalive'
                if ($CliPath.EndsWith('.dll')) {
                    Set-Content -Path $cli -Value "#!/bin/sh`nexec $dotnet $CliPath `"`$@`"`n"
                    & chmod 0755 $cli
                }
                else { $null = New-Item -ItemType SymbolicLink -Path $cli -Target $CliPath }
            }

            $hostKey = Join-Path $dir 'ssh_host_ed25519_key'
            $null = Invoke-FleetTool ssh-keygen @('-q', '-t', 'ed25519', '-N', '', '-C', $name, '-f', $hostKey)
            $knownHosts.Add("$name " + ((Get-Content "$hostKey.pub") -split ' ')[0..1] -join ' ')

            $sshdConfig = Join-Path $dir 'sshd_config'
            Set-Content -Path $sshdConfig -Value @"
ListenAddress 127.0.0.1:22
HostKey $hostKey
PidFile none
AuthorizedKeysFile $(Join-Path $fleet.Root 'authorized_keys')
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The fleet's files live under /tmp, which StrictModes refuses (world-writable); real hosts keep it on.
StrictModes no
PrintMotd no
LogLevel VERBOSE
$($fleet.Subsystem)
SetEnv HOME=$hostHome PATH=${bin}:/usr/local/bin:/usr/bin:/bin POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off
"@
            # -D: stays in the foreground as our child; `timeout` ends it should this process die before teardown.
            $hostEntry.Sshd = Start-FleetProcess $fleet ip @('netns', 'exec', $name, 'timeout', '600', '/usr/sbin/sshd', '-D', '-f', $sshdConfig, '-E', (Join-Path $dir 'sshd.log'))

            $null = $clientConfig.AppendLine("Host $name").AppendLine("    ProxyCommand ip netns exec $name nc 127.0.0.1 22")

            if ($n -le $Sysctls.Count -and $Sysctls[$n - 1]) {
                $s = $Sysctls[$n - 1]
                $null = Invoke-FleetTool ip @('netns', 'exec', $name, 'sh', '-c', "echo $($s.Time) > /proc/sys/net/ipv4/tcp_keepalive_time && echo $($s.Interval) > /proc/sys/net/ipv4/tcp_keepalive_intvl && echo $($s.Probes) > /proc/sys/net/ipv4/tcp_keepalive_probes")
                $hostEntry.Sysctls = $s
            }

            if ($n -le $IdlePairs.Count -and $IdlePairs[$n - 1] -gt 0) {
                Start-FleetIdleApp $fleet $hostEntry "legacy-app-$n" $IdlePairs[$n - 1]
            }
        }

        Set-Content -Path (Join-Path $fleet.Root 'known_hosts') -Value $knownHosts
        $fleet.SshConfig = Join-Path $fleet.Root 'ssh_config'
        $null = $clientConfig.Append(@"
Host *
    User root
    IdentityFile $clientKey
    IdentitiesOnly yes
    UserKnownHostsFile $(Join-Path $fleet.Root 'known_hosts')
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 10
    ServerAliveInterval 5
    ServerAliveCountMax 3
    LogLevel ERROR
"@)
        Set-Content -Path $fleet.SshConfig -Value $clientConfig.ToString()

        # ssh reads ~/.ssh/config of the passwd entry, not of $HOME, and PowerShell runs `ssh` from PATH: a wrapper
        # first on PATH pins this fleet's client configuration.
        $clientBin = Join-Path $fleet.Root 'client-bin'
        $null = New-Item -ItemType Directory -Path $clientBin
        Set-Content -Path (Join-Path $clientBin 'ssh') -Value "#!/bin/sh`nexec /usr/bin/ssh -F $($fleet.SshConfig) `"`$@`"`n"
        & chmod 0755 (Join-Path $clientBin 'ssh')
        $env:PATH = $clientBin + [System.IO.Path]::PathSeparator + $fleet.OldPath

        foreach ($h in $fleet.Hosts) { Wait-FleetSshd $h }
        $fleet
    }
    catch {
        Remove-TestFleet $fleet
        throw
    }
}

# A program that never asked for keepalive: python3 in the host's namespace, renamed to $ProcessName (comm),
# holding $Pairs idle loopback connections (both ends in the process), ending when its stdin closes or after
# 300 s. Records its PID and the client-side ports.
function Start-FleetIdleApp($Fleet, $HostEntry, [string] $ProcessName, [int] $Pairs) {
    $code = @"
import ctypes, select, socket, sys
ctypes.CDLL(None).prctl(15, b'$ProcessName', 0, 0, 0)
listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen(16)
held = []
for _ in range($Pairs):
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    held += [client, server]
print(' '.join(str(s.getsockname()[1]) for s in held[0::2]), flush=True)
select.select([sys.stdin], [], [], 300)
"@
    $process = Start-FleetProcess $Fleet ip @('netns', 'exec', $HostEntry.Name, 'python3', '-c', $code)
    $line = $process.StandardOutput.ReadLineAsync()
    if (-not $line.Wait(10000) -or -not $line.Result) { throw "$ProcessName did not start in $($HostEntry.Name) within 10 s" }
    $HostEntry.IdleProcess = $process.Id
    $HostEntry.IdleProcessName = $ProcessName
    $HostEntry.IdlePorts = @($line.Result.Trim() -split ' ' | ForEach-Object { [int]$_ })
}

function Wait-FleetSshd($HostEntry) {
    $deadline = [DateTime]::UtcNow.AddSeconds(15)
    while (-not (Get-TcpConnection -NetworkNamespace $HostEntry.Namespace -State Listen -LocalPort 22)) {
        if ($HostEntry.Sshd.HasExited -or [DateTime]::UtcNow -gt $deadline) {
            $log = Get-Content (Join-Path $HostEntry.Directory 'sshd.log') -Raw -ErrorAction SilentlyContinue
            throw "sshd of $($HostEntry.Name) is not listening on 127.0.0.1:22 (exited: $($HostEntry.Sshd.HasExited)): $log"
        }
        Start-Sleep -Milliseconds 50
    }
}

# Removes everything New-TestFleet made, in reverse: remote sessions to its hosts, every process in its
# namespaces (ours alone: sshd, its sessions, the subsystems, the idle apps), the namespaces, the folder, PATH.
function Remove-TestFleet($Fleet) {
    if ($null -eq $Fleet) { return }
    $names = @($Fleet.Hosts | ForEach-Object Name)
    Get-PSSession -ErrorAction SilentlyContinue | Where-Object ComputerName -in $names | Remove-PSSession -ErrorAction SilentlyContinue
    $env:PATH = $Fleet.OldPath

    foreach ($process in $Fleet.Processes) {
        try { if (-not $process.HasExited) { $process.StandardInput.Close(); $process.Kill($true) } } catch { }
    }
    foreach ($h in $Fleet.Hosts) {
        for ($round = 0; $round -lt 20; $round++) {
            $inside = @(& ip netns pids $h.Name 2>$null | Where-Object { $_ -match '^\d+$' } | ForEach-Object { [int]$_ })
            if ($inside.Count -eq 0) { break }
            Stop-Process -Id $inside -Force -ErrorAction SilentlyContinue
            Start-Sleep -Milliseconds 50
        }
        & ip netns delete $h.Name 2>$null
    }
    foreach ($process in $Fleet.Processes) { $null = $process.WaitForExit(5000); $process.Dispose() }
    if ($Fleet.Root -and (Test-Path $Fleet.Root)) { Remove-Item -Recurse -Force $Fleet.Root }
    # Not while any other sshd runs (a zombie of ours, not yet reaped, does not count): it chroots into the (always
    # empty) folder for every connection it takes.
    $otherSshd = Get-Process -Name sshd -ErrorAction SilentlyContinue | Where-Object {
        (Get-Content -Raw -LiteralPath "/proc/$($_.Id)/stat" -ErrorAction SilentlyContinue) -match '^\d+ \(.*\) [^Z]'
    }
    if ($Fleet.MadeSshdRun -and -not $otherSshd) {
        Remove-Item -LiteralPath /run/sshd -ErrorAction SilentlyContinue
    }
}

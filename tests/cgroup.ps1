# Throw-away cgroups for the keepalive policy suites (Set-/Get-/Remove-TcpKeepalivePolicy). Dot-source it after
# common.ps1, in BeforeDiscovery and BeforeAll. Policies need root and a cgroup2 mount; every cgroup made here is
# named pskeepalive-pester-*, holds only processes the suite started, and is removed in AfterAll/AfterEach
# (removing a cgroup frees the BPF programs attached to it).
$script:CgroupMount = Get-Content /proc/self/mountinfo |
    Where-Object { ($_ -split ' - ', 2)[1] -like 'cgroup2 *' } |
    ForEach-Object { ($_ -split ' ')[4] } |
    Select-Object -First 1
$CanSetPolicy = $script:CanSetPolicy = $IsRoot -and $null -ne $script:CgroupMount -and $HasPython

function New-TestCgroup([string] $Parent = $script:CgroupMount) {
    $path = Join-Path $Parent ('pskeepalive-pester-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-Item -ItemType Directory -Path $path | Out-Null
    $path
}

# Ends the processes the suite put in the cgroup (and its children), then removes the directories; bounded.
function Remove-TestCgroup([string] $Path) {
    if (-not $Path -or -not (Test-Path $Path)) { return }
    foreach ($child in Get-ChildItem -Directory $Path) { Remove-TestCgroup $child.FullName }
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while ($true) {
        foreach ($id in Get-Content (Join-Path $Path 'cgroup.procs')) {
            Stop-Process -Id ([int]$id) -Force -ErrorAction SilentlyContinue
        }
        try { [IO.Directory]::Delete($Path); return }
        catch [IO.IOException] {
            if ([DateTime]::UtcNow -gt $deadline) { throw }
            Start-Sleep -Milliseconds 20
        }
    }
}

# Starts a command inside the cgroup: sh moves itself in, then execs the command.
function Start-InCgroup([string] $Path, [string[]] $Command) {
    $start = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
    foreach ($argument in @('-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', $Path) + $Command) { $start.ArgumentList.Add($argument) }
    $start.RedirectStandardOutput = $true
    [System.Diagnostics.Process]::Start($start)
}

# A python3 connection to a listener of its own, made inside the cgroup; the keepalive options of both ends,
# as @{ outgoing = @{ so_keepalive = N; idle = N }; accepted = @{ ... } }.
function Invoke-PairProbe([string] $Path) {
    $code = @'
import socket
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1); l.settimeout(10)
c = socket.create_connection(l.getsockname(), timeout=10); a, _ = l.accept()
for name, s in (('outgoing', c), ('accepted', a)):
    print(name, 'so_keepalive=%d idle=%d' % (s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)))
'@
    $process = Start-InCgroup $Path @('python3', '-c', $code)
    $output = $process.StandardOutput.ReadToEndAsync()
    if (-not $process.WaitForExit(30000)) { $process.Kill(); throw 'the probe did not finish within 30 s' }
    $result = @{}
    foreach ($line in $output.Result -split "`n" | Where-Object { $_ }) {
        $words = $line -split ' '
        $values = @{}
        foreach ($pair in $words | Select-Object -Skip 1) { $k, $v = $pair -split '=', 2; $values[$k] = [int]$v }
        $result[$words[0]] = $values
    }
    $result
}

# Shared set-up for the Pester suites (tests/*.Tests.ps1). They run where pwsh and Pester 5 exist:
# `./build.ps1 -Task Test` stages the module in out/PSKeepalive first, then runs them.
# Dot-source it in BeforeDiscovery (so that -Skip conditions can use $IsRoot, $HasIpNetns, ...) and in BeforeAll.
$ErrorActionPreference = 'Stop'
$script:RepoRoot = Split-Path -Parent $PSScriptRoot
$script:ModulePath = Join-Path $script:RepoRoot 'out/PSKeepalive/PSKeepalive.psd1'
if (-not (Test-Path $script:ModulePath)) {
    throw "The module is not staged at $script:ModulePath: run ./build.ps1 -Task Build first."
}
Import-Module $script:ModulePath -Force

# Root is needed for namespaces, other users' processes and sysctl writes.
$IsRoot = $script:IsRoot = (& id -u) -eq '0'
$HasIpNetns = $script:HasIpNetns = $null -ne (Get-Command ip -ErrorAction SilentlyContinue)
$HasCompiler = $script:HasCompiler = $null -ne (Get-Command cc -ErrorAction SilentlyContinue)
$HasPython = $script:HasPython = $null -ne (Get-Command python3 -ErrorAction SilentlyContinue)
# Makes a socket deaf as Test-TcpKeepalive does (the module's own drop-all SO_ATTACH_FILTER): every incoming
# segment is dropped before TCP sees it, so keepalive probes go unanswered.
function Set-DeafSocket([System.Net.Sockets.Socket] $Socket) {
    $attach = [PSKeepalive.Core.Settings.TcpKeepaliveSettings].Assembly.GetType('PSKeepalive.Core.SelfTest.DeafPeer', $true).
        GetMethod('AttachDropAll', [System.Reflection.BindingFlags] 'NonPublic, Static')
    $null = $attach.Invoke($null, @($Socket.SafeHandle, $Socket))
}

# Whether this user may make a socket deaf: some kernels (kernel.unprivileged_bpf_disabled = 2) refuse socket
# filters to unprivileged users. Root always may.
$CanMakeDeafPeer = $script:CanMakeDeafPeer = $IsRoot -or $(
    $probe = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
    try { Set-DeafSocket $probe; $true }
    catch { $false }
    finally { $probe.Dispose() }
)
# Some hosts (a container's view of an outer PID 1) let even root list /proc/1/fd but not read its links.
$Pid1DeniesRoot = $script:Pid1DeniesRoot = $IsRoot -and @(Get-ChildItem /proc/1/fd -Name -ErrorAction SilentlyContinue).Count -gt 0 -and
    ($null -eq (& readlink /proc/1/fd/0 2>$null))

# A throw-away network namespace (ip netns) so that writes never touch the host's sysctls.
function New-TestNetworkNamespace {
    $name = 'pskeepalive-pester-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    & ip netns add $name
    if ($LASTEXITCODE -ne 0) { throw "ip netns add $name failed" }
    & ip -n $name link set lo up
    "/run/netns/$name"
}

function Remove-TestNetworkNamespace([string] $Path) {
    & ip netns delete (Split-Path -Leaf $Path) 2>$null
}

function Get-HostKeepaliveSysctl {
    foreach ($name in 'tcp_keepalive_time', 'tcp_keepalive_intvl', 'tcp_keepalive_probes') {
        [int](Get-Content "/proc/sys/net/ipv4/$name")
    }
}

# A python3 child holding one loopback connection to a listener of the test. $Code is python source in which
# {PORT} is replaced by the listener's port. The accept waits at most 10 s, so a child that fails to start or
# connect fails the set-up instead of hanging the run. The child must end by itself (time.sleep(60)).
function Start-PythonLoopbackClient([string] $Code) {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try {
        $port = $listener.LocalEndpoint.Port
        $start = [System.Diagnostics.ProcessStartInfo]::new('python3')
        $start.ArgumentList.Add('-c')
        $start.ArgumentList.Add($Code.Replace('{PORT}', [string]$port))
        $child = [System.Diagnostics.Process]::Start($start)
        $accept = $listener.AcceptTcpClientAsync()
        if (-not $accept.Wait(10000)) {
            if (-not $child.HasExited) { $child.Kill() }
            throw "python3 did not connect to 127.0.0.1:$port within 10 s"
        }
        $peer = $accept.Result
        [pscustomobject]@{ Child = $child; Peer = $peer; Port = $port; ChildPort = $peer.Client.RemoteEndPoint.Port }
    }
    finally { $listener.Stop() }
}

# Ends what Start-PythonLoopbackClient started (safe to call with $null).
function Stop-PythonLoopbackClient($Client) {
    if ($null -eq $Client) { return }
    if (-not $Client.Child.HasExited) { $Client.Child.Kill(); $null = $Client.Child.WaitForExit(5000) }
    $Client.Peer.Dispose()
}

# Reads what the sockprobe fixture printed: one line per socket, "NAME key=value ...", into
# @{ NAME = @{ key = value } } (used by the Start-KeepaliveProcess suites).
function Read-Probe([string] $Path) {
    $result = @{}
    foreach ($line in Get-Content $Path) {
        $words = $line -split ' '
        $values = @{}
        foreach ($pair in $words | Select-Object -Skip 1) {
            $k, $v = $pair -split '=', 2
            $values[$k] = [int]$v
        }
        $result[$words[0]] = $values
    }
    $result
}

# Runs a command in a new pwsh (the same version as this one, -NoProfile), with extra environment variables,
# and returns its exit code and output. The wait is bounded; a child that does not end is killed. With
# -NetworkNamespace the child runs inside that namespace (`ip netns exec`), so that whatever it calls "this network
# namespace" is a throw-away one.
function Invoke-ChildPwsh([string] $Command, [hashtable] $Environment = @{}, [string] $WorkingDirectory = $PWD.Path, [int] $TimeoutSeconds = 120, [string] $NetworkNamespace) {
    $processPath = [Environment]::ProcessPath
    $start = [System.Diagnostics.ProcessStartInfo]::new($processPath)
    if ($NetworkNamespace) {
        $start.FileName = 'ip'
        foreach ($argument in 'netns', 'exec', (Split-Path -Leaf $NetworkNamespace), $processPath) { $start.ArgumentList.Add($argument) }
    }
    # `dotnet pwsh` runs pwsh.dll under dotnet; an installed pwsh is its own executable.
    if ([IO.Path]::GetFileNameWithoutExtension($processPath) -eq 'dotnet') { $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
    foreach ($argument in '-NoProfile', '-NonInteractive', '-Command', $Command) { $start.ArgumentList.Add($argument) }
    foreach ($key in $Environment.Keys) { $start.Environment[$key] = $Environment[$key] }
    $start.WorkingDirectory = $WorkingDirectory
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $child = [System.Diagnostics.Process]::Start($start)
    $stdout = $child.StandardOutput.ReadToEndAsync()
    $stderr = $child.StandardError.ReadToEndAsync()
    if (-not $child.WaitForExit($TimeoutSeconds * 1000)) {
        $child.Kill($true)
        throw "pwsh -Command '$Command' did not end within $TimeoutSeconds s"
    }
    $child.WaitForExit()
    [pscustomobject]@{ ExitCode = $child.ExitCode; Output = $stdout.Result; Error = $stderr.Result }
}

# Runs $Script in a child pwsh with the staged module imported and errors stopping it (see Invoke-ChildPwsh).
function Invoke-ModuleInChildPwsh([string] $Script, [string] $NetworkNamespace, [int] $TimeoutSeconds = 60) {
    Invoke-ChildPwsh -Command ("`$ErrorActionPreference = 'Stop'; Import-Module '$script:ModulePath'; " + $Script) -NetworkNamespace $NetworkNamespace -TimeoutSeconds $TimeoutSeconds
}

BeforeDiscovery {
    . $PSScriptRoot/common.ps1
    $CanUseCgroup = [PSKeepalive.Core.Launch.CgroupLauncher]::CheckSupport().IsSupported -and $HasPython
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    $script:work = Join-Path ([IO.Path]::GetTempPath()) "pskeepalive-pester-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory -Path $script:work | Out-Null
    # Writes its pid, its cgroup and the keepalive options of both ends of a connection to itself into $1.
    $script:probe = Join-Path $script:work 'probe.py'
    Set-Content -Path $script:probe -Value @'
import os, socket, sys
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1); l.settimeout(10)
c = socket.create_connection(l.getsockname(), timeout=10); a, _ = l.accept()
cgroup = [x for x in open('/proc/self/cgroup').read().splitlines() if x.startswith('0::')][0][3:]
with open(sys.argv[1], 'w') as out:
    out.write('pid %d\ncgroup %s\n' % (os.getpid(), cgroup))
    for name, s in (('outgoing', c), ('accepted', a)):
        out.write('%s so_keepalive=%d idle=%d cnt=%d\n' % (name, s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)))
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
'@
}

AfterAll {
    Remove-Item -Recurse -Force $script:work -ErrorAction SilentlyContinue
}

Describe 'Start-KeepaliveProcess -Method Cgroup' {
    It 'offers Cgroup among the methods' {
        (Get-Command Start-KeepaliveProcess).Parameters['Method'].ParameterType.GetEnumNames() | Should -Contain 'Cgroup'
    }

    # Root, cgroup v2 and cgroup BPF: the program runs in a cgroup of its own with a policy.
    Context 'where cgroup mode is available' -Skip:(-not $CanUseCgroup) {
        BeforeEach { $script:out = Join-Path $script:work "out-$([guid]::NewGuid().ToString('N')).txt" }

        It 'runs the program in a cgroup of its own with the options, passes its exit code, then removes the cgroup' {
            Start-KeepaliveProcess -Method Cgroup -Idle 77 -Count 4 -Wait python3 $script:probe $script:out 5
            $LASTEXITCODE | Should -Be 5
            $probe = Read-Probe $script:out
            $probe['outgoing'].so_keepalive | Should -Be 1
            $probe['outgoing'].idle | Should -Be 77
            $probe['accepted'].cnt | Should -Be 4
            $cgroup = (Get-Content $script:out | Where-Object { $_ -like 'cgroup *' }).Substring(7)
            $cgroup | Should -Match 'pskeepalive-run-\d+-\d+$'
            Get-TcpKeepalivePolicy | Where-Object CgroupPath -EQ $cgroup | Should -BeNullOrEmpty
        }

        It 'is what -Method Auto chooses here, and returns the program itself with -PassThru' {
            $output = Start-KeepaliveProcess -Method Auto -Idle 78 -Mode Outgoing -PassThru -Verbose python3 $script:probe $script:out 4>&1
            $process = $output | Where-Object { $_ -is [System.Diagnostics.Process] }
            # A policy sets no environment: no empty "Environment:" line among the verbose ones.
            $verbose = @($output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
            @($verbose -like 'Method: Cgroup. *').Count | Should -Be 1 -Because ($verbose -join "`n")
            $verbose | Where-Object { $_ -like 'Environment:*' } | Should -BeNullOrEmpty
            $process.WaitForExit(30000) | Should -BeTrue
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            while (-not (Test-Path $script:out) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            $probe = Read-Probe $script:out
            (Get-Content $script:out)[0] | Should -Be "pid $($process.Id)"
            $probe['outgoing'].idle | Should -Be 78
            $probe['accepted'].so_keepalive | Should -Be 0
        }

        It 'starts nothing with -WhatIf' {
            Start-KeepaliveProcess -Method Cgroup -Idle 79 -Wait -WhatIf python3 $script:probe $script:out
            Test-Path $script:out | Should -BeFalse
        }
    }
}

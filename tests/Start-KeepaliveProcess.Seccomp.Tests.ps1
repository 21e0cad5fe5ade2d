# Start-KeepaliveProcess -Method Seccomp|Auto (issue 8): the pskeepalive-seccomp launcher for programs that
# LD_PRELOAD cannot reach. The xunit suite (tests/PSKeepalive.Tests/Seccomp) checks the same against the
# real kernel without PowerShell; this suite checks the cmdlet's binding and behaviour where pwsh exists.
BeforeDiscovery {
    . $PSScriptRoot/common.ps1
    $script:IsSupportedArch = [System.Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -in 'X64', 'Arm64'
}

BeforeAll {
    . $PSScriptRoot/common.ps1

    $script:work = Join-Path ([IO.Path]::GetTempPath()) "pskeepalive-pester-seccomp-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory -Path $script:work | Out-Null
    $fixture = Join-Path $script:RepoRoot 'tests/PSKeepalive.Tests/Preload/fixtures/sockprobe.c'
    if ($HasCompiler) {
        $script:probe = Join-Path $script:work 'sockprobe'
        $script:staticProbe = Join-Path $script:work 'sockprobe-static'
        & cc -O1 -o $script:probe $fixture
        if ($LASTEXITCODE -ne 0) { throw 'cc sockprobe.c failed' }
        & cc -O1 -static -o $script:staticProbe $fixture
        if ($LASTEXITCODE -ne 0) { throw 'cc -static sockprobe.c failed' }
    }

    # The program's stdout is the console, not the pipeline: a wrapper writes what the probe prints to a file.
    $script:wrapper = Join-Path $script:work 'probe-to-file.sh'
    Set-Content -Path $script:wrapper -Value "#!/bin/sh`nexec `"`$PESTER_PROBE`" `"`$@`" > `"`$PESTER_OUT`"`n"
    $script:exit7 = Join-Path $script:work 'exit7.sh'
    Set-Content -Path $script:exit7 -Value "#!/bin/sh`nexit 7`n"
    & chmod 755 $script:wrapper $script:exit7
}

AfterAll {
    Remove-Item -Recurse -Force $script:work -ErrorAction SilentlyContinue
    Remove-Item Env:PESTER_PROBE, Env:PESTER_OUT -ErrorAction SilentlyContinue
}

Describe 'Start-KeepaliveProcess -Method' {
    BeforeEach {
        $env:PESTER_PROBE = $script:staticProbe
        $env:PESTER_OUT = Join-Path $script:work "out-$([guid]::NewGuid().ToString('N')).txt"
    }

    Context 'binding' {
        It 'accepts Preload, Seccomp, Auto and Cgroup only' {
            $parameter = (Get-Command Start-KeepaliveProcess).Parameters['Method']
            $parameter.ParameterType.Name | Should -Be 'LaunchMethod'
            [enum]::GetNames($parameter.ParameterType) | Should -Be @('Preload', 'Seccomp', 'Auto', 'Cgroup')
            { Start-KeepaliveProcess -Method Ptrace -Wait $script:exit7 -ErrorAction Stop } |
                Should -Throw -ExpectedMessage '*Ptrace*'
        }

        It 'starts nothing with -WhatIf' {
            Start-KeepaliveProcess -Method Seccomp -Idle 60 -Wait $script:wrapper tcp4 -WhatIf
            Test-Path $env:PESTER_OUT | Should -BeFalse
        }
    }

    # cc: the static probe is compiled here; the seccomp launcher is built for x86_64 and aarch64 only.
    Context 'seccomp mode' -Skip:(-not $HasCompiler -or -not $script:IsSupportedArch) {
        It 'sets the options on a statically linked program with -Method Seccomp' {
            Start-KeepaliveProcess -Method Seccomp -Idle 61 -Interval 7 -Count 4 -UserTimeout 5000 -Wait $script:wrapper tcp4
            $LASTEXITCODE | Should -Be 0
            $probe = Read-Probe $env:PESTER_OUT
            $probe['tcp4'].so_keepalive | Should -Be 1
            $probe['tcp4'].idle | Should -Be 61
            $probe['tcp4'].intvl | Should -Be 7
            $probe['tcp4'].cnt | Should -Be 4
            $probe['tcp4'].user_timeout | Should -Be 5000
        }

        It 'switches to seccomp (or a cgroup policy, where available) for a static program with -Method Auto, and says so with -Verbose' {
            $verbose = Start-KeepaliveProcess -Method Auto -Idle 62 -Mode Listening -Wait -Verbose -- $script:staticProbe listener udp 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
            $LASTEXITCODE | Should -Be 0
            if ([PSKeepalive.Core.Launch.CgroupLauncher]::CheckSupport().IsSupported) {
                "$verbose" | Should -BeLike '*Method: Cgroup*'
            }
            else {
                "$verbose" | Should -BeLike '*Method: Seccomp*statically linked*'
            }
        }

        It 'reaches a static program exec''d by a dynamic wrapper, which the shim cannot' {
            Start-KeepaliveProcess -Method Seccomp -Idle 63 -Mode Listening -Wait $script:wrapper listener udp
            $probe = Read-Probe $env:PESTER_OUT
            $probe['accepted'].so_keepalive | Should -Be 1
            $probe['accepted'].idle | Should -Be 63
            $probe['connected'].so_keepalive | Should -Be 0
            $probe['udp'].so_keepalive | Should -Be 0
        }

        It 'keeps using the shim for a dynamic program with -Method Auto (a cgroup policy, where available)' {
            $env:PESTER_PROBE = $script:probe
            $verbose = Start-KeepaliveProcess -Method Auto -Idle 64 -Wait -Verbose $script:wrapper tcp4 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
            (Read-Probe $env:PESTER_OUT)['tcp4'].idle | Should -Be 64
            $expected = if ([PSKeepalive.Core.Launch.CgroupLauncher]::CheckSupport().IsSupported) { 'Cgroup' } else { 'Preload' }
            "$verbose" | Should -BeLike "*Method: $expected*"
        }

        It 'sets $LASTEXITCODE to the program''s exit code' {
            Start-KeepaliveProcess -Method Seccomp -Wait $script:exit7
            $LASTEXITCODE | Should -Be 7
        }

        It 'returns the supervisor process with -PassThru' {
            $process = Start-KeepaliveProcess -Method Seccomp -Idle 60 -PassThru -Wait $script:wrapper tcp4
            $process | Should -BeOfType System.Diagnostics.Process
            $process.ExitCode | Should -Be 0
            (Read-Probe $env:PESTER_OUT)['tcp4'].so_keepalive | Should -Be 1
        }

        It 'still refuses a static program with the default -Method Preload' {
            { Start-KeepaliveProcess -Idle 60 -Wait $script:staticProbe tcp4 -ErrorAction Stop } |
                Should -Throw -ErrorId 'ProgramInvalidTarget,PSKeepalive.Commands.StartKeepaliveProcessCommand'
        }

        # Root has CAP_SYS_ADMIN, which lets the launcher run set-ID programs: only an unprivileged caller is refused.
        It 'refuses a set-user-ID program in seccomp mode without CAP_SYS_ADMIN' -Skip:$IsRoot {
            $copy = Join-Path $script:work 'setuid-probe'
            Copy-Item $script:staticProbe $copy
            & chmod 4755 $copy
            { Start-KeepaliveProcess -Method Seccomp -Wait $copy tcp4 -ErrorAction Stop } |
                Should -Throw -ErrorId 'ProgramInvalidTarget,PSKeepalive.Commands.StartKeepaliveProcessCommand' -ExpectedMessage '*no_new_privs*'
        }
    }
}

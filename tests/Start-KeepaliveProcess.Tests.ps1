BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1

    $script:work = Join-Path ([IO.Path]::GetTempPath()) "pskeepalive-pester-$([guid]::NewGuid().ToString('N'))"
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
    $script:pwdToFile = Join-Path $script:work 'pwd-to-file.sh'
    Set-Content -Path $script:pwdToFile -Value "#!/bin/sh`npwd > `"`$PESTER_OUT`"`n"
    # Writes each argument it got on a line of its own: what the program really receives.
    $script:argsToFile = Join-Path $script:work 'args-to-file.sh'
    Set-Content -Path $script:argsToFile -Value "#!/bin/sh`nprintf '%s\n' `"`$@`" > `"`$PESTER_OUT`"`n"
    & chmod 755 $script:wrapper $script:exit7 $script:pwdToFile $script:argsToFile
}

AfterAll {
    Remove-Item -Recurse -Force $script:work -ErrorAction SilentlyContinue
    Remove-Item Env:PESTER_PROBE, Env:PESTER_OUT -ErrorAction SilentlyContinue
}

Describe 'Start-KeepaliveProcess' {
    BeforeEach {
        $env:PESTER_PROBE = $script:probe
        $env:PESTER_OUT = Join-Path $script:work "out-$([guid]::NewGuid().ToString('N')).txt"
    }

    Context 'validation' {
        It 'refuses -<Name> <Value> before starting anything' -TestCases @(
            @{ Name = 'Idle'; Value = 0 }
            @{ Name = 'Idle'; Value = 32768 }
            @{ Name = 'Interval'; Value = 0 }
            @{ Name = 'Count'; Value = 128 }
            @{ Name = 'UserTimeout'; Value = -1 }
        ) {
            $splat = @{ $Name = $Value }
            { Start-KeepaliveProcess @splat -Wait -FilePath $script:pwdToFile -ErrorAction Stop } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,PSKeepalive.Commands.StartKeepaliveProcessCommand'
            Test-Path $env:PESTER_OUT | Should -BeFalse
        }

        It 'reports a program that is not in PATH' {
            { Start-KeepaliveProcess pskeepalive-no-such-program -ErrorAction Stop } |
                Should -Throw -ErrorId 'ProgramNotFound,PSKeepalive.Commands.StartKeepaliveProcessCommand'
        }

        It 'takes the sysctl words too: -Time for -Idle, -Probes (and -ProbeCount) for -Count' {
            $command = Get-Command Start-KeepaliveProcess
            $command.Parameters['Idle'].Aliases | Should -Contain 'Time'
            $command.Parameters['Count'].Aliases | Should -Contain 'Probes'
            $command.Parameters['Count'].Aliases | Should -Contain 'ProbeCount'
            Start-KeepaliveProcess -Time 60 -Probes 4 -Wait -FilePath $script:pwdToFile -WhatIf
            Test-Path $env:PESTER_OUT | Should -BeFalse
        }

        It 'reports a program without execute permission with a Program id' {
            $noExec = Join-Path $script:work 'no-exec.sh'
            Set-Content -Path $noExec -Value "#!/bin/sh`nexit 0`n"
            & chmod 644 $noExec
            { Start-KeepaliveProcess -Wait $noExec -ErrorAction Stop } |
                Should -Throw -ErrorId 'ProgramPermissionDenied,PSKeepalive.Commands.StartKeepaliveProcessCommand' -ExpectedMessage '*chmod +x*'
        }

        It 'starts nothing with -WhatIf' {
            Start-KeepaliveProcess -Idle 60 -Wait $script:pwdToFile -WhatIf
            Test-Path $env:PESTER_OUT | Should -BeFalse
        }
    }

    # A program's flags must reach the program, or the command must be refused: never a silently different command line.
    Context 'the program''s own flags' {
        It 'refuses -<Flag> after the program name, which PowerShell would take as -<Parameter>, showing the -- form' -TestCases @(
            @{ Flag = 'v'; Parameter = 'Verbose' }
            @{ Flag = 'd'; Parameter = 'Debug' }
            @{ Flag = 'Fo'; Parameter = 'Force' }
            @{ Flag = 'Wai'; Parameter = 'Wait' }
        ) {
            $line = "Start-KeepaliveProcess -Idle 60 $script:argsToFile -$Flag 5000 127.0.0.1"
            $err = { Invoke-Expression $line } | Should -Throw -ErrorId 'ProgramInvalidArgument,PSKeepalive.Commands.StartKeepaliveProcessCommand' -PassThru
            $err.Exception.Message | Should -BeLike "*-$Flag*-$Parameter*"
            $err.Exception.Message | Should -BeLike "*Start-KeepaliveProcess -Idle 60 -- $script:argsToFile -$Flag 5000 127.0.0.1*"
            Test-Path $env:PESTER_OUT | Should -BeFalse
        }

        It 'leaves -p to PowerShell, which refuses it as ambiguous (-PassThru, -Probes)' {
            { Start-KeepaliveProcess -Idle 60 $script:argsToFile -p 5000 } |
                Should -Throw -ErrorId 'AmbiguousParameter,PSKeepalive.Commands.StartKeepaliveProcessCommand'
            Test-Path $env:PESTER_OUT | Should -BeFalse
        }

        It 'refuses a value-taking abbreviation after the program name (-c 5 as -Count)' {
            { Start-KeepaliveProcess -Wait $script:argsToFile -c 5 } |
                Should -Throw -ErrorId 'ProgramInvalidArgument,PSKeepalive.Commands.StartKeepaliveProcessCommand' -ExpectedMessage '*-c*-Count*'
            Test-Path $env:PESTER_OUT | Should -BeFalse
        }

        It 'passes every flag after -- to the program unchanged' {
            Start-KeepaliveProcess -Idle 60 -Wait -- $script:argsToFile -p 5000 -v -d -Wait
            Get-Content $env:PESTER_OUT | Should -Be '-p', '5000', '-v', '-d', '-Wait'
        }

        It 'passes flags PowerShell does not know for its own without --' {
            Start-KeepaliveProcess -Idle 60 -Wait $script:argsToFile -l 3333 -z
            Get-Content $env:PESTER_OUT | Should -Be '-l', '3333', '-z'
        }

        It 'takes its own parameters written in full after the program (-ErrorAction Stop at the end of the line)' {
            Start-KeepaliveProcess -Idle 60 $script:argsToFile -l 3333 -Wait -ErrorAction Stop
            Get-Content $env:PESTER_OUT | Should -Be '-l', '3333'
        }

        It 'takes Start-Process''s -FilePath and -ArgumentList, with cmdlet parameters after them' {
            Start-KeepaliveProcess -FilePath $script:argsToFile -ArgumentList '-p', '5000', '-v' -Idle 60 -Wait
            Get-Content $env:PESTER_OUT | Should -Be '-p', '5000', '-v'
        }

        It 'splits one -ArgumentList string at spaces, quotes grouping, as Start-Process does' {
            Start-KeepaliveProcess -FilePath $script:argsToFile -ArgumentList '-p 5000 "two words" -v' -Wait
            Get-Content $env:PESTER_OUT | Should -Be '-p', '5000', 'two words', '-v'
        }
    }

    # cc: the probe programs (dynamic and static) are compiled from tests/PSKeepalive.Tests/Preload/fixtures.
    Context 'running programs' -Skip:(-not $HasCompiler) {
        It 'binds the remaining arguments to the program (card form) and sets the options' {
            Start-KeepaliveProcess -Idle 61 -Interval 7 -Count 4 -Mode Outgoing -Wait $script:wrapper tcp4 listener
            $LASTEXITCODE | Should -Be 0
            $probe = Read-Probe $env:PESTER_OUT
            $probe['tcp4'].so_keepalive | Should -Be 1
            $probe['tcp4'].idle | Should -Be 61
            $probe['tcp4'].intvl | Should -Be 7
            $probe['tcp4'].cnt | Should -Be 4
            $probe['listener'].so_keepalive | Should -Be 0
        }

        It 'lets accepted connections inherit in Listening mode' {
            Start-KeepaliveProcess -Idle 62 -UserTimeout 5000 -Mode Listening -Wait -- $script:wrapper listener udp
            $probe = Read-Probe $env:PESTER_OUT
            $probe['accepted'].so_keepalive | Should -Be 1
            $probe['accepted'].idle | Should -Be 62
            $probe['accepted'].user_timeout | Should -Be 5000
            $probe['connected'].so_keepalive | Should -Be 0
            $probe['udp'].so_keepalive | Should -Be 0
        }

        It 'sets $LASTEXITCODE with -Wait' {
            Start-KeepaliveProcess -Wait $script:exit7
            $LASTEXITCODE | Should -Be 7
        }

        It 'returns the process with -PassThru' {
            $process = Start-KeepaliveProcess -Idle 60 -PassThru -Wait $script:wrapper tcp4
            $process | Should -BeOfType System.Diagnostics.Process
            $process.ExitCode | Should -Be 0
        }

        It 'runs in -WorkingDirectory' {
            Start-KeepaliveProcess -Wait -WorkingDirectory $script:work $script:pwdToFile
            (Get-Content $env:PESTER_OUT) | Should -Be $script:work
        }

        It 'refuses a statically linked program with the reason' {
            { Start-KeepaliveProcess -Idle 60 -Wait $script:staticProbe tcp4 -ErrorAction Stop } |
                Should -Throw -ErrorId 'ProgramInvalidTarget,PSKeepalive.Commands.StartKeepaliveProcessCommand' -ExpectedMessage '*statically linked*'
        }

        It 'starts a statically linked program with -Force, with a warning' {
            Start-KeepaliveProcess -Idle 60 -Force -Wait $script:staticProbe udp -WarningVariable warnings -WarningAction SilentlyContinue
            $LASTEXITCODE | Should -Be 0
            $warnings | Should -HaveCount 1
            "$warnings" | Should -BeLike '*statically linked*'
        }

        It 'cannot reach a static program exec''d by a dynamic wrapper (documented limit)' {
            $env:PESTER_PROBE = $script:staticProbe
            Start-KeepaliveProcess -Idle 60 -Wait $script:wrapper tcp4
            (Read-Probe $env:PESTER_OUT)['tcp4'].so_keepalive | Should -Be 0
        }

        It 'refuses a set-user-ID program' {
            $copy = Join-Path $script:work 'setuid-probe'
            Copy-Item $script:probe $copy
            & chmod 4755 $copy
            { Start-KeepaliveProcess -Idle 60 -Wait $copy tcp4 -ErrorAction Stop } |
                Should -Throw -ErrorId 'ProgramInvalidTarget,PSKeepalive.Commands.StartKeepaliveProcessCommand' -ExpectedMessage '*set-user-ID*'
        }

        # python3: the #! script's interpreter.
        It 'follows a python3 script to its interpreter' -Skip:(-not $HasPython) {
            $script = Join-Path $script:work 'client.py'
            Set-Content -Path $script -Value "#!/usr/bin/env python3`nimport socket, os`ns = socket.socket()`nopen(os.environ['PESTER_OUT'], 'w').write(str(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)))`n"
            & chmod 755 $script
            Start-KeepaliveProcess -Idle 60 -Wait $script
            $LASTEXITCODE | Should -Be 0
            Get-Content $env:PESTER_OUT | Should -Be '1'
        }
    }
}

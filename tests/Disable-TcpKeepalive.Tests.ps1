BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
}

Describe 'Disable-TcpKeepalive' {
    Context 'Metadata' {
        BeforeAll { $command = Get-Command Disable-TcpKeepalive }

        It 'supports -WhatIf and -Confirm' {
            $command.Parameters.Keys | Should -Contain 'WhatIf'
            $command.Parameters.Keys | Should -Contain 'Confirm'
        }

        It 'has no timing parameters' {
            $command.Parameters.Keys | Should -Not -Contain 'Idle'
            $command.Parameters.Keys | Should -Not -Contain 'Count'
        }

        It 'binds the NetworkNamespace of a piped connection by property name (null allowed)' {
            $parameter = $command.Parameters['NetworkNamespace']
            $parameter.ParameterSets.Keys | Should -Be @('Connection')
            $parameter.Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] })[0].ValueFromPipelineByPropertyName |
                Should -BeTrue
            $parameter.Attributes.Where({ $_ -is [System.Management.Automation.AllowNullAttribute] }) | Should -Not -BeNullOrEmpty
        }

        It 'refuses a process from another computer' {
            $remote = [pscustomobject]@{ Id = $PID; PSComputerName = 'web1' }
            { $remote | Disable-TcpKeepalive -WhatIf -ErrorAction Stop } |
                Should -Throw -ErrorId 'ProcessInvalidTarget,PSKeepalive.Commands.DisableTcpKeepaliveCommand' -ExpectedMessage '*web1*'
        }

        It 'binds Get-Process output through the Id alias of -ProcessId' {
            $command.Parameters['ProcessId'].Aliases | Should -Contain 'Id'
        }
    }

    # Root: pidfd_getfd on another process needs ptrace rights over it. python3: the child holding the socket.
    Context 'On a child process whose connection has keepalive on' -Skip:(-not ($IsRoot -and $HasPython)) {
        BeforeAll {
            $script:client = Start-PythonLoopbackClient "import socket,time; s=socket.create_connection(('127.0.0.1',{PORT})); s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 77); time.sleep(60)"
            $script:child = $client.Child
            $script:port = $client.Port
            $script:childPort = $client.ChildPort
        }

        AfterAll {
            Stop-PythonLoopbackClient $script:client
        }

        It '-WhatIf leaves keepalive on' {
            Disable-TcpKeepalive -ProcessId $child.Id -WhatIf | Should -BeNullOrEmpty
            (Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $childPort -RemotePort $port -IncludeSocketOption).KeepaliveEnabled | Should -BeTrue
        }

        It 'switches keepalive off and keeps the timing' {
            $result = Get-Process -Id $child.Id | Disable-TcpKeepalive
            $result.Outcome | Should -Be 'Applied'
            $result.Before.Enabled | Should -BeTrue
            $result.After.Enabled | Should -BeFalse
            $result.After.Idle | Should -Be 77
            $c = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $childPort -RemotePort $port -IncludeSocketOption
            $c.KeepaliveEnabled | Should -BeFalse
            $c.NoKeepalive | Should -BeTrue
        }

        It 'skips when keepalive is already off' {
            (Disable-TcpKeepalive -ProcessId $child.Id).Outcome | Should -Be 'Skipped'
        }
    }
}

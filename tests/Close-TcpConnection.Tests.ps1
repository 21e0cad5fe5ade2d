BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
}

Describe 'Close-TcpConnection' {
    Context 'Metadata' {
        BeforeAll { $command = Get-Command Close-TcpConnection }

        It 'supports -WhatIf and -Confirm with high impact' {
            $command.Parameters.Keys | Should -Contain 'WhatIf'
            $command.Parameters.Keys | Should -Contain 'Confirm'
            $command.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0].ConfirmImpact |
                Should -Be 'High'
        }

        It 'binds a connection by property name, cookie included' {
            foreach ($name in 'LocalAddress', 'LocalPort', 'RemoteAddress', 'RemotePort', 'Cookie') {
                $command.Parameters[$name].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] })[0].ValueFromPipelineByPropertyName |
                    Should -BeTrue
            }
        }

        It 'binds the network namespace of a piped connection, and a null one (the caller''s namespace)' {
            $parameter = $command.Parameters['NetworkNamespace']
            $parameter.Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] })[0].ValueFromPipelineByPropertyName |
                Should -BeTrue
            $parameter.Attributes.Where({ $_ -is [System.Management.Automation.AllowNullAttribute] }) | Should -Not -BeNullOrEmpty
            $connection = [pscustomobject]@{ LocalAddress = '127.0.0.1'; LocalPort = 1; RemoteAddress = '127.0.0.1'; RemotePort = 2; NetworkNamespace = $null }
            { $connection | Close-TcpConnection -WhatIf } | Should -Not -Throw
        }

        It 'refuses a connection from another computer' {
            $remote = [pscustomobject]@{ LocalAddress = '127.0.0.1'; LocalPort = 1; RemoteAddress = '127.0.0.1'; RemotePort = 2; PSComputerName = 'web1' }
            { $remote | Close-TcpConnection -WhatIf -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConnectionInvalidTarget,PSKeepalive.Commands.CloseTcpConnectionCommand' -ExpectedMessage '*web1*'
        }

        It 'refuses a port outside 0..65535' {
            { Close-TcpConnection -LocalAddress 127.0.0.1 -LocalPort 70000 -RemoteAddress 127.0.0.1 -RemotePort 1 -WhatIf } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,PSKeepalive.Commands.CloseTcpConnectionCommand'
        }
    }

    # Root: SOCK_DESTROY needs CAP_NET_ADMIN.
    Context 'On a loopback connection the test owns' -Skip:(-not $IsRoot) {
        BeforeEach {
            $script:listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
            $listener.Start()
            $script:client = [System.Net.Sockets.TcpClient]::new()
            $client.Connect([System.Net.IPAddress]::Loopback, $listener.LocalEndpoint.Port)
            $script:server = $listener.AcceptTcpClient()
            $script:clientPort = $client.Client.LocalEndPoint.Port
            $script:exact = @{ LocalAddress = '127.0.0.1'; LocalPort = $clientPort; RemotePort = $listener.LocalEndpoint.Port }
        }

        AfterEach {
            $client.Dispose(); $server.Dispose(); $listener.Stop()
        }

        It '-WhatIf closes nothing' {
            Get-TcpConnection @exact | Close-TcpConnection -WhatIf
            Get-TcpConnection @exact -State Established | Should -HaveCount 1
        }

        It 'closes it: the peer sees a reset' {
            $result = Get-TcpConnection @exact | Close-TcpConnection -Confirm:$false -PassThru
            $result.Outcome | Should -Be 'Closed'
            Get-TcpConnection @exact -State Established | Should -BeNullOrEmpty
            $server.Client.ReceiveTimeout = 5000
            { $server.Client.Receive([byte[]]::new(4)) } | Should -Throw '*reset*'
        }

        It 'skips a connection that is already gone' {
            $listed = Get-TcpConnection @exact
            $listed | Close-TcpConnection -Confirm:$false
            ($listed | Close-TcpConnection -Confirm:$false -PassThru).Outcome | Should -Be 'Skipped'
        }
    }
}

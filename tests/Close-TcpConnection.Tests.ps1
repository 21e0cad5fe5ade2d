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

        It 'leaves a listener and a TIME_WAIT socket alone, each with its reason, before asking the kernel' {
            $listener = [pscustomobject]@{ LocalAddress = '127.0.0.1'; LocalPort = 1; RemoteAddress = '0.0.0.0'; RemotePort = 0; State = 'Listen' }
            $timeWait = [pscustomobject]@{ LocalAddress = '127.0.0.1'; LocalPort = 2; RemoteAddress = '127.0.0.1'; RemotePort = 3; State = 'TimeWait' }
            $results = $listener, $timeWait | Close-TcpConnection -Confirm:$false -PassThru -WarningVariable warnings -WarningAction SilentlyContinue
            $results.Outcome | Should -Be 'Skipped', 'Skipped'
            $results[0].Reason | Should -BeLike '*listening*-IncludeListener*'
            $results[1].Reason | Should -BeLike '*TIME_WAIT*'
            "$warnings" | Should -BeLike '*1 listening socket*-IncludeListener*'
        }

        It 'knows a state by its number, as ConvertTo-Json writes it, and still leaves TIME_WAIT and listeners alone' {
            # ConvertTo-Json writes enums as numbers (TimeWait = 6, Listen = 10) unless given -EnumsAsStrings.
            $timeWait = [pscustomobject]@{ LocalAddress = '127.0.0.1'; LocalPort = 2; RemoteAddress = '127.0.0.1'; RemotePort = 3; State = 6 } |
                ConvertTo-Json | ConvertFrom-Json
            $listener = [pscustomobject]@{ LocalAddress = '127.0.0.1'; LocalPort = 4; RemoteAddress = '127.0.0.1'; RemotePort = 5; State = 10 } |
                ConvertTo-Json | ConvertFrom-Json
            $results = $timeWait, $listener | Close-TcpConnection -Confirm:$false -PassThru -WarningAction SilentlyContinue
            $results.Outcome | Should -Be 'Skipped', 'Skipped'
            $results.State | Should -Be 'TimeWait', 'Listen'
            $results[0].Reason | Should -BeLike '*TIME_WAIT*'
            $results[1].Reason | Should -BeLike '*listening*-IncludeListener*'
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

        It 'closes the connections of a piped port and leaves its listener, as pskeepalive close does' {
            $port = $listener.LocalEndpoint.Port
            $results = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $port | Close-TcpConnection -Confirm:$false -PassThru -WarningAction SilentlyContinue
            ($results | Where-Object State -EQ 'Listen').Outcome | Should -Be 'Skipped'
            ($results | Where-Object State -EQ 'Established').Outcome | Should -Be 'Closed'
            Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $port -State Listen | Should -HaveCount 1
        }

        It 'closes the listener with -IncludeListener' {
            $port = $listener.LocalEndpoint.Port
            $result = Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $port -State Listen | Close-TcpConnection -IncludeListener -Confirm:$false -PassThru
            $result.Outcome | Should -Be 'Closed'
            Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $port -State Listen | Should -BeNullOrEmpty
        }

        It 'skips a TIME_WAIT socket instead of reporting it closed' {
            # The side that closes first waits in TIME_WAIT (60 s, loopback only).
            $client.Client.Shutdown('Send')
            $server.Client.ReceiveTimeout = 5000
            $null = $server.Client.Receive([byte[]]::new(1))
            $server.Client.Shutdown('Send')
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            do {
                $waiting = Get-TcpConnection -State TimeWait -LocalAddress 127.0.0.1 -LocalPort $clientPort
            } until ($waiting -or [DateTime]::UtcNow -gt $deadline)
            $client.Close()
            $waiting | Should -HaveCount 1
            $result = $waiting | Close-TcpConnection -Confirm:$false -PassThru
            $result.Outcome | Should -Be 'Skipped'
            $result.Reason | Should -BeLike '*TIME_WAIT*'
        }

        It 'skips a listed connection that is already gone, quietly' {
            $listed = Get-TcpConnection @exact
            $listed | Close-TcpConnection -Confirm:$false
            ($listed | Close-TcpConnection -Confirm:$false -PassThru -ErrorVariable errors).Outcome | Should -Be 'Skipped'
            $errors | Should -BeNullOrEmpty
        }

        It 'says so when addresses typed by hand name no connection' {
            # The test's own client port towards port 1, where nothing connects: no such socket.
            $result = Close-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $clientPort -RemoteAddress 127.0.0.1 -RemotePort 1 -Confirm:$false -PassThru -ErrorVariable errors -ErrorAction SilentlyContinue
            $result.Outcome | Should -Be 'Skipped'
            $errors | Should -HaveCount 1
            $errors[0].FullyQualifiedErrorId | Should -Be 'ConnectionNotFound,PSKeepalive.Commands.CloseTcpConnectionCommand'
            $errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $errors[0].Exception.Message | Should -BeLike "No TCP connection 127.0.0.1:$clientPort -> 127.0.0.1:1*nothing was closed*"
            Get-TcpConnection @exact -State Established | Should -HaveCount 1
        }

        It 'never takes a listener for a hand-typed connection on its address that does not exist' {
            # The kernel's own lookup would fall back to the listener on 127.0.0.1:port, and SOCK_DESTROY close it.
            $port = $listener.LocalEndpoint.Port
            $result = Close-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $port -RemoteAddress 127.0.0.1 -RemotePort 1 -Confirm:$false -PassThru -ErrorAction SilentlyContinue
            $result.Outcome | Should -Be 'Skipped'
            $result.ErrorId | Should -Be 'ConnectionNotFound'
            Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $port -State Listen | Should -HaveCount 1
        }

        It 'closes a hand-typed connection that exists, and says what it was' {
            $listed = Get-TcpConnection @exact -State Established
            $result = Close-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $clientPort -RemoteAddress 127.0.0.1 -RemotePort $listener.LocalEndpoint.Port -Confirm:$false -PassThru
            $result.Outcome | Should -Be 'Closed'
            $result.State | Should -Be 'Established'
            $result.Cookie | Should -Be $listed.Cookie
            Get-TcpConnection -LocalAddress 127.0.0.1 -LocalPort $listener.LocalEndpoint.Port -State Listen | Should -HaveCount 1
        }
    }
}

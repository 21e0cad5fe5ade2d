# Objects flow between cmdlets by property name (Get-TcpConnection | Enable-TcpKeepalive, Get-Process |
# Enable-TcpKeepalive, Get-TcpKeepaliveSetting | Set-TcpKeepaliveSetting). PowerShell's own binder decides what
# binds: each pairing is piped for real under Trace-Command, and the parameters bound from the pipeline object
# are read from the trace. -WhatIf and a network namespace that does not exist keep the receivers from acting.
BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    $script:Nowhere = '/run/netns/pskeepalive-binding-none'

    # The parameters the binder filled from the piped object, in the order it bound them. $Receiver pipes $input
    # into the cmdlet; what the cmdlet then does (errors for the namespace that does not exist) does not matter.
    function Get-PipelineBinding([object] $InputObject, [scriptblock] $Receiver) {
        $trace = Join-Path $TestDrive ([guid]::NewGuid().ToString('N') + '.txt')
        $null = Trace-Command -Name ParameterBinding -FilePath $trace -Expression {
            try { $InputObject | & $Receiver -ErrorAction SilentlyContinue 2>&1 } catch { $_ }
        }
        $inPipeline = $false
        foreach ($line in Get-Content -LiteralPath $trace) {
            if ($line -match 'BIND PIPELINE object to parameters') { $inPipeline = $true; continue }
            if ($line -match 'BIND (NAMED|POSITIONAL) cmd line args') { $inPipeline = $false; continue }
            if ($inPipeline -and $line -match 'to param \[(\w+)\] SUCCESSFUL\s*$') { $Matches[1] }
        }
    }

    function New-Connection([hashtable] $Extra = @{}) {
        $values = @{
            AddressFamily = 'IPv4'; LocalAddress = '127.0.0.1'; LocalPort = 40164; RemoteAddress = '127.0.0.1'; RemotePort = 42417
            State = 'Established'; Inode = 241675; Uid = 0; Cookie = 2104; InterfaceIndex = 1; Timer = 'None'
            OwningProcess = 4194302; NetworkNamespace = $Nowhere
            Processes = [PSKeepalive.Core.Connections.TcpConnectionProcess[]] @([PSKeepalive.Core.Connections.TcpConnectionProcess]::new(4194302, 'python3', 'python3 -c', 3))
        }
        foreach ($key in $Extra.Keys) { $values[$key] = $Extra[$key] }
        [PSKeepalive.Core.Connections.TcpConnection] $values
    }
}

Describe 'Pipeline binding' {
    It 'TcpConnection | <Receiver> binds <Expected>' -ForEach @(
        @{ Receiver = 'Enable-TcpKeepalive'; Run = { $input | Enable-TcpKeepalive -Idle 60 -WhatIf }; Expected = 'Inode', 'Processes', 'State', 'LocalAddress', 'LocalPort', 'RemoteAddress', 'RemotePort', 'NetworkNamespace' }
        @{ Receiver = 'Disable-TcpKeepalive'; Run = { $input | Disable-TcpKeepalive -WhatIf }; Expected = 'Inode', 'Processes', 'State', 'LocalAddress', 'LocalPort', 'RemoteAddress', 'RemotePort', 'NetworkNamespace' }
        @{ Receiver = 'Close-TcpConnection'; Run = { $input | Close-TcpConnection -WhatIf }; Expected = 'LocalAddress', 'LocalPort', 'RemoteAddress', 'RemotePort', 'Cookie', 'InterfaceIndex', 'State', 'Inode', 'NetworkNamespace' }
    ) {
        $bound = @(Get-PipelineBinding (New-Connection) $Run)
        @($bound | Sort-Object -Unique) | Should -Be @($Expected | Sort-Object)
    }

    It 'a TcpConnection read with -IncludeSocketOption does not bind its current timing back into <Receiver>' -ForEach @(
        @{ Receiver = 'Enable-TcpKeepalive'; Run = { $input | Enable-TcpKeepalive -Idle 60 -WhatIf } }
        @{ Receiver = 'Disable-TcpKeepalive'; Run = { $input | Disable-TcpKeepalive -WhatIf } }
    ) {
        $connection = New-Connection @{ KeepaliveEnabled = $true; Idle = 7200; Interval = 75; ProbeCount = 9; UserTimeout = 30000 }
        $bound = @(Get-PipelineBinding $connection $Run)
        $bound | Should -Contain 'Inode'
        foreach ($timing in 'Idle', 'Interval', 'Count', 'UserTimeout') { $bound | Should -Not -Contain $timing }
    }

    It 'Get-Process | <Receiver> binds <Expected>' -ForEach @(
        @{ Receiver = 'Enable-TcpKeepalive'; Run = { $input | Enable-TcpKeepalive -Idle 60 -WhatIf }; Expected = 'ProcessId' }
        @{ Receiver = 'Disable-TcpKeepalive'; Run = { $input | Disable-TcpKeepalive -WhatIf }; Expected = 'ProcessId' }
        @{ Receiver = 'Get-TcpConnection'; Run = { $input | Get-TcpConnection -LocalPort 1 }; Expected = 'OwningProcess' }
        @{ Receiver = 'Set-TcpKeepalivePolicy'; Run = { $input | Set-TcpKeepalivePolicy -Idle 60 -WhatIf }; Expected = 'ProcessId' }
        @{ Receiver = 'Get-TcpKeepalivePolicy'; Run = { $input | Get-TcpKeepalivePolicy }; Expected = 'ProcessId' }
        @{ Receiver = 'Remove-TcpKeepalivePolicy'; Run = { $input | Remove-TcpKeepalivePolicy -WhatIf }; Expected = 'ProcessId' }
    ) {
        $bound = @(Get-PipelineBinding (Get-Process -Id $PID) $Run)
        @($bound | Sort-Object -Unique) | Should -Be @($Expected)
    }

    It 'a TcpKeepalivePolicy binds its Cgroup to <Receiver>, and none of its values' -ForEach @(
        @{ Receiver = 'Set-TcpKeepalivePolicy'; Run = { $input | Set-TcpKeepalivePolicy -Idle 60 -WhatIf } }
        @{ Receiver = 'Get-TcpKeepalivePolicy'; Run = { $input | Get-TcpKeepalivePolicy } }
        @{ Receiver = 'Remove-TcpKeepalivePolicy'; Run = { $input | Remove-TcpKeepalivePolicy -WhatIf } }
    ) {
        # A cgroup that does not exist keeps the receivers from acting.
        $policy = [PSKeepalive.Core.Policy.TcpKeepalivePolicy]::new('/sys/fs/cgroup/pskeepalive-binding-none', '/pskeepalive-binding-none', 0,
            600, 10, 6, 0, 'Outgoing', $true, 1, 1, '0000000000000000', $null)
        @(Get-PipelineBinding $policy $Run) | Should -Be @('Cgroup')
    }

    It 'Get-TcpKeepaliveSetting | Set-TcpKeepaliveSetting binds the setting whole, and none of its values by name' {
        # Which values travel and where to is Core's decision (TcpKeepaliveSettings.ChangeFor), from the object's Time,
        # Interval, Probes, NetworkNamespace and PSComputerName: the binder must not take a connection's Idle (an
        # alias of -Time) or Interval, nor a namespace, on its own.
        $setting = [PSKeepalive.Core.Settings.TcpKeepaliveSetting]::new(600, 10, 6, 'net:[4026531840]')
        @(Get-PipelineBinding $setting { $input | Set-TcpKeepaliveSetting -NetworkNamespace $Nowhere -WhatIf }) | Should -Be @('InputObject')
        $connection = New-Connection @{ KeepaliveEnabled = $true; Idle = 7200; Interval = 75; ProbeCount = 9; UserTimeout = 0 }
        @(Get-PipelineBinding $connection { $input | Set-TcpKeepaliveSetting -NetworkNamespace $Nowhere -WhatIf }) | Should -Be @('InputObject')
    }

    It 'a TcpConnection with its owner (ProcessId) still binds to the connection, not the process, of <Receiver>' -ForEach @(
        @{ Receiver = 'Enable-TcpKeepalive'; Run = { $input | Enable-TcpKeepalive -Idle 60 -WhatIf } }
        @{ Receiver = 'Disable-TcpKeepalive'; Run = { $input | Disable-TcpKeepalive -WhatIf } }
    ) {
        $connection = New-Connection
        $connection.ProcessId | Should -Be 4194302
        $bound = @(Get-PipelineBinding $connection $Run)
        $bound | Should -Contain 'Inode'
        $bound | Should -Not -Contain 'ProcessId'
    }

    It 'an object from another computer binds PSComputerName into <Receiver>, which refuses it' -ForEach @(
        @{ Receiver = 'Enable-TcpKeepalive'; Run = { $input | Enable-TcpKeepalive -Idle 60 -WhatIf } }
        @{ Receiver = 'Disable-TcpKeepalive'; Run = { $input | Disable-TcpKeepalive -WhatIf } }
        @{ Receiver = 'Close-TcpConnection'; Run = { $input | Close-TcpConnection -WhatIf } }
        @{ Receiver = 'Get-TcpConnection'; Run = { $input | Get-TcpConnection -LocalPort 1 } }
        @{ Receiver = 'Get-TcpKeepaliveSetting'; Run = { $input | Get-TcpKeepaliveSetting } }
    ) {
        $remote = New-Connection | Add-Member -NotePropertyName PSComputerName -NotePropertyValue 'web1' -PassThru
        $remote | Add-Member -NotePropertyName Id -NotePropertyValue $PID
        @(Get-PipelineBinding $remote $Run) | Should -Contain 'PSComputerName'
    }

    # Invoke-Command -HostName web1 { Get-Process x } | Enable-TcpKeepalive would otherwise act on whatever has the same
    # process id here. Set-TcpKeepaliveSetting reads PSComputerName from its -InputObject itself; a Socket cannot arrive
    # from another computer (a deserialized object converts to none).
    It '<Name> binds PSComputerName in every parameter set, as it binds ids or names by property name' -ForEach @(
        (Get-Command -Module PSKeepalive -CommandType Cmdlet | Where-Object Name -NE 'Set-TcpKeepaliveSetting' | Where-Object {
                $_.Parameters.Values | Where-Object {
                    $type = if ($_.ParameterType.IsArray) { $_.ParameterType.GetElementType() } else { $_.ParameterType }
                    $type = [Nullable]::GetUnderlyingType($type) ?? $type
                    $_.Name -ne 'PSComputerName' -and ($type.IsPrimitive -or $type -eq [string]) -and
                        @($_.ParameterSets.Values | Where-Object ValueFromPipelineByPropertyName).Count -gt 0
                }
            } | ForEach-Object { @{ Name = $_.Name } })
    ) {
        $command = Get-Command -Name $Name
        $parameter = $command.Parameters['PSComputerName']
        $parameter | Should -Not -BeNullOrEmpty
        $parameter.ParameterSets.Keys | Should -Be @('__AllParameterSets')
        $parameter.ParameterSets['__AllParameterSets'].ValueFromPipelineByPropertyName | Should -BeTrue
    }

    It 'a <Type> binds to -Socket of <Receiver>' -ForEach @(
        @{ Type = 'TcpClient'; Receiver = 'Get-SocketKeepalive'; New = { [System.Net.Sockets.TcpClient]::new() }; Run = { $input | Get-SocketKeepalive } }
        @{ Type = 'TcpListener'; Receiver = 'Set-SocketKeepalive'; New = { [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0) }; Run = { $input | Set-SocketKeepalive -Idle 60 -WhatIf } }
    ) {
        $socket = & $New
        try { @(Get-PipelineBinding $socket $Run) | Should -Be @('Socket') }
        finally { $socket.Dispose() }
    }
}

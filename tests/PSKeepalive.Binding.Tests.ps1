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
        @{ Receiver = 'Enable-TcpKeepalive'; Run = { $input | Enable-TcpKeepalive -Idle 60 -WhatIf }; Expected = 'Inode', 'Processes', 'LocalAddress', 'LocalPort', 'RemoteAddress', 'RemotePort', 'NetworkNamespace' }
        @{ Receiver = 'Disable-TcpKeepalive'; Run = { $input | Disable-TcpKeepalive -WhatIf }; Expected = 'Inode', 'Processes', 'LocalAddress', 'LocalPort', 'RemoteAddress', 'RemotePort', 'NetworkNamespace' }
        @{ Receiver = 'Close-TcpConnection'; Run = { $input | Close-TcpConnection -WhatIf }; Expected = 'LocalAddress', 'LocalPort', 'RemoteAddress', 'RemotePort', 'Cookie', 'InterfaceIndex', 'State', 'Inode', 'NetworkNamespace' }
    ) {
        $bound = @(Get-PipelineBinding (New-Connection) $Run)
        @($bound | Sort-Object -Unique) | Should -Be @($Expected | Sort-Object)
    }

    It 'a TcpConnection read with -IncludeSocketOption does not bind its current timing back into <Receiver>' -ForEach @(
        @{ Receiver = 'Enable-TcpKeepalive'; Run = { $input | Enable-TcpKeepalive -Idle 60 -WhatIf } }
        @{ Receiver = 'Disable-TcpKeepalive'; Run = { $input | Disable-TcpKeepalive -WhatIf } }
    ) {
        $connection = New-Connection @{ KeepaliveEnabled = $true; Idle = 7200; Interval = 75; Count = 9; UserTimeout = 30000 }
        $bound = @(Get-PipelineBinding $connection $Run)
        $bound | Should -Contain 'Inode'
        foreach ($timing in 'Idle', 'Interval', 'Count', 'UserTimeout') { $bound | Should -Not -Contain $timing }
    }

    It 'Get-Process | <Receiver> binds <Expected>' -ForEach @(
        @{ Receiver = 'Enable-TcpKeepalive'; Run = { $input | Enable-TcpKeepalive -Idle 60 -WhatIf }; Expected = 'ProcessId' }
        @{ Receiver = 'Disable-TcpKeepalive'; Run = { $input | Disable-TcpKeepalive -WhatIf }; Expected = 'ProcessId' }
        @{ Receiver = 'Get-TcpConnection'; Run = { $input | Get-TcpConnection -LocalPort 1 }; Expected = 'OwningProcess' }
    ) {
        $bound = @(Get-PipelineBinding (Get-Process -Id $PID) $Run)
        @($bound | Sort-Object -Unique) | Should -Be @($Expected)
    }

    It 'Get-TcpKeepaliveSetting | Set-TcpKeepaliveSetting binds the values, not the namespace name' {
        $setting = [PSKeepalive.Core.Settings.TcpKeepaliveSetting]::new(600, 10, 6, 'net:[4026531840]')
        # The namespace name (net:[INODE]) is no path: the values go to the namespace the command line names.
        $bound = @(Get-PipelineBinding $setting { $input | Set-TcpKeepaliveSetting -NetworkNamespace $Nowhere -WhatIf })
        @($bound | Sort-Object) | Should -Be @('Interval', 'Probes', 'Time')
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

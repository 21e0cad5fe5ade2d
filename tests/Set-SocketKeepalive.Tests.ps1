BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1

    function New-LoopbackPair([System.Net.IPAddress] $Address = [System.Net.IPAddress]::Loopback) {
        $listener = [System.Net.Sockets.TcpListener]::new($Address, 0)
        $listener.Start()
        try {
            $client = [System.Net.Sockets.TcpClient]::new($Address.AddressFamily)
            $client.Connect($Address, $listener.LocalEndpoint.Port)
            [pscustomobject]@{ Client = $client; Server = $listener.AcceptSocket() }
        }
        finally { $listener.Stop() }
    }
}

Describe 'Set-SocketKeepalive' {
    BeforeEach {
        $pair = New-LoopbackPair
        $socket = $pair.Client.Client
    }

    AfterEach {
        $pair.Client.Dispose()
        $pair.Server.Dispose()
    }

    It 'sets every option and returns them with -PassThru' {
        $result = Set-SocketKeepalive -Socket $socket -Idle 11 -Interval 7 -Count 5 -UserTimeout 12345 -PassThru
        $result | Should -BeOfType ([PSKeepalive.Core.Sockets.SocketKeepaliveOptions])
        $result.Enabled | Should -BeTrue
        $result.Idle | Should -Be 11
        $result.Interval | Should -Be 7
        $result.ProbeCount | Should -Be 5
        $result.UserTimeout | Should -Be 12345
        $result.DeadPeerDetectionSeconds | Should -Be 46
        (Get-SocketKeepalive -Socket $socket).Idle | Should -Be 11
    }

    It 'takes the sysctl words too: -Time for -Idle, -Probes (and -ProbeCount) for -Count' {
        $result = Set-SocketKeepalive -Socket $socket -Time 12 -Probes 3 -PassThru
        $result.Idle | Should -Be 12
        $result.ProbeCount | Should -Be 3
        (Set-SocketKeepalive -Socket $socket -ProbeCount 4 -PassThru).ProbeCount | Should -Be 4
    }

    It 'writes nothing without -PassThru' {
        Set-SocketKeepalive -Socket $socket -Idle 30 | Should -BeNullOrEmpty
        (Get-SocketKeepalive -Socket $socket).Idle | Should -Be 30
    }

    It 'leaves options that were not given' {
        Set-SocketKeepalive -Socket $socket -Idle 100 -Interval 20 -Count 4
        $result = Set-SocketKeepalive -Socket $socket -Interval 9 -PassThru
        $result.Idle | Should -Be 100
        $result.Interval | Should -Be 9
        $result.ProbeCount | Should -Be 4
    }

    It 'turns keepalive off with -Disable' {
        Set-SocketKeepalive -Socket $socket
        (Get-SocketKeepalive -Socket $socket).Enabled | Should -BeTrue
        Set-SocketKeepalive -Socket $socket -Disable
        (Get-SocketKeepalive -Socket $socket).Enabled | Should -BeFalse
    }

    It 'changes nothing with -WhatIf' {
        $before = Get-SocketKeepalive -Socket $socket
        Set-SocketKeepalive -Socket $socket -Idle 42 -WhatIf
        Get-SocketKeepalive -Socket $socket | Should -Be $before
    }

    It 'refuses <Name> = <Value> before changing anything' -TestCases @(
        @{ Name = 'Idle'; Value = 0 }
        @{ Name = 'Idle'; Value = 32768 }
        @{ Name = 'Interval'; Value = 0 }
        @{ Name = 'Interval'; Value = 32768 }
        @{ Name = 'Count'; Value = 0 }
        @{ Name = 'Count'; Value = 128 }
        @{ Name = 'UserTimeout'; Value = -1 }
    ) {
        $before = Get-SocketKeepalive -Socket $socket
        $splat = @{ $Name = $Value }
        { Set-SocketKeepalive -Socket $socket @splat -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,PSKeepalive.Commands.SetSocketKeepaliveCommand'
        Get-SocketKeepalive -Socket $socket | Should -Be $before
    }

    It 'is inherited by connections a TcpListener accepts' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try {
            $listener | Set-SocketKeepalive -Idle 123 -Interval 17 -Count 6 -UserTimeout 4567
            $client = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $listener.LocalEndpoint.Port)
            $accepted = $listener.AcceptSocket()
            try {
                $inherited = Get-SocketKeepalive -Socket $accepted
                $inherited.Enabled | Should -BeTrue
                $inherited.Idle | Should -Be 123
                $inherited.ProbeCount | Should -Be 6
                $inherited.UserTimeout | Should -Be 4567
                (Get-SocketKeepalive -Socket $client.Client).Enabled | Should -BeFalse
            }
            finally { $accepted.Dispose(); $client.Dispose() }
        }
        finally { $listener.Stop() }
    }

    It 'refuses a UDP socket and leaves SO_KEEPALIVE off' {
        $udp = [System.Net.Sockets.Socket]::new('InterNetwork', 'Dgram', 'Udp')
        try {
            { Set-SocketKeepalive -Socket $udp -Idle 5 -ErrorAction Stop } |
                Should -Throw -ErrorId 'SocketInvalidTarget,PSKeepalive.Commands.SetSocketKeepaliveCommand'
            $udp.GetSocketOption('Socket', 'KeepAlive') | Should -Be 0
        }
        finally { $udp.Dispose() }
    }
}

BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1

    # A connected loopback pair owned by the test: client, accepted server side (the listener is stopped).
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

Describe 'Get-SocketKeepalive' {
    BeforeEach {
        $pair = New-LoopbackPair
    }

    AfterEach {
        $pair.Client.Dispose()
        $pair.Server.Dispose()
    }

    It 'reports keepalive off and the namespace sysctls on a fresh socket' {
        $options = Get-SocketKeepalive -Socket $pair.Client.Client
        $options | Should -BeOfType ([PSKeepalive.Core.Sockets.SocketKeepaliveOptions])
        $options.Enabled | Should -BeFalse
        $options.Idle | Should -Be ([int](Get-Content /proc/sys/net/ipv4/tcp_keepalive_time))
        $options.Interval | Should -Be ([int](Get-Content /proc/sys/net/ipv4/tcp_keepalive_intvl))
        $options.ProbeCount | Should -Be ([int](Get-Content /proc/sys/net/ipv4/tcp_keepalive_probes))
        $options.Count | Should -Be 1
        $options.UserTimeout | Should -Be 0
    }

    It 'says which socket each result is' {
        $options = Get-SocketKeepalive -Socket $pair.Client.Client
        $options.LocalAddress | Should -Be '127.0.0.1'
        $options.LocalPort | Should -Be $pair.Client.Client.LocalEndPoint.Port
        $options.RemoteAddress | Should -Be '127.0.0.1'
        $options.RemotePort | Should -Be $pair.Server.LocalEndPoint.Port
        ($options | Format-Table | Out-String -Width 120) | Should -Match "127\.0\.0\.1:$($options.LocalPort)"
    }

    It 'binds a TcpClient from the pipeline through its Client property' {
        $pair.Client.Client.SetSocketOption('Socket', 'KeepAlive', $true)
        ($pair.Client | Get-SocketKeepalive).Enabled | Should -BeTrue
    }

    It 'binds a Socket from the pipeline by value' {
        ($pair.Server | Get-SocketKeepalive).Enabled | Should -BeFalse
    }

    It 'works on IPv6 sockets' {
        $v6 = New-LoopbackPair ([System.Net.IPAddress]::IPv6Loopback)
        try { (Get-SocketKeepalive -Socket $v6.Client.Client).Enabled | Should -BeFalse }
        finally { $v6.Client.Dispose(); $v6.Server.Dispose() }
    }

    It 'has a table view' {
        (Get-SocketKeepalive -Socket $pair.Client.Client | Format-Table | Out-String -Width 120) | Should -Match 'DeadPeerDetection'
    }

    It 'refuses a UDP socket with SocketInvalidTarget' {
        $udp = [System.Net.Sockets.Socket]::new('InterNetwork', 'Dgram', 'Udp')
        try {
            { Get-SocketKeepalive -Socket $udp -ErrorAction Stop } |
                Should -Throw -ErrorId 'SocketInvalidTarget,PSKeepalive.Commands.GetSocketKeepaliveCommand' -ExpectedMessage '*is an IPv4 (AF_INET) SOCK_DGRAM socket*'
        }
        finally { $udp.Dispose() }
    }

    It 'refuses a Unix-domain socket with SocketInvalidTarget' {
        $unix = [System.Net.Sockets.Socket]::new('Unix', 'Stream', 'Unspecified')
        try {
            { Get-SocketKeepalive -Socket $unix -ErrorAction Stop } |
                Should -Throw -ErrorId 'SocketInvalidTarget,PSKeepalive.Commands.GetSocketKeepaliveCommand'
        }
        finally { $unix.Dispose() }
    }

    It 'reports a disposed socket as SocketNotFound' {
        $closed = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
        $closed.Dispose()
        { Get-SocketKeepalive -Socket $closed -ErrorAction Stop } |
            Should -Throw -ErrorId 'SocketNotFound,PSKeepalive.Commands.GetSocketKeepaliveCommand'
    }
}

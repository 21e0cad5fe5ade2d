# Sample objects for PSKeepalive.Views.Tests.ps1: for every type a cmdlet outputs (its [OutputType]) or a view in
# PSKeepalive.Format.ps1xml selects, a handful of realistic objects that push the view: IPv6 and IPv4-mapped
# addresses, long process names, every kind of timer and outcome. A type without an entry here fails the views
# suite, so a new output type comes with its samples.
#
# Each entry, keyed by the type's full name:
#   Essential  the table columns (labels) the view is for: at 80 columns they are shown and whole.
#   Addresses  address columns (right-aligned): at any width they may lose their start, never the port.
#   Samples    a script block that returns the objects.
# At 120 columns every column of the table view is shown, and every column with a fixed width is whole.
# PowerShell passes $null to a string parameter of a .NET method as "": a null string is [NullString]::Value ($none).

$none = [NullString]::Value

$script:ViewSamples = @{
    'PSKeepalive.Core.Settings.TcpKeepaliveSetting' = @{
        Essential = 'Time(s)', 'Interval(s)', 'Probes', 'DeadPeerDetection', 'NetworkNamespace'
        Addresses = @()
        Samples   = {
            [PSKeepalive.Core.Settings.TcpKeepaliveSetting]::new(7200, 75, 9, 'net:[4026531840]')
            [PSKeepalive.Core.Settings.TcpKeepaliveSetting]::new(32767, 32767, 127, 'net:[4026532481]')
            [PSKeepalive.Core.Settings.TcpKeepaliveSetting]::new(1, 1, 1, 'net:[4026532999]')
        }
    }

    'PSKeepalive.Core.Connections.TcpConnection' = @{
        Essential = 'State', 'Keepalive'
        Addresses = 'Local', 'Remote'
        Samples   = {
            $base = @{ Inode = 241675; Uid = 0; Cookie = 2104; ProbesSent = 0 }
            function New-Connection([hashtable] $Values) {
                $all = $base.Clone()
                foreach ($key in $Values.Keys) { $all[$key] = $Values[$key] }
                [PSKeepalive.Core.Connections.TcpConnection] $all
            }
            $sshd = [PSKeepalive.Core.Connections.TcpConnectionProcess]::new(812, 'sshd', 'sshd: admin [priv]', 4)
            $java = [PSKeepalive.Core.Connections.TcpConnectionProcess]::new(4194302, 'java-order-service-worker-pool', '/usr/bin/java -jar orders.jar', 187)
            $javaChild = [PSKeepalive.Core.Connections.TcpConnectionProcess]::new(4194303, 'java-order-service-worker-pool', '/usr/bin/java -jar orders.jar', 187)
            # A keepalive timer running: the ghost-to-be is covered.
            New-Connection @{ AddressFamily = 'IPv4'; LocalAddress = '192.168.100.200'; LocalPort = 22; RemoteAddress = '203.0.113.254'; RemotePort = 65535
                State = 'Established'; Timer = 'Keepalive'; TimerExpires = [timespan]::FromSeconds(59.4); OwningProcess = 812; Processes = [PSKeepalive.Core.Connections.TcpConnectionProcess[]] @($sshd) }
            # Long IPv6 addresses, no timer: certainly without keepalive; a long process name shared by two processes.
            New-Connection @{ AddressFamily = 'IPv6'; LocalAddress = '2001:db8:85a3:1234:5678:8a2e:370:7334'; LocalPort = 44321
                RemoteAddress = '2001:db8:ffff:ffff:ffff:ffff:ffff:fffe'; RemotePort = 5432; State = 'Established'; Timer = 'None'
                OwningProcess = 4194302; Processes = [PSKeepalive.Core.Connections.TcpConnectionProcess[]] @($java, $javaChild) }
            # A listener read with -IncludeSocketOption.
            New-Connection @{ AddressFamily = 'IPv6'; LocalAddress = '::'; LocalPort = 443; RemoteAddress = '::'; RemotePort = 0; State = 'Listen'; Timer = 'None'
                KeepaliveEnabled = $true; Idle = 32767; Interval = 32767; Count = 127; UserTimeout = 0 }
            # An IPv4-mapped peer with data in flight: the retransmission timer hides keepalive.
            New-Connection @{ AddressFamily = 'IPv6'; LocalAddress = '::ffff:127.0.0.1'; LocalPort = 59470; RemoteAddress = '::ffff:127.0.0.1'; RemotePort = 34321
                State = 'Established'; Timer = 'Retransmit'; TimerExpires = [timespan]::FromMilliseconds(1200) }
            New-Connection @{ AddressFamily = 'IPv4'; LocalAddress = '127.0.0.1'; LocalPort = 51780; RemoteAddress = '127.0.0.1'; RemotePort = 36413
                State = 'TimeWait'; Timer = 'TimeWait'; TimerExpires = [timespan]::FromSeconds(59) }
            New-Connection @{ AddressFamily = 'IPv4'; LocalAddress = '10.200.30.40'; LocalPort = 8080; RemoteAddress = '198.51.100.200'; RemotePort = 61000
                State = 'CloseWait'; Timer = 'ZeroWindowProbe'; TimerExpires = [timespan]::FromSeconds(7140); ProbesSent = 10 }
            New-Connection @{ AddressFamily = 'IPv4'; LocalAddress = '127.0.0.1'; LocalPort = 40164; RemoteAddress = '127.0.0.1'; RemotePort = 42417
                State = 'Established'; Timer = 'Keepalive'; TimerExpires = [timespan]::FromSeconds(7199); ProbesSent = 127 }
            New-Connection @{ AddressFamily = 'IPv4'; LocalAddress = '127.0.0.1'; LocalPort = 40166; RemoteAddress = '127.0.0.1'; RemotePort = 42417
                State = 'SynReceived'; Timer = 'None'; KeepaliveEnabled = $false; Idle = 7200; Interval = 75; Count = 9; UserTimeout = 0 }
        }
    }

    'PSKeepalive.Core.Retrofit.KeepaliveChangeResult' = @{
        Essential = 'Pid', 'State', 'Outcome', 'Keepalive'
        Addresses = 'Local', 'Remote'
        Samples   = {
            $off = [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($false, 7200, 75, 9, 0)
            $on = [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($true, 600, 60, 10, 30000)
            [PSKeepalive.Core.Retrofit.KeepaliveChangeResult]::new(4194302, 'java-order-service-worker-pool', 187, 241675, 'Established',
                '2001:db8:85a3:1234:5678:8a2e:370:7334', 44321, '2001:db8:ffff:ffff:ffff:ffff:ffff:fffe', 5432, 'Applied', $none, $none, $off, $on)
            [PSKeepalive.Core.Retrofit.KeepaliveChangeResult]::new(812, 'sshd', 3, 241676, 'Listen', '0.0.0.0', 22, '0.0.0.0', 0, 'Skipped',
                'The socket already has the requested values.', $none, $on, $on)
            [PSKeepalive.Core.Retrofit.KeepaliveChangeResult]::new(1, 'systemd', 45, 241677, 'Unknown', $none, 0, $none, 0, 'Failed',
                'Reading the descriptors of process 1 needs ptrace access: root, or CAP_SYS_PTRACE.', 'ProcessPermissionDenied', $null, $null)
            [PSKeepalive.Core.Retrofit.KeepaliveChangeResult]::new(23456, 'python3', 4, 241678, 'Established', '192.168.100.200', 65535,
                '203.0.113.254', 65535, 'Applied', $none, $none, $off, $off)
        }
    }

    'PSKeepalive.Core.Retrofit.TcpConnectionCloseResult' = @{
        Essential = 'State', 'Outcome'
        Addresses = 'Local', 'Remote'
        Samples   = {
            [PSKeepalive.Core.Retrofit.TcpConnectionCloseResult]::new('2001:db8:85a3:1234:5678:8a2e:370:7334', 44321,
                '2001:db8:ffff:ffff:ffff:ffff:ffff:fffe', 5432, 'Established', 241675, 2104, 'Closed', $none, $none)
            [PSKeepalive.Core.Retrofit.TcpConnectionCloseResult]::new('::ffff:127.0.0.1', 59470, '::ffff:127.0.0.1', 34321, 'CloseWait',
                0, [ulong]::MaxValue, 'Skipped', 'The socket was already gone.', 'ConnectionNotFound')
            [PSKeepalive.Core.Retrofit.TcpConnectionCloseResult]::new('192.168.100.200', 65535, '203.0.113.254', 65535, 'Established',
                241677, 18446744073709551614, 'Failed', 'Closing a connection needs CAP_NET_ADMIN.', 'ConnectionPermissionDenied')
        }
    }

    'PSKeepalive.Core.Sockets.SocketKeepaliveOptions' = @{
        Essential = 'Enabled', 'Idle(s)', 'Interval(s)', 'Count', 'UserTimeout(ms)', 'DeadPeerDetection(s)'
        Addresses = @()
        Samples   = {
            [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($false, 7200, 75, 9, 0)
            [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($true, 32767, 32767, 127, 2147483647)
            [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($true, 1, 1, 1, 1500)
        }
    }

    'PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult' = @{
        Essential = 'Passed', 'Mechanism', 'Expected(s)', 'Measured(s)', 'Error', 'Probes', 'Retrans'
        Addresses = @()
        Samples   = {
            $s = [timespan]::FromSeconds
            [PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult]::new(1, 1, 3, 0, $s.Invoke(4), $s.Invoke(4.012), 'ETIMEDOUT', 3, 0, $true,
                $s.Invoke(1), $s.Invoke(0.5), $false, $false, 'Keepalive', '127.0.0.1', 'net:[4026531840]',
                'Keepalive detected the silent peer after 4.01 s, as expected (4 s), with 3 probes.')
            [PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult]::new(2, 1, 2, 1500, $s.Invoke(3), $s.Invoke(3.4), 'ETIMEDOUT', 2, 0, $true,
                $s.Invoke(1), $s.Invoke(0.5), $false, $false, 'KeepaliveUserTimeout', '::1', 'net:[4026531840]', 'TCP_USER_TIMEOUT ended the keepalive run.')
            [PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult]::new(1, 1, 3, 2000, $s.Invoke(2), $s.Invoke(2.41), 'ETIMEDOUT', 0, 6, $true,
                $s.Invoke(1), $s.Invoke(0.5), $true, $false, 'UserTimeout', '127.0.0.1', 'net:[4026531840]', 'Keepalive did not fire with data in flight.')
            [PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult]::new(7200, 75, 9, 0, $s.Invoke(924.6), $null, $none, 0, 15, $false,
                $s.Invoke(231.15), $s.Invoke(0.5), $true, $true, 'Retransmission', '::1', 'net:[4026532481]', 'Still open at the end of the wait.')
        }
    }
}

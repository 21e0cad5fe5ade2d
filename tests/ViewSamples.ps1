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
                KeepaliveEnabled = $true; Idle = 32767; Interval = 32767; ProbeCount = 127; UserTimeout = 0 }
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
                State = 'SynReceived'; Timer = 'None'; KeepaliveEnabled = $false; Idle = 7200; Interval = 75; ProbeCount = 9; UserTimeout = 0 }
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
        # Timeline(s) is the last column: shown at 80 columns, whole for short schedules only (it grows with Count).
        Essential = 'Passed', 'Mechanism', 'Expected(s)', 'Measured(s)'
        Addresses = @()
        Samples   = {
            $s = [timespan]::FromSeconds
            # The probe timeline is set after construction (init properties), as the self-test sets it.
            function Add-Timeline($Result, [string] $Timeline, [double[]] $ProbeTimes, [double[]] $Expected, [int[]] $Missing = @()) {
                $Result.Timeline = $Timeline; $Result.ProbeTimes = $ProbeTimes; $Result.ExpectedProbeTimes = $Expected; $Result.MissingProbes = $Missing
                $Result.TimelineResolution = [timespan]::FromMilliseconds(8)
                $Result
            }
            Add-Timeline ([PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult]::new(1, 1, 3, 0, $s.Invoke(4), $s.Invoke(4.012), 'ETIMEDOUT', 3, 0, $true,
                    $s.Invoke(1), $s.Invoke(0.5), $false, $false, 'Keepalive', '127.0.0.1', 'net:[4026531840]',
                    'Keepalive detected the silent peer after 4.01 s, as expected (4 s), with 3 probes.')) '1.01 2.04 3.06 | reset 4.01' @(1.013, 2.041, 3.069) @(1, 2, 3)
            Add-Timeline ([PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult]::new(2, 1, 2, 1500, $s.Invoke(3), $s.Invoke(3.4), 'ETIMEDOUT', 2, 0, $true,
                    $s.Invoke(1), $s.Invoke(0.5), $false, $false, 'KeepaliveUserTimeout', '::1', 'net:[4026531840]', 'TCP_USER_TIMEOUT ended the keepalive run.')) '2.01 3.03 | reset 3.40' @(2.011, 3.031) @(2, 3)
            Add-Timeline ([PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult]::new(1, 1, 3, 2000, $s.Invoke(2), $s.Invoke(2.41), 'ETIMEDOUT', 0, 6, $true,
                    $s.Invoke(1), $s.Invoke(0.5), $true, $false, 'UserTimeout', '127.0.0.1', 'net:[4026531840]', 'Keepalive did not fire with data in flight.')) 'no probes | reset 2.41' @() @()
            # The 2005 report: the first probe on schedule, then nothing.
            Add-Timeline ([PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult]::new(10, 10, 6, 0, $s.Invoke(70), $null, $none, 1, 0, $false,
                    $s.Invoke(17.5), $s.Invoke(0.5), $false, $false, 'Keepalive', '::1', 'net:[4026532481]', 'Still open at the end of the wait.')) '10.01 - - - - - | still open at 105.00' @(10.012) @(10, 20, 30, 40, 50, 60) @(2, 3, 4, 5, 6)
        }
    }

    'PSKeepalive.Core.Watch.TcpConnectionEvent' = @{
        Essential = 'Time', 'Kind', 'Probes'
        Addresses = 'Local', 'Remote'
        Samples   = {
            $base = @{ Time = [datetime]::new(2026, 12, 2, 10, 1, 32, 414, [System.DateTimeKind]::Local); Kind = 'Probe'; Probes = 2; State = 'Established'; Timer = 'Keepalive'
                TimerExpires = [timespan]::FromSeconds(9.9); AddressFamily = 'IPv4'; LocalAddress = '172.31.24.218'; LocalPort = 3333; RemoteAddress = '172.31.24.219'; RemotePort = 42126
                Cookie = 2104; Inode = 241675; Detail = 'keepalive probe 2 unanswered' }
            function New-WatchEvent([hashtable] $Values) {
                $all = $base.Clone()
                foreach ($key in $Values.Keys) { $all[$key] = $Values[$key] }
                [PSKeepalive.Core.Watch.TcpConnectionEvent] $all
            }
            New-WatchEvent @{ Kind = 'New'; Probes = 0; Timer = 'None'; TimerExpires = $null; Detail = 'new established connection, no keepalive' }
            New-WatchEvent @{ Kind = 'KeepaliveOn'; Probes = 0; TimerExpires = [timespan]::FromSeconds(59.4); ProbeCount = 3; Detail = 'keepalive switched on, keepalive timer 59s, 0 probes unanswered (idle 60 s, interval 10 s, count 3)' }
            New-WatchEvent @{ ProbeCount = 127; Probes = 127; Detail = 'keepalive probe 127 of 127 unanswered' }
            # Long IPv6 addresses: the ends (and ports) must show.
            New-WatchEvent @{ Kind = 'KeepaliveTimeout'; Probes = 9; AddressFamily = 'IPv6'; LocalAddress = '2001:db8:85a3:1234:5678:8a2e:370:7334'; LocalPort = 44321
                RemoteAddress = '2001:db8:ffff:ffff:ffff:ffff:ffff:fffe'; RemotePort = 65535; TimerExpires = [timespan]::Zero
                Detail = 'ended by keepalive with 9 probes unanswered: gone 0.4s after its keepalive timer was due' }
            New-WatchEvent @{ Kind = 'Answered'; Probes = 0; AddressFamily = 'IPv6'; LocalAddress = '::ffff:127.0.0.1'; RemoteAddress = '::ffff:127.0.0.1'; Detail = 'the peer answered after 2 unanswered probes' }
            New-WatchEvent @{ Kind = 'Closed'; Probes = 0; State = 'FinWait1'; Timer = 'Retransmit'; TimerExpires = [timespan]::FromMilliseconds(200); Inode = 0; NetworkNamespace = '/run/netns/blue'; Detail = 'closing (fin-wait-1)' }
        }
    }

    'PSKeepalive.Core.Policy.TcpKeepalivePolicy' = @{
        Essential = 'Idle(s)', 'Interval(s)', 'Count', 'UserTimeout(ms)', 'Mode', 'Force'
        # The cgroup names the policy: cut like an address, keeping its end (the service or scope).
        Addresses = 'Cgroup'
        Samples   = {
            $loaded = [datetime]::new(2026, 12, 2, 7, 14, 9)
            # Every timer set, at the limits; a container's long scope; timers left to the sysctls; a forced listener policy.
            [PSKeepalive.Core.Policy.TcpKeepalivePolicy]::new('/sys/fs/cgroup/system.slice/payments.service', '/system.slice/payments.service', 2362,
                32767, 32767, 127, 2147483647, 'All', $false, 4294967295, 4163, '345e28ce3af11d7b', $loaded)
            [PSKeepalive.Core.Policy.TcpKeepalivePolicy]::new('/sys/fs/cgroup/system.slice/docker-4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.scope',
                '/system.slice/docker-4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.scope', 4410, 30, $null, $null, $null, 'Outgoing', $false, 311, 302, '345e28ce3af11d7b', $loaded)
            [PSKeepalive.Core.Policy.TcpKeepalivePolicy]::new('/sys/fs/cgroup/unified', '/', 1, $null, $null, $null, 0, 'Listening', $true, 7, 5, '345e28ce3af11d7b', $null)
        }
    }
}

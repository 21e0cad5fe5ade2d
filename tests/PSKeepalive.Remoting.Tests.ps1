# What PowerShell remoting makes of PSKeepalive's output, without sshd: every output type is serialized as a remote
# host does it (PSSerializer at remoting's depth 1, the module's types loaded) and deserialized as a client gets it,
# with and without the module. The shape must let users do what they do locally (PSKeepalive.Types.ps1xml,
# about_PSKeepalive REMOTING AND FLEETS), and every view must render a deserialized twin exactly as the live
# object. PSKeepalive.Fleet.Tests.ps1 checks the same over real SSH remoting to several hosts.
BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1

    # Live objects of every type a view formats, covering every branch of the views' scriptblocks.
    function New-ViewSample([string] $TypeName) {
        $none = [PSKeepalive.Core.Connections.TcpConnectionProcess[]]@()
        switch ($TypeName) {
            'PSKeepalive.Core.Connections.TcpConnection' {
                $base = @{ AddressFamily = 'IPv4'; LocalAddress = '127.0.0.1'; LocalPort = 40000; RemoteAddress = '127.0.0.1'; RemotePort = 5432; State = 'Established'; Inode = 1001; Uid = 0; Cookie = 7; Timer = 'None'; Processes = $none }
                function Connection([hashtable] $Change) { $h = $base.Clone(); foreach ($k in $Change.Keys) { $h[$k] = $Change[$k] }; [PSKeepalive.Core.Connections.TcpConnection]$h }
                function Owners([object[]] $Pairs) { , [PSKeepalive.Core.Connections.TcpConnectionProcess[]]@(for ($i = 0; $i -lt $Pairs.Count; $i += 2) { [PSKeepalive.Core.Connections.TcpConnectionProcess]::new($Pairs[$i], $Pairs[$i + 1], "$($Pairs[$i + 1]) --serve", 5 + $i) }) }
                Connection @{}
                Connection @{ LocalPort = 40001; Timer = 'Keepalive'; TimerExpires = [timespan]::FromSeconds(59); OwningProcess = 4242; Processes = (Owners 4242, 'legacy-app') }
                Connection @{ LocalPort = 40002; Timer = 'Keepalive'; TimerExpires = [timespan]::FromSeconds(29.4); ProbesSent = 2; KeepaliveEnabled = $true; Idle = 30; Interval = 5; ProbeCount = 3; UserTimeout = 0; OwningProcess = 812; Processes = (Owners 812, 'nginx', 813, 'nginx', 814, 'nginx') }
                Connection @{ AddressFamily = 'IPv6'; LocalAddress = '::'; LocalPort = 8080; RemoteAddress = '::'; RemotePort = 0; State = 'Listen'; KeepaliveEnabled = $false; Idle = 7200; Interval = 75; ProbeCount = 9; UserTimeout = 0; OwningProcess = 9; Processes = (Owners 9, $null) }
                Connection @{ LocalPort = 40004; Timer = 'Retransmit'; TimerExpires = [timespan]::FromSeconds(1.2); SendQueue = 1448; OwningProcess = 77 }
                Connection @{ LocalPort = 40005; State = 'TimeWait'; Timer = 'TimeWait'; TimerExpires = [timespan]::FromSeconds(59); Inode = 0 }
                Connection @{ LocalPort = 40006; Timer = 'ZeroWindowProbe'; TimerExpires = [timespan]::FromSeconds(3); ProbesSent = 2; Rtt = [timespan]::FromMilliseconds(0.05); LastDataSent = [timespan]::FromSeconds(3); LastDataReceived = [timespan]::FromSeconds(90); Retransmits = 0; UnackedSegments = 0 }
                Connection @{ LocalPort = 40007; KeepaliveEnabled = $true; NetworkNamespace = '/run/netns/blue' }
                Connection @{ LocalPort = 40008; State = 'Listen'; RemotePort = 0; RemoteAddress = '0.0.0.0' }
            }
            'PSKeepalive.Core.Retrofit.KeepaliveChangeResult' {
                $before = [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($false, 7200, 75, 9, 0)
                $after = [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($true, 60, 10, 6, 0)
                [PSKeepalive.Core.Retrofit.KeepaliveChangeResult]::new(4242, 'legacy-app', 5, 1001, 'Established', '127.0.0.1', 40001, '127.0.0.1', 5432, 'Applied', $null, $null, $before, $after)
                [PSKeepalive.Core.Retrofit.KeepaliveChangeResult]::new(9, $null, 3, 1002, 'Listen', '::', 8080, '::', 0, 'Skipped', 'the socket already has these values', $null, $after, $after)
                [PSKeepalive.Core.Retrofit.KeepaliveChangeResult]::new(1, 'init', 7, 1003, 'Unknown', $null, 0, $null, 0, 'Failed', 'Permission denied: run as root.', 'ProcessPermissionDenied', $null, $null)
                [PSKeepalive.Core.Retrofit.KeepaliveChangeResult]::new(77, 'app', 8, 1004, 'Established', '::1', 40004, '::1', 443, 'Applied', $null, $null, $after, $before)
            }
            'PSKeepalive.Core.Retrofit.TcpConnectionCloseResult' {
                [PSKeepalive.Core.Retrofit.TcpConnectionCloseResult]::new('127.0.0.1', 40001, '127.0.0.1', 5432, 'Established', 1001, 7, 'Closed', $null, $null)
                [PSKeepalive.Core.Retrofit.TcpConnectionCloseResult]::new('::1', 40002, '::1', 5432, 'Established', 0, [ulong]::MaxValue, 'Failed', 'Operation not permitted: CAP_NET_ADMIN.', 'ConnectionPermissionDenied')
            }
            'PSKeepalive.Core.Sockets.SocketKeepaliveOptions' {
                [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($true, 30, 5, 6, 20000)
                [PSKeepalive.Core.Sockets.SocketKeepaliveOptions]::new($false, 7200, 75, 9, 0)
            }
            'PSKeepalive.Core.Settings.TcpKeepaliveSetting' {
                [PSKeepalive.Core.Settings.TcpKeepaliveSetting]::new(7200, 75, 9, 'net:[4026531840]')
                [PSKeepalive.Core.Settings.TcpKeepaliveSetting]::new(600, 10, 6, 'net:[4026532999]')
            }
            'PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult' {
                [PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult]::new(1, 1, 3, 0, [timespan]::FromSeconds(4), [timespan]::FromSeconds(4.08), 'ETIMEDOUT', 3, 3, $true, [timespan]::FromSeconds(1), [timespan]::FromSeconds(0.5), $false, $false, 'Keepalive', '127.0.0.1', 'net:[4026531840]', 'The kernel ended the connection after 4.08 s.')
                [PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult]::new(1, 1, 3, 2000, [timespan]::FromSeconds(2.4), $null, $null, 0, 5, $false, [timespan]::FromSeconds(1), [timespan]::FromSeconds(0.5), $true, $true, 'UserTimeout', '::1', 'net:[4026531840]', 'Still open after the wait.')
            }
            'PSKeepalive.Core.Policy.TcpKeepalivePolicy' {
                [PSKeepalive.Core.Policy.TcpKeepalivePolicy]::new('/sys/fs/cgroup/system.slice/nginx.service', '/system.slice/nginx.service', 2362,
                    60, 10, 6, $null, 'All', $false, 4244, 4163, '345e28ce3af11d7b', [datetime]::new(2026, 12, 2, 7, 14, 9))
                [PSKeepalive.Core.Policy.TcpKeepalivePolicy]::new('/sys/fs/cgroup/unified', '/', 1, $null, $null, $null, 0, 'Listening', $true, 7, 5, '345e28ce3af11d7b', $null)
            }
            'PSKeepalive.Core.Watch.TcpConnectionEvent' {
                $time = [datetime]::new(2026, 12, 2, 10, 0, 1, 250, [System.DateTimeKind]::Local)
                $base = @{ Time = $time; Kind = 'Probe'; Probes = 2; State = 'Established'; Timer = 'Keepalive'; TimerExpires = [timespan]::FromSeconds(1); AddressFamily = 'IPv4'; LocalAddress = '127.0.0.1'; LocalPort = 3333; RemoteAddress = '127.0.0.1'; RemotePort = 42126; Cookie = 7; Inode = 1001; Detail = 'keepalive probe 2 unanswered' }
                function WatchEvent([hashtable] $Change) { $h = $base.Clone(); foreach ($k in $Change.Keys) { $h[$k] = $Change[$k] }; [PSKeepalive.Core.Watch.TcpConnectionEvent]$h }
                WatchEvent @{ Kind = 'New'; Probes = 0; Timer = 'None'; TimerExpires = $null; Detail = 'new established connection, no keepalive' }
                WatchEvent @{ ProbeCount = 3; Detail = 'keepalive probe 2 of 3 unanswered'; NetworkNamespace = '/run/netns/blue' }
                WatchEvent @{ Kind = 'KeepaliveTimeout'; Probes = 3; AddressFamily = 'IPv6'; LocalAddress = '::1'; RemoteAddress = '::ffff:127.0.0.7'; TimerExpires = [timespan]::Zero; Detail = 'ended by keepalive with 3 probes unanswered: gone 0.2s after its keepalive timer was due' }
                WatchEvent @{ Kind = 'Closed'; Probes = 0; State = 'FinWait1'; Timer = 'Retransmit'; TimerExpires = [timespan]::FromSeconds(0.2); Inode = 0; Detail = 'closing (fin-wait-1)' }
            }
            default { throw "No samples for ${TypeName}: add some to New-ViewSample" }
        }
    }

    # As a remote host sends them (the module's types loaded here: that is the host's side) and a client with the
    # module imported receives them.
    function ConvertTo-Twin([object[]] $InputObject, [int] $Depth = 1) {
        foreach ($o in $InputObject) {
            [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($o, $Depth))
        }
    }

    # As a client WITHOUT the module receives them: deserialized in a runspace that never imported it (no types,
    # no views).
    function ConvertTo-BareTwin([object[]] $InputObject, [int] $Depth = 1) {
        $xml = foreach ($o in $InputObject) { [System.Management.Automation.PSSerializer]::Serialize($o, $Depth) }
        $ps = [powershell]::Create()
        try {
            $ps.AddScript('param($xml) foreach ($x in $xml) { [System.Management.Automation.PSSerializer]::Deserialize($x) }').AddArgument(@($xml)).Invoke()
        }
        finally { $ps.Dispose() }
    }

    # What remoting adds to every object it delivers; formatting then shows a PSComputerName column (or line).
    # Added to live objects too, the text must be the same.
    function Add-RemotingNote($InputObject) {
        foreach ($o in $InputObject) {
            $o.PSObject.Properties.Add([psnoteproperty]::new('PSComputerName', 'web1'))
            $o.PSObject.Properties.Add([psnoteproperty]::new('RunspaceId', [guid]::Empty))
            $o.PSObject.Properties.Add([psnoteproperty]::new('PSShowComputerName', $true))
            $o
        }
    }

    # The text of the type's default table or list view (default formatting, as users get it: Format-Table -View
    # would leave the PSComputerName column out), wide enough that no column is cut.
    function Show-View($InputObject, [string] $Control, [switch] $Strict) {
        $render = {
            param($objects, $control)
            if ($control -eq 'TableControl') { $objects | Format-Table | Out-String -Width 250 }
            else { $objects | Format-List | Out-String -Width 250 }
        }
        $text = if ($Strict) {
            & { Set-StrictMode -Version Latest; & $render $InputObject $Control }
        }
        else { & $render $InputObject $Control }
        ($text -split "`r?`n" | ForEach-Object TrimEnd) -join "`n"
    }

    # Compares a live object with its twin property by property: enums arrive as their names, TimeSpans and
    # DateTimes as themselves, nested records and lists with their own properties; nothing arrives as ToString() text.
    function Get-ShapeDifference($Live, $Twin, [string] $Path = '') {
        foreach ($p in $Live.PSObject.Properties | Where-Object MemberType -eq 'Property') {
            $name = $Path + $p.Name
            $expected = $p.Value
            $actual = $Twin.PSObject.Properties[$p.Name]
            if ($null -eq $actual) { "$name is missing"; continue }
            $actual = $actual.Value
            if ($null -eq $expected) {
                if ($null -ne $actual) { "$name should be null, is '$actual'" }
            }
            elseif ($expected -is [enum]) {
                if ($actual -isnot [string] -or $actual -cne $expected.ToString()) { "$name should be the name '$expected', is $($actual.GetType().Name) '$actual'" }
            }
            elseif ($expected -is [string] -or $expected -is [timespan] -or $expected -is [datetime] -or $expected -is [bool] -or $expected.GetType().IsPrimitive) {
                if ($actual -isnot $expected.GetType() -or $actual -ne $expected) { "$name should be $($expected.GetType().Name) '$expected', is $(if ($null -ne $actual) { $actual.GetType().Name }) '$actual'" }
            }
            elseif ($expected -is [System.Collections.IEnumerable]) {
                $e = @($expected); $a = @($actual)
                if ($e.Count -ne $a.Count) { "$name should have $($e.Count) items, has $($a.Count)"; continue }
                for ($i = 0; $i -lt $e.Count; $i++) { Get-ShapeDifference $e[$i] $a[$i] "$name[$i]." }
            }
            elseif ($actual -is [string]) { "$name arrived as text: '$actual'" }
            else { Get-ShapeDifference $expected $actual "$name." }
        }
    }

    $script:Formats = [xml](Get-Content -Raw (Join-Path $script:RepoRoot 'PSKeepalive.Format.ps1xml'))
    $script:OutputTypes = @(
        Get-Command -Module PSKeepalive -CommandType Cmdlet | ForEach-Object { $_.OutputType.Type } |
            Where-Object { $_ -and $_.Namespace -like 'PSKeepalive.*' } | Sort-Object FullName -Unique
    )
}

Describe 'Output objects through PowerShell remoting' {
    Context 'Views render a deserialized object exactly as the live one' {
        It 'renders every view of PSKeepalive.Format.ps1xml the same for live objects and their twins, also under Set-StrictMode' {
            $views = @($script:Formats.Configuration.ViewDefinitions.View | ForEach-Object {
                    [pscustomobject]@{ Name = $_.Name; TypeName = $_.ViewSelectedBy.TypeName; Control = if ($_.TableControl) { 'TableControl' } else { 'ListControl' } }
                })
            # One view per type and kind, so that default formatting (Format-Table, Format-List) picks the one tested.
            @($views | Group-Object TypeName, Control | Where-Object Count -gt 1).Name | Should -BeNullOrEmpty
            foreach ($view in $views) {
                $live = @(Add-RemotingNote (New-ViewSample $view.TypeName))
                $twin = @(Add-RemotingNote (ConvertTo-Twin (New-ViewSample $view.TypeName)))
                $twin[0].PSObject.TypeNames[0] | Should -Be "Deserialized.$($view.TypeName)"

                $expected = Show-View $live $view.Control
                $expected | Should -Match 'web1' -Because "view $($view.Name) shows PSComputerName for remote objects"
                @($expected -split "`n" | Where-Object { $_ }).Count | Should -BeGreaterThan $live.Count -Because "view $($view.Name) shows every sample"
                Show-View $twin $view.Control | Should -BeExactly $expected -Because "view $($view.Name) must show a deserialized object as the live one"
                Show-View $live $view.Control -Strict | Should -BeExactly $expected -Because "view $($view.Name) must work under Set-StrictMode -Version Latest"
                Show-View $twin $view.Control -Strict | Should -BeExactly $expected -Because "view $($view.Name) must work under Set-StrictMode for a deserialized object"
            }
            $views.Count | Should -BeGreaterOrEqual 9
        }

        It 'fills the TcpConnection Keepalive and Process columns of a twin (the columns remoting used to blank)' {
            $twin = ConvertTo-Twin (New-ViewSample 'PSKeepalive.Core.Connections.TcpConnection')
            $text = Show-View $twin 'TableControl'
            $text | Should -Match 'keepalive 59s/0\s+legacy-app/4242'
            $text | Should -Match 'on 30/5/3\s+nginx/812 \+2'
            $text | Should -Match 'retransmit 1\.2s\s+77\n'
            $text | Should -Match '\[::\]:0\s+off\s+9\n'
            $text | Should -Match 'zero-window 3s/2'
        }
    }

    Context 'Shape: what users do locally works on objects from Invoke-Command' {
        It 'keeps every property of <_> with its value, enums as names, nested records with their properties' -ForEach @(
            'PSKeepalive.Core.Connections.TcpConnection'
            'PSKeepalive.Core.Retrofit.KeepaliveChangeResult'
            'PSKeepalive.Core.Retrofit.TcpConnectionCloseResult'
            'PSKeepalive.Core.Sockets.SocketKeepaliveOptions'
            'PSKeepalive.Core.Settings.TcpKeepaliveSetting'
            'PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult'
            'PSKeepalive.Core.Policy.TcpKeepalivePolicy'
            'PSKeepalive.Core.Watch.TcpConnectionEvent'
        ) {
            $live = @(New-ViewSample $_)
            foreach ($twins in @((ConvertTo-Twin $live), (ConvertTo-BareTwin $live), (ConvertTo-BareTwin $live -Depth 2))) {
                $twins = @($twins)
                $twins | Should -HaveCount $live.Count
                $differences = for ($i = 0; $i -lt $live.Count; $i++) { Get-ShapeDifference $live[$i] $twins[$i] }
                $differences | Should -BeNullOrEmpty
            }
        }

        It 'covers every output type of the cmdlets' {
            $script:OutputTypes.FullName | Should -Be @(
                'PSKeepalive.Core.Connections.TcpConnection'
                'PSKeepalive.Core.Policy.TcpKeepalivePolicy'
                'PSKeepalive.Core.Retrofit.KeepaliveChangeResult'
                'PSKeepalive.Core.Retrofit.TcpConnectionCloseResult'
                'PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult'
                'PSKeepalive.Core.Settings.TcpKeepaliveSetting'
                'PSKeepalive.Core.Sockets.SocketKeepaliveOptions'
                'PSKeepalive.Core.Watch.TcpConnectionEvent'
            )
        }

        It 'filters, reads owners, sorts and groups twins as live objects, on a client without the module' {
            $live = @(New-ViewSample 'PSKeepalive.Core.Connections.TcpConnection')
            foreach ($twins in @((ConvertTo-Twin $live), (ConvertTo-BareTwin $live))) {
                @($twins | Where-Object State -eq Established).Count | Should -Be @($live | Where-Object State -eq Established).Count
                @($twins | Where-Object State -eq 'Established').Count | Should -BeGreaterThan 0
                @($twins | Where-Object State -in 'Listen', 'TimeWait').LocalPort | Should -Be @($live | Where-Object State -in 'Listen', 'TimeWait').LocalPort
                @($twins | Where-Object Timer -eq Keepalive).LocalPort | Should -Be @(40001, 40002)
                @($twins | Where-Object NoKeepalive).LocalPort | Should -Be @($live | Where-Object NoKeepalive).LocalPort
                @($twins | Where-Object { $_.Processes[0].Name -eq 'nginx' }).Processes.Pid | Should -Be @(812, 813, 814)
                @($twins | Where-Object { $_.Processes.Count -gt 0 } | ForEach-Object { "$($_.Processes[0].Pid):$($_.Processes[0].Name)" }) | Should -Be @('4242:legacy-app', '812:nginx', '9:')
                ($twins | Where-Object LocalPort -eq 40001).OwningProcess | Should -Be 4242
                ($twins | Where-Object LocalPort -eq 40002).TimerExpires | Should -Be ([timespan]::FromSeconds(29.4))
                @($twins | Sort-Object TimerExpires -Descending | Select-Object -First 2).LocalPort | Should -Be @($live | Sort-Object TimerExpires -Descending | Select-Object -First 2).LocalPort
                @($twins | Group-Object { $_.Processes[0].Name } | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) |
                    Should -Be @($live | Group-Object { $_.Processes[0].Name } | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" })
                @($twins | Group-Object State | Sort-Object Name).Name | Should -Be @('Established', 'Listen', 'TimeWait')
            }
        }

        It 'filters results on Outcome and Mechanism by name, and reads the options before and after a change' {
            $changes = @(New-ViewSample 'PSKeepalive.Core.Retrofit.KeepaliveChangeResult')
            $tests = @(New-ViewSample 'PSKeepalive.Core.SelfTest.TcpKeepaliveTestResult')
            $closes = @(New-ViewSample 'PSKeepalive.Core.Retrofit.TcpConnectionCloseResult')
            foreach ($convert in 'ConvertTo-Twin', 'ConvertTo-BareTwin') {
                @(& $convert $changes | Where-Object Outcome -eq Applied).Pid | Should -Be @(4242, 77)
                @(& $convert $changes | Where-Object { $_.After.Enabled -and $_.After.Idle -eq 60 }).Pid | Should -Be @(4242, 9)
                (& $convert $changes | Where-Object Outcome -eq Failed).ErrorId | Should -Be 'ProcessPermissionDenied'
                (& $convert $tests | Where-Object Mechanism -eq UserTimeout).Address | Should -Be '::1'
                (& $convert $tests | Where-Object Passed).MeasuredDetection | Should -Be ([timespan]::FromSeconds(4.08))
                (& $convert $closes | Where-Object Outcome -eq Closed).LocalPort | Should -Be 40001
                @(& $convert (New-ViewSample 'PSKeepalive.Core.Watch.TcpConnectionEvent') | Where-Object Kind -eq KeepaliveTimeout).LocalAddress | Should -Be '::1'
            }
        }

        It 'writes enums as names at any depth (Export-Clixml writes depth 2)' {
            $live = New-ViewSample 'PSKeepalive.Core.Connections.TcpConnection' | Select-Object -First 1
            foreach ($depth in 1, 2, 5) {
                $xml = [System.Management.Automation.PSSerializer]::Serialize($live, $depth)
                $xml | Should -Match '<S N="State">Established</S>'
                $xml | Should -Match '<S N="Timer">None</S>'
            }
        }

        It 'makes tagged enums real again where the module is loaded (files exported without these types)' {
            $live = New-ViewSample 'PSKeepalive.Core.Connections.TcpConnection' | Select-Object -First 1
            # A runspace without the module's types writes the enum as an Int32 tagged with its type names.
            $ps = [powershell]::Create()
            try { $xml = $ps.AddScript('param($o) [System.Management.Automation.PSSerializer]::Serialize($o, 2)').AddArgument($live).Invoke()[0] }
            finally { $ps.Dispose() }
            $xml | Should -Match '<T>PSKeepalive.Core.Connections.TcpState</T>'

            $restored = [System.Management.Automation.PSSerializer]::Deserialize($xml)
            $restored.State | Should -BeOfType ([PSKeepalive.Core.Connections.TcpState])
            $restored.Timer | Should -BeOfType ([PSKeepalive.Core.Connections.TcpTimer])
            @($restored | Where-Object State -eq Established) | Should -HaveCount 1
        }
    }
}

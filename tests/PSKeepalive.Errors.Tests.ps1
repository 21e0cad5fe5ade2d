# Errors as a script sees them: each cmdlet, made to fail for real, writes an ErrorRecord whose id is the stable
# '<Subject><Kind>,PSKeepalive.Commands.<Verb><Noun>Command', whose category matches the kind, whose target is the
# thing that failed, and whose id about_PSKeepalive's ERROR IDS names (as Get-Help shows it). Nothing is changed:
# the targets do not exist or are of the wrong kind. (The ids' uniqueness over the whole source: ErrorIdTests.)
BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    $script:Nowhere = '/run/netns/pskeepalive-errors-none'
    $script:ErrorIds = (Get-Help about_PSKeepalive | Out-String) -replace '(?s)^.*ERROR IDS', '' -replace '(?s)\n[A-Z][A-Z ]+\n.*$', ''

    # The first ErrorRecord the command writes or throws.
    function Get-FirstError([scriptblock] $Command) {
        try { $records = @(& $Command 2>&1 | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) }
        catch { $records = @($_) }
        $records | Select-Object -First 1
    }
}

Describe 'Errors' {
    It '<Case> fails with <Id> (<Category>)' -ForEach @(
        @{ Case = 'a missing namespace'; Command = { Get-TcpKeepaliveSetting -NetworkNamespace $Nowhere }; Id = 'NetworkNamespaceNotFound'; Cmdlet = 'GetTcpKeepaliveSettingCommand'; Category = 'ObjectNotFound'; Target = '/run/netns/pskeepalive-errors-none' }
        @{ Case = 'a file that is no namespace'; Command = { Get-TcpKeepaliveSetting -NetworkNamespace /etc/hostname }; Id = 'NetworkNamespaceInvalidTarget'; Cmdlet = 'GetTcpKeepaliveSettingCommand'; Category = 'InvalidType'; Target = '/etc/hostname' }
        @{ Case = 'a write into a missing namespace'; Command = { Set-TcpKeepaliveSetting -Time 60 -NetworkNamespace $Nowhere -Confirm:$false }; Id = 'NetworkNamespaceNotFound'; Cmdlet = 'SetTcpKeepaliveSettingCommand'; Category = 'ObjectNotFound'; Target = '/run/netns/pskeepalive-errors-none' }
        @{ Case = 'an address that is none'; Command = { Get-TcpConnection -RemoteAddress not-an-address }; Id = 'ConnectionInvalidArgument'; Cmdlet = 'GetTcpConnectionCommand'; Category = 'InvalidArgument'; Target = 'not-an-address' }
        @{ Case = 'a self-test longer than its timeout'; Command = { Test-TcpKeepalive -WithDataInFlight }; Id = 'KeepaliveTestInvalidArgument'; Cmdlet = 'TestTcpKeepaliveCommand'; Category = 'InvalidArgument'; Target = $null }
        @{ Case = 'a program that does not exist'; Command = { Start-KeepaliveProcess -Idle 60 /nonexistent/pskeepalive-program }; Id = 'ProgramNotFound'; Cmdlet = 'StartKeepaliveProcessCommand'; Category = 'ObjectNotFound'; Target = '/nonexistent/pskeepalive-program' }
        @{ Case = 'a UDP socket'; Command = { $udp = [System.Net.Sockets.Socket]::new('InterNetwork', 'Dgram', 'Udp'); try { Get-SocketKeepalive -Socket $udp } finally { $udp.Dispose() } }; Id = 'SocketInvalidTarget'; Cmdlet = 'GetSocketKeepaliveCommand'; Category = 'InvalidType'; Target = $null }
        @{ Case = 'a process that does not exist'; Command = { Enable-TcpKeepalive -ProcessId 4194303 -Idle 60 -Confirm:$false }; Id = 'ProcessNotFound'; Cmdlet = 'EnableTcpKeepaliveCommand'; Category = 'ObjectNotFound'; Target = 4194303 }
        @{ Case = 'closing in a missing namespace'; Command = { Close-TcpConnection -LocalAddress 127.0.0.1 -LocalPort 1 -RemoteAddress 127.0.0.1 -RemotePort 2 -NetworkNamespace $Nowhere -Confirm:$false }; Id = 'NetworkNamespaceNotFound'; Cmdlet = 'CloseTcpConnectionCommand'; Category = 'ObjectNotFound'; Target = '/run/netns/pskeepalive-errors-none' }
    ) {
        $record = Get-FirstError $Command
        $record | Should -Not -BeNullOrEmpty -Because "$Case should write an error"
        $record.FullyQualifiedErrorId | Should -Be "$Id,PSKeepalive.Commands.$Cmdlet"
        "$($record.CategoryInfo.Category)" | Should -Be $Category
        $record.TargetObject | Should -Not -BeNullOrEmpty -Because 'the error names what failed'
        if ($null -ne $Target) { "$($record.TargetObject)" | Should -Be "$Target" }
        $record.Exception.Message | Should -Not -BeNullOrEmpty
        # about_PSKeepalive names the id itself or its subject and its kind.
        $subject, $kind = $Id -csplit '(?<=[a-z])(?=(?:NotFound|InvalidTarget|InvalidArgument|PermissionDenied)$)', 2
        ($ErrorIds -match "\b$Id\b") -or (($ErrorIds -match "\b$subject\b") -and ($ErrorIds -match "\b$kind\b")) |
            Should -BeTrue -Because "about_PSKeepalive's ERROR IDS should explain $Id"
    }
}

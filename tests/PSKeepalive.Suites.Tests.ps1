# The Pester suites themselves, read with PowerShell's own parser: the Pester 5 traps that a run does not
# reveal (a -Skip condition evaluated before common.ps1 was loaded skips silently; an It without an assertion
# passes), and the house rules for tests: loopback addresses only, bounded waits, sysctls written only inside a
# throw-away namespace, error ids in their full form, one suite per exported cmdlet.
BeforeDiscovery {
    . $PSScriptRoot/common.ps1
    $script:SuiteCases = @(Get-ChildItem -Path $PSScriptRoot -Filter '*.Tests.ps1' | Sort-Object Name | ForEach-Object { @{ Suite = $_.Name; Path = $_.FullName } })
    $script:CmdletNames = @((Get-Module PSKeepalive).ExportedCmdlets.Keys | Sort-Object)
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    $script:Automatic = 'pid', 'host', 'input', 'args', 'error', 'matches', 'event', 'eventargs', 'eventsubscriber', 'home', 'profile',
    'psitem', '_', 'this', 'sender', 'true', 'false', 'isLinux', 'isWindows', 'isMacOS', 'isCoreCLR', 'pscmdlet', 'psboundparameters',
    'myinvocation', 'executioncontext', 'pshome', 'psscriptroot', 'pscommandpath', 'shellid', 'stacktrace', 'switch', 'foreach', 'lastexitcode'

    function Find-Ast($Ast, [scriptblock] $Predicate) { @($Ast.FindAll($Predicate, $true)) }

    function Find-Command($Ast, [string[]] $Name) {
        Find-Ast $Ast { param($n) $n -is [System.Management.Automation.Language.CommandAst] -and $n.GetCommandName() -in $Name }
    }

    # The value a command passes to -Name (as "-Name value" or "-Name:value"), or $null.
    function Get-ParameterArgument([System.Management.Automation.Language.CommandAst] $Command, [string] $Name) {
        $elements = $Command.CommandElements
        for ($i = 0; $i -lt $elements.Count; $i++) {
            if ($elements[$i] -is [System.Management.Automation.Language.CommandParameterAst] -and $elements[$i].ParameterName -eq $Name) {
                if ($elements[$i].Argument) { return $elements[$i].Argument }
                if ($i + 1 -lt $elements.Count) { return $elements[$i + 1] }
            }
        }
    }

    function Test-HasParameter([System.Management.Automation.Language.CommandAst] $Command, [string[]] $Name) {
        [bool]($Command.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] -and $_.ParameterName -in $Name })
    }

    # The block's script block argument (the last one, as It 'name' { ... } and Context 'name' -Skip:$x { ... } have it).
    function Get-Body([System.Management.Automation.Language.CommandAst] $Command) {
        $Command.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.ScriptBlockExpressionAst] } | Select-Object -Last 1
    }

    # The variable's name without its scope ($script:pid is pid).
    function Get-VariableName([System.Management.Automation.Language.VariableExpressionAst] $Variable) {
        $Variable.VariablePath.UserPath -replace '^\w+:', ''
    }

    # Whether the command runs inside { ... } | Should -Throw.
    function Test-InsideShouldThrow([System.Management.Automation.Language.Ast] $Node) {
        for ($n = $Node.Parent; $n; $n = $n.Parent) {
            if ($n -is [System.Management.Automation.Language.ScriptBlockExpressionAst]) {
                $pipeline = $n.Parent.Parent
                if ($pipeline -is [System.Management.Automation.Language.PipelineAst] -and $pipeline.PipelineElements.Count -ge 2 -and
                    $pipeline.PipelineElements[1].Extent.Text -match '^Should\s+-Throw') { return $true }
            }
        }
        $false
    }

    # Whether the first statement of the block dot-sources $PSScriptRoot/common.ps1.
    function Test-LoadsCommon([System.Management.Automation.Language.CommandAst] $Command) {
        $body = Get-Body $Command
        if (-not $body) { return $false }
        $first = $body.ScriptBlock.EndBlock.Statements | Select-Object -First 1
        $call = if ($first) { $first.Find({ param($n) $n -is [System.Management.Automation.Language.CommandAst] }, $true) }
        [bool]($call -and $call.InvocationOperator -eq 'Dot' -and $call.CommandElements[0].Extent.Text -eq '$PSScriptRoot/common.ps1')
    }
}

Describe 'Suite <Suite>' -ForEach $script:SuiteCases {
    BeforeAll {
        $tokens = $null; $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref] $tokens, [ref] $errors)
        # Statements at the top of the file: where BeforeDiscovery and the suite-wide BeforeAll belong.
        $topLevel = @($ast.EndBlock.Statements | ForEach-Object { $_.Find({ param($n) $n -is [System.Management.Automation.Language.CommandAst] }, $false) })
    }

    It 'parses without errors' {
        $errors | Should -BeNullOrEmpty
    }

    It 'loads common.ps1 first thing in BeforeDiscovery and in the top-level BeforeAll (-Skip and -ForEach are decided in Discovery)' {
        $discovery = @($topLevel | Where-Object { $_.GetCommandName() -eq 'BeforeDiscovery' })
        $beforeAll = @($topLevel | Where-Object { $_.GetCommandName() -eq 'BeforeAll' })
        $discovery.Count | Should -Be 1
        $beforeAll.Count | Should -Be 1
        Test-LoadsCommon $discovery[0] | Should -BeTrue
        Test-LoadsCommon $beforeAll[0] | Should -BeTrue
    }

    It 'assigns no automatic variable' {
        $assigned = Find-Ast $ast { param($n) $n -is [System.Management.Automation.Language.AssignmentStatementAst] } |
            ForEach-Object { $_.Left } | Where-Object { $_ -is [System.Management.Automation.Language.VariableExpressionAst] } |
            Where-Object { (Get-VariableName $_) -in $Automatic }
        $looped = Find-Ast $ast { param($n) $n -is [System.Management.Automation.Language.ForEachStatementAst] } |
            Where-Object { (Get-VariableName $_.Variable) -in $Automatic }
        @($assigned) + @($looped) | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Extent.Text)" } | Should -BeNullOrEmpty
    }

    It 'says why above every -Skip (the runner prints that comment as the reason)' {
        $comments = @($tokens | Where-Object Kind -eq 'Comment' | ForEach-Object { $_.Extent.EndLineNumber })
        Find-Command $ast 'It', 'Context', 'Describe' | Where-Object { Test-HasParameter $_ 'Skip' } |
            Where-Object { ($_.Extent.StartLineNumber - 1) -notin $comments } |
            ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.CommandElements[1].Extent.Text)" } | Should -BeNullOrEmpty
    }

    It 'asserts something in every It' {
        $its = Find-Command $ast 'It'
        $its | Should -Not -BeNullOrEmpty
        $empty = $its | Where-Object { -not (Find-Command (Get-Body $_) 'Should', 'Set-ItResult') }
        $empty | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.CommandElements[1].Extent.Text)" } | Should -BeNullOrEmpty
    }

    It "names error ids in full ('Id,PSKeepalive.Commands.VerbNounCommand': Should -Throw -ErrorId matches a part too)" {
        $ids = @(Find-Command $ast 'Should' | ForEach-Object { Get-ParameterArgument $_ 'ErrorId' })
        $ids += @(Find-Ast $ast { param($n) $n -is [System.Management.Automation.Language.PipelineAst] -and $n.PipelineElements.Count -eq 2 -and $n.PipelineElements[0].Extent.Text -match 'FullyQualifiedErrorId$' } |
                ForEach-Object { Get-ParameterArgument $_.PipelineElements[1] 'Be' })
        $ids | Where-Object { $_ -is [System.Management.Automation.Language.StringConstantExpressionAst] -and $_.Value -notmatch '^[A-Z]\w+,PSKeepalive\.Commands\.[A-Z]\w+Command$' } |
            ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Value)" } | Should -BeNullOrEmpty
    }

    It 'waits only with a bound' {
        $calls = Find-Ast $ast { param($n) $n -is [System.Management.Automation.Language.InvokeMemberExpressionAst] }
        # WaitForExit() with no timeout waits forever; after WaitForExit(ms) returned true it only flushes output.
        $calls | Where-Object { $_.Member.Extent.Text -eq 'WaitForExit' -and -not $_.Arguments -and $_.Expression.Extent.Text -ne '$process' } |
            ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Extent.Text)" } | Should -BeNullOrEmpty
        # Accept() with nothing pending blocks forever: only right after a Connect of the suite's own (already queued).
        $accepts = @($calls | Where-Object { $_.Member.Extent.Text -in 'Accept', 'AcceptSocket', 'AcceptTcpClient' -and -not $_.Arguments }).Count
        # A TcpClient made with an address and a port connects in its constructor.
        $connects = @($calls | Where-Object { $_.Member.Extent.Text -eq 'Connect' -or ($_.Member.Extent.Text -eq 'new' -and $_.Expression.Extent.Text -match 'TcpClient\]$' -and $_.Arguments.Count -eq 2) }).Count
        $accepts | Should -BeLessOrEqual $connects
        Find-Command $ast 'Start-Sleep' | Where-Object { $_.Extent.Text -match '\b\d{3,}\b' } | Should -BeNullOrEmpty
    }

    It 'uses loopback addresses only' {
        $strings = Find-Ast $ast { param($n) $n -is [System.Management.Automation.Language.StringConstantExpressionAst] -or $n -is [System.Management.Automation.Language.ExpandableStringExpressionAst] }
        $strings | ForEach-Object { [regex]::Matches($_.Value, '\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b') | ForEach-Object Value } |
            Where-Object { $_ -notlike '127.*' -and $_ -ne '0.0.0.0' } | Should -BeNullOrEmpty
        Find-Ast $ast { param($n) $n -is [System.Management.Automation.Language.MemberExpressionAst] -and $n.Extent.Text -match 'IPAddress\]::Any$' } | Should -BeNullOrEmpty
    }

    It 'writes sysctls only inside a throw-away namespace' {
        # A shell redirect into /proc/sys only through `ip netns exec`.
        Find-Ast $ast { param($n) $n -is [System.Management.Automation.Language.StringConstantExpressionAst] -and $n.Value -match '>\s*/proc/sys/' } |
            Where-Object { $_.Parent.Extent.Text -notmatch 'ip netns exec' -and $_.Parent.Parent.Extent.Text -notmatch 'netns exec' } |
            ForEach-Object { "line $($_.Extent.StartLineNumber)" } | Should -BeNullOrEmpty
        # Set-TcpKeepaliveSetting writes only with -WhatIf, into -NetworkNamespace, or where the write is expected to be refused.
        Find-Command $ast 'Set-TcpKeepaliveSetting' |
            Where-Object { -not (Test-HasParameter $_ 'WhatIf', 'NetworkNamespace') -and -not (Test-InsideShouldThrow $_) } |
            ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Extent.Text)" } | Should -BeNullOrEmpty
    }
}

Describe 'Suites per cmdlet' {
    It 'has tests/<Name>.Tests.ps1 for <Name>' -ForEach @($script:CmdletNames | ForEach-Object { @{ Name = $_ } }) {
        Join-Path $PSScriptRoot "$Name.Tests.ps1" | Should -Exist
    }
}

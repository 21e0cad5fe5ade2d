# The help a user reads with Get-Help: MAML and the about topic that the build compiles from docs/en-US
# (tools/HelpCompiler) next to the staged module. Every exported cmdlet is checked, so a new cmdlet is held to the
# same bar as soon as it is exported: synopsis, description, every parameter with its text and exactly what the
# cmdlet declares (type, sets, position, mandatory, pipeline input, aliases, valid range), examples with code.
BeforeDiscovery {
    . $PSScriptRoot/common.ps1
    $script:CmdletCases = @((Get-Module PSKeepalive).ExportedCmdlets.Keys | Sort-Object | ForEach-Object { @{ Name = $_ } })
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    $script:Common = [System.Management.Automation.PSCmdlet]::CommonParameters

    # The type name as platyPS writes it: Nullable unwrapped, arrays with [].
    function Get-HelpTypeName([type] $Type) {
        $inner = [Nullable]::GetUnderlyingType($Type)
        if ($inner) { $Type = $inner }
        if ($Type.IsArray) { return (Get-HelpTypeName $Type.GetElementType()) + '[]' }
        $Type.Name
    }

    # "Accept pipeline input" as platyPS writes it.
    function Get-HelpPipelineInput($Parameter) {
        switch ("$([int]$Parameter.ValueFromPipeline)$([int]$Parameter.ValueFromPipelineByPropertyName)") {
            '11' { 'True (ByPropertyName, ByValue)' }
            '10' { 'True (ByValue)' }
            '01' { 'True (ByPropertyName)' }
            default { 'False' }
        }
    }

    function Get-HelpText($Paragraphs) { (@($Paragraphs) | ForEach-Object Text) -join "`n" }
}

Describe 'Get-Help <Name>' -ForEach $script:CmdletCases {
    BeforeAll {
        $help = Get-Help -Name $Name -Full
        $command = Get-Command -Name $Name -Module PSKeepalive
        $declared = @($command.Parameters.Values | Where-Object Name -notin $Common)
    }

    It 'shows the compiled synopsis and description, not generated syntax' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        # Without MAML, PowerShell puts the syntax in the synopsis.
        $help.Synopsis | Should -Not -Match ([regex]::Escape('[<CommonParameters>]'))
        Get-HelpText $help.description | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples, each with code' {
        $examples = @($help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 2
        for ($i = 0; $i -lt $examples.Count; $i++) {
            # Numbered in order, each number once: a reader (and a bug report) refers to "Example 7".
            $examples[$i].title | Should -Match "Example $($i + 1):"
            $examples[$i].code | Should -Not -BeNullOrEmpty -Because "$($examples[$i].title) needs its code"
        }
        # At least one example runs the cmdlet itself (others may show it in a pipeline of several lines).
        ($examples.code -join "`n") | Should -Match ([regex]::Escape($Name))
    }

    It 'documents every parameter, and no other, each with its text' {
        $documented = @($help.parameters.parameter)
        @($documented.name | Sort-Object) | Should -Be @($declared.Name | Sort-Object)
        foreach ($parameter in $documented) {
            Get-HelpText $parameter.description | Should -Not -BeNullOrEmpty -Because "-$($parameter.name) needs a description"
        }
    }

    It 'gives each parameter its declared type and aliases' {
        foreach ($parameter in $help.parameters.parameter) {
            $metadata = $command.Parameters[$parameter.name]
            $parameter.type.name | Should -Be (Get-HelpTypeName $metadata.ParameterType) -Because "-$($parameter.name)'s type"
            $aliases = if ($metadata.Aliases.Count) { $metadata.Aliases -join ', ' } else { 'none' }
            $parameter.aliases | Should -Be $aliases -Because "-$($parameter.name)'s aliases"
        }
    }

    It 'shows one syntax per parameter set, with the position, requirement and pipeline input of that set' {
        $items = @($help.syntax.syntaxItem)
        $items.Count | Should -Be $command.ParameterSets.Count
        foreach ($set in $command.ParameterSets) {
            $names = @($set.Parameters | Where-Object Name -notin $Common | ForEach-Object Name | Sort-Object)
            $item = @($items | Where-Object { (@($_.parameter.name | Sort-Object) -join ',') -eq ($names -join ',') })
            $item.Count | Should -Be 1 -Because "one syntax should list exactly the parameters of set '$($set.Name)': $($names -join ', ')"
            foreach ($parameter in $set.Parameters | Where-Object Name -notin $Common) {
                $shown = $item[0].parameter | Where-Object name -eq $parameter.Name
                $because = "-$($parameter.Name) in set '$($set.Name)'"
                $shown.required | Should -Be $parameter.IsMandatory.ToString().ToLowerInvariant() -Because $because
                $shown.position | Should -Be $(if ($parameter.Position -lt 0) { 'named' } else { "$($parameter.Position)" }) -Because $because
                $shown.pipelineInput | Should -Be (Get-HelpPipelineInput $parameter) -Because $because
            }
        }
    }

    It 'states the valid range of every range-checked parameter' {
        foreach ($metadata in $declared) {
            $range = $metadata.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateRangeAttribute] }
            if (-not $range) { continue }
            $text = Get-HelpText ($help.parameters.parameter | Where-Object name -eq $metadata.Name).description
            $text | Should -Match "\b$($range.MinRange)\b" -Because "-$($metadata.Name) accepts $($range.MinRange) to $($range.MaxRange)"
            $text | Should -Match "\b$($range.MaxRange)\b" -Because "-$($metadata.Name) accepts $($range.MinRange) to $($range.MaxRange)"
        }
    }

    It 'names the output types the cmdlet declares' {
        $outputs = @($help.returnValues.returnValue.type.name)
        foreach ($type in $command.OutputType) { $outputs | Should -Contain $type.Name }
    }
}

Describe 'Get-Help about_PSKeepalive' {
    It 'opens after Import-Module by path' {
        # common.ps1 imported the module from out/PSKeepalive/PSKeepalive.psd1.
        $text = Get-Help about_PSKeepalive | Out-String
        $text | Should -Match 'about_PSKeepalive'
        $text | Should -Match 'SO_KEEPALIVE'
        $text | Should -Match 'ERROR IDS'
    }

    It 'opens after Import-Module by name, from PSModulePath' {
        $modules = Split-Path -Parent (Split-Path -Parent $script:ModulePath)
        $run = Invoke-ChildPwsh -Command 'Import-Module PSKeepalive -ErrorAction Stop; (Get-Module PSKeepalive).ModuleBase; Get-Help about_PSKeepalive | Out-String -Width 80' `
            -Environment @{ PSModulePath = $modules }
        $run.ExitCode | Should -Be 0 -Because $run.Error
        $run.Output | Should -Match ([regex]::Escape((Split-Path -Parent $script:ModulePath)))
        $run.Output | Should -Match 'SHORT DESCRIPTION'
        $run.Output | Should -Match 'SO_KEEPALIVE'
    }
}

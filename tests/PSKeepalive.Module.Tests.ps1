# The module as a whole, as PowerShell loads it from out/PSKeepalive: the manifest, the exports, the help and
# the format views (rendered in PSKeepalive.Views.Tests.ps1). The xunit suite (tests/PSKeepalive.Tests/Metadata) checks the same sources as text and
# metadata; this suite checks what pwsh makes of them.
BeforeDiscovery {
    . $PSScriptRoot/common.ps1

    $manifestData = Import-PowerShellDataFile -Path $script:ModulePath
    $script:CmdletCases = @($manifestData.CmdletsToExport | ForEach-Object { @{ Name = $_ } })

    # MAML exists only after `./build.ps1 -Task Docs` (platyPS); without it Get-Help shows generated syntax only.
    $moduleBase = Split-Path -Parent $script:ModulePath
    $script:HasMaml = Test-Path -LiteralPath (Join-Path $moduleBase 'en-US/PSKeepalive.dll-Help.xml')
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    $script:Manifest = Import-PowerShellDataFile -Path $script:ModulePath
    $script:ModuleBase = Split-Path -Parent $script:ModulePath
}

Describe 'PSKeepalive module' {
    Context 'Manifest' {
        It 'passes Test-ModuleManifest' {
            $info = Test-ModuleManifest -Path $script:ModulePath -ErrorAction Stop
            $info.Name | Should -Be 'PSKeepalive'
            $info.Version | Should -Be ([version]$script:Manifest.ModuleVersion)
            $info.PowerShellVersion | Should -Be ([version]'7.4')
            $info.CompatiblePSEditions | Should -Be @('Core')
            $info.RootModule | Should -Be 'PSKeepalive.dll'
        }

        It 'exports exactly the cmdlets the manifest lists, and nothing else' {
            $module = Get-Module PSKeepalive
            $module | Should -HaveCount 1
            @($module.ExportedCmdlets.Keys | Sort-Object) | Should -Be @($script:Manifest.CmdletsToExport | Sort-Object)
            $module.ExportedFunctions.Count | Should -Be 0
            $module.ExportedAliases.Count | Should -Be 0
            $module.ExportedVariables.Count | Should -Be 0
        }

        It 'has a cmdlet class behind every exported name' {
            foreach ($name in $script:Manifest.CmdletsToExport) {
                $command = Get-Command -Name $name -Module PSKeepalive -ErrorAction Stop
                $command.CommandType | Should -Be 'Cmdlet'
                $command.ImplementingType.Namespace | Should -Be 'PSKeepalive.Commands'
            }
        }

        It 'carries the PowerShell Gallery metadata' {
            $psData = $script:Manifest.PrivateData.PSData
            $psData.Tags | Should -Contain 'Linux'
            $psData.Tags | Should -Contain 'PSEdition_Core'
            $psData.LicenseUri | Should -BeLike 'https://*'
            $psData.ProjectUri | Should -BeLike 'https://*'
            $psData.ReleaseNotes | Should -BeLike "*$($script:Manifest.ModuleVersion)*"
        }

        It 'ships the format file, the about topic and the licence in the module folder' {
            foreach ($file in 'PSKeepalive.Format.ps1xml', 'en-US/about_PSKeepalive.help.txt', 'LICENSE') {
                Join-Path $script:ModuleBase $file | Should -Exist
            }
        }
    }

    Context 'Help for <Name>' -ForEach $script:CmdletCases {
        It 'has a platyPS page in docs/en-US' {
            Join-Path $script:RepoRoot "docs/en-US/$Name.md" | Should -Exist
        }

        # Needs the MAML from `./build.ps1 -Task Docs` (platyPS); skipped without it.
        It 'has a synopsis, a description and at least two examples' -Skip:(-not $script:HasMaml) {
            $help = Get-Help -Name $Name -Full
            $help.Synopsis | Should -Not -BeNullOrEmpty
            # Without MAML, PowerShell puts the syntax in the synopsis.
            $help.Synopsis | Should -Not -Match ([regex]::Escape('[<CommonParameters>]'))
            $help.Description | Should -Not -BeNullOrEmpty
            @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        }

        It 'documents every parameter and no other' -Skip:(-not $script:HasMaml) {
            $help = Get-Help -Name $Name -Full
            $common = [System.Management.Automation.PSCmdlet]::CommonParameters
            $declared = @((Get-Command -Name $Name).Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object)
            $documented = @($help.Parameters.Parameter.Name | Sort-Object)
            $documented | Should -Be $declared
        }
    }
}

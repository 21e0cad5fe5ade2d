# The module as a whole, as PowerShell loads it from out/PSKeepalive: the manifest, the exports and the files
# that ship with it. The help is checked in PSKeepalive.Help.Tests.ps1, the views in PSKeepalive.Views.Tests.ps1.
BeforeDiscovery {
    . $PSScriptRoot/common.ps1

    # Every PSKeepalive type a cmdlet declares with [OutputType].
    $script:OutputTypeCases = @(
        Get-Command -Module PSKeepalive -CommandType Cmdlet |
            ForEach-Object { $_.OutputType.Name } |
            Where-Object { $_ -like 'PSKeepalive.*' } |
            Sort-Object -Unique |
            ForEach-Object { @{ TypeName = $_ } }
    )
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

        It 'ships the format file, the compiled help and the licence in the module folder' {
            foreach ($file in 'PSKeepalive.Format.ps1xml', 'en-US/PSKeepalive.dll-Help.xml', 'en-US/about_PSKeepalive.help.txt', 'LICENSE') {
                Join-Path $script:ModuleBase $file | Should -Exist
            }
        }
    }

    # PowerShell gives every object .Count and .Length (a scalar counts as one), and PSObject's own members; remoting
    # adds PSComputerName and RunspaceId. A property of that name hides them: `$g = Get-TcpConnection ...` returning
    # one object would make `$g.Count` the property, not 1. Every type a cmdlet declares, also those added later.
    Context 'Output types' {
        It 'finds the output types of every cmdlet' {
            # Counted again here: variables of BeforeDiscovery do not reach the run phase.
            @((Get-Command -Module PSKeepalive -CommandType Cmdlet).OutputType.Name | Where-Object { $_ -like 'PSKeepalive.*' } | Sort-Object -Unique).Count |
                Should -BeGreaterOrEqual 6
        }

        It '<TypeName> has no property named as a member PowerShell gives every object' -ForEach $script:OutputTypeCases {
            $reserved = 'Count', 'Length', 'PSObject', 'PSBase', 'PSAdapted', 'PSExtended', 'PSTypeNames',
                'ForEach', 'Where', 'PSComputerName', 'PSShowComputerName', 'RunspaceId'
            $type = (Get-Command -Module PSKeepalive -CommandType Cmdlet).OutputType.Type | Where-Object FullName -EQ $TypeName | Select-Object -First 1
            $type | Should -Not -BeNullOrEmpty
            $names = $type.GetProperties().Name + $type.GetFields().Name
            $names | Where-Object { $_ -in $reserved } | Should -BeNullOrEmpty -Because "$TypeName must not hide PowerShell's own members"
        }
    }
}

#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests or documents PSKeepalive. A thin wrapper: all build and staging logic is in MSBuild,
    so `dotnet publish src/PSKeepalive -c Release -o out/PSKeepalive` does the same without PowerShell.
.PARAMETER Task
    Build: stage the loadable module in out/PSKeepalive (and the CLI in out/pskeepalive).
    Test:  dotnet test, then Invoke-Pester on tests/*.Tests.ps1 when Pester is installed.
    Docs:  New-ExternalHelp from docs/en-US into the staged module when platyPS is installed.
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Docs')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$moduleOut = Join-Path $root 'out/PSKeepalive'

function Invoke-Native {
    param([string] $FilePath, [string[]] $ArgumentList)
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) { throw "$FilePath $($ArgumentList -join ' ') failed with exit code $LASTEXITCODE" }
}

switch ($Task) {
    'Build' {
        Invoke-Native dotnet @('publish', "$root/src/PSKeepalive", '-c', $Configuration, '-o', $moduleOut)
        Invoke-Native dotnet @('publish', "$root/src/PSKeepalive.Cli", '-c', $Configuration, '-o', "$root/out/pskeepalive")
    }
    'Test' {
        Invoke-Native dotnet @('test', "$root/PSKeepalive.sln", '-c', $Configuration)
        if (Get-Module -ListAvailable -Name Pester | Where-Object Version -ge '5.0') {
            Invoke-Native dotnet @('publish', "$root/src/PSKeepalive", '-c', $Configuration, '-o', $moduleOut)
            # The suites are written for Pester's defaults: build.ps1's strict mode must not leak into them.
            Set-StrictMode -Off
            $result = Invoke-Pester -Path "$root/tests" -PassThru -Output Detailed
            if ($result.FailedCount -gt 0) { throw "$($result.FailedCount) Pester test(s) failed" }
        }
        else {
            Write-Warning 'Pester 5 is not installed: only the xunit suite ran (Install-Module Pester -MinimumVersion 5.0).'
        }
    }
    'Docs' {
        if (-not (Get-Module -ListAvailable -Name platyPS)) {
            throw 'platyPS is not installed (Install-Module platyPS); the markdown help in docs/en-US is the source.'
        }
        Import-Module platyPS
        if (-not (Test-Path (Join-Path $moduleOut 'PSKeepalive.psd1'))) {
            # The help belongs next to the module: stage it first so that Get-Help finds the MAML.
            Invoke-Native dotnet @('publish', "$root/src/PSKeepalive", '-c', $Configuration, '-o', $moduleOut)
        }
        # docs/en-US/*-*.md become en-US/PSKeepalive.dll-Help.xml; about_PSKeepalive.help.md becomes about_PSKeepalive.help.txt.
        New-ExternalHelp -Path "$root/docs/en-US" -OutputPath "$moduleOut/en-US" -Force | Out-Null
        Write-Host "MAML help written to $moduleOut/en-US"
    }
}

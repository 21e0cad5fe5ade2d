#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests, packages or tries PSKeepalive. A thin wrapper: the build, the help and the staging are
    MSBuild's (`dotnet publish src/PSKeepalive -c Release -o out/PSKeepalive` does the same without
    PowerShell); this script runs the steps in order and sums up the tests.
.DESCRIPTION
    Run it with the PowerShell that the repository pins (.config/dotnet-tools.json):
        dotnet tool restore
        dotnet pwsh ./build.ps1 -Task Test
.PARAMETER Task
    Build:   stage the module (with its compiled help) in out/PSKeepalive and the CLI in out/pskeepalive.
    Test:    every test: the xunit suite, then every Pester suite (tests/*.Tests.ps1) in a fresh pwsh against
             the staged module; ends with one line "N passed, N failed, N skipped" (both counted in) and a
             non-zero exit code when anything failed.
    Pester:  only the Pester suites, or the files given with -Path.
    Package: the module as a PowerShell package, out/package/PSKeepalive.<version>.nupkg
             (Install-PSResource installs it from that folder).
    Shell:   stage the module and start pwsh with PSKeepalive imported, showing Get-TcpKeepaliveSetting;
             with -Command, run that command instead and exit.
.PARAMETER Path
    Pester: the suite files (or folders) to run, comma-separated from a shell (default: tests/*.Tests.ps1).
.PARAMETER Command
    Shell: a command to run non-interactively after importing the module.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Pester -Path tests/Get-TcpConnection.Tests.ps1
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Pester', 'Package', 'Shell')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    [string[]] $Path,

    [string] $Command,

    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')]
    [string] $PesterOutput = 'Normal'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$out = Join-Path $root 'out'
$moduleOut = Join-Path $out 'PSKeepalive'
$results = Join-Path $out 'TestResults'
# No telemetry or update check from the pwsh children (there may be no network at all).
$env:POWERSHELL_TELEMETRY_OPTOUT = '1'
$env:POWERSHELL_UPDATECHECK = 'Off'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

function Invoke-Native {
    param([string] $FilePath, [string[]] $ArgumentList)
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) { throw "$FilePath $($ArgumentList -join ' ') failed with exit code $LASTEXITCODE" }
}

# The pwsh running this script, as a command line for a child: `dotnet pwsh` runs pwsh.dll under dotnet.
function Get-PwshCommand {
    $processPath = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($processPath) -eq 'dotnet') { , @($processPath, (Join-Path $PSHOME 'pwsh.dll')) }
    else { , @($processPath) }
}

function Publish-Module {
    param([switch] $NoBuild)
    $arguments = @('publish', "$root/src/PSKeepalive", '-c', $Configuration, '-o', $moduleOut, '-nologo')
    if ($NoBuild) { $arguments += '--no-build' }
    Invoke-Native dotnet $arguments
}

# out/package/PSKeepalive.<version>.nupkg from the staged module, as Publish-PSResource would write it, for
# Install-PSResource from a local repository (PSKeepalive.Package.Tests.ps1 does exactly that).
function New-ModulePackage {
    $package = Join-Path $out 'package'
    $null = New-Item -ItemType Directory -Force -Path $package
    $version = (Import-PowerShellDataFile -LiteralPath "$moduleOut/PSKeepalive.psd1").ModuleVersion
    $nupkg = Join-Path $package "PSKeepalive.$version.nupkg"
    Remove-Item -LiteralPath $nupkg -ErrorAction Ignore
    # PSResourceGet creates its repository list under XDG_DATA_HOME on first use: keep it in out/, away from the
    # user's own (this process ends with the task).
    $env:XDG_DATA_HOME = (New-Item -ItemType Directory -Force -Path (Join-Path $out 'psresourceget')).FullName
    Compress-PSResource -Path $moduleOut -DestinationPath $package
    if (-not (Test-Path -LiteralPath $nupkg)) { throw "Compress-PSResource did not write $nupkg" }

    # A zip entry keeps no Unix mode unless told: without it the installed seccomp launcher would not be
    # executable. Install-PSResource restores the modes written here.
    Add-Type -AssemblyName System.IO.Compression.FileSystem
    $zip = [System.IO.Compression.ZipFile]::Open($nupkg, 'Update')
    try {
        foreach ($entry in $zip.Entries) {
            $source = Join-Path $moduleOut $entry.FullName
            if (Test-Path -LiteralPath $source -PathType Leaf) {
                $entry.ExternalAttributes = ([int][System.IO.File]::GetUnixFileMode($source) -bor 0x8000) -shl 16
            }
        }
    }
    finally { $zip.Dispose() }
    Write-Host "Package written to $nupkg"
}

# The Pester suites in a fresh pwsh (no state or strict mode from this script), against the staged module.
# Returns the counts the runner wrote.
function Invoke-PesterSuites {
    Invoke-Native dotnet @('restore', "$root/tools/TestModules", '-nologo', '-v', 'quiet')
    $pester = (& dotnet msbuild "$root/tools/TestModules" -nologo -getProperty:PesterManifest).Trim()
    if ($LASTEXITCODE -ne 0 -or -not (Test-Path -LiteralPath $pester)) { throw "Pester was not restored (looked for '$pester')." }

    # From a shell (pwsh -File), "-Path a,b" arrives as one string.
    $suites = if ($Path) { $Path -split ',' | ForEach-Object { (Resolve-Path -LiteralPath $_.Trim()).Path } } else { , (Join-Path $root 'tests') }
    $pwsh = Get-PwshCommand
    $arguments = @($pwsh | Select-Object -Skip 1) + @(
        '-NoProfile', '-NonInteractive', '-File', "$root/tools/Invoke-PesterSuites.ps1",
        '-PesterManifest', $pester, '-ResultDirectory', $results, '-Output', $PesterOutput, '-Path', ($suites -join ','))
    $countsFile = Join-Path $results 'pester.json'
    Remove-Item -LiteralPath $countsFile -ErrorAction Ignore
    & $pwsh[0] @arguments | Out-Host
    if (-not (Test-Path -LiteralPath $countsFile)) { throw "The Pester run ended (exit code $LASTEXITCODE) without writing $countsFile." }
    Get-Content -Raw -LiteralPath $countsFile | ConvertFrom-Json
}

# xunit's counts, skip reasons and failures from the TRX file `dotnet test` wrote.
function Read-TrxResult([string] $File) {
    [xml] $trx = Get-Content -Raw -LiteralPath $File
    $tests = @($trx.TestRun.Results.UnitTestResult)
    $skipped = @($tests | Where-Object outcome -eq 'NotExecuted')
    $failed = @($tests | Where-Object outcome -notin 'Passed', 'NotExecuted')
    [pscustomobject]@{
        Passed  = @($tests | Where-Object outcome -eq 'Passed').Count
        Failed  = $failed.Count
        Skipped = $skipped.Count
        SkipReasons = @($skipped | ForEach-Object {
                $reason = $_.SelectSingleNode('.//*[local-name()="Message"]')
                [pscustomobject]@{ Name = $_.testName; Reason = if ($reason) { $reason.InnerText.Trim() } else { '(no reason given)' } }
            })
        # Named again after the Pester run, so a log that keeps only its tail still says what failed and why.
        Failures = @($failed | ForEach-Object {
                $message = $_.SelectSingleNode('.//*[local-name()="ErrorInfo"]/*[local-name()="Message"]')
                $stack = $_.SelectSingleNode('.//*[local-name()="ErrorInfo"]/*[local-name()="StackTrace"]')
                [pscustomobject]@{
                    Name    = $_.testName
                    Message = if ($message) { $message.InnerText.Trim() } else { "(outcome $($_.outcome), no message)" }
                    Where   = if ($stack) { ($stack.InnerText -split "`n" | Where-Object { $_ -match ' in .+:line \d+' } | Select-Object -First 2 | ForEach-Object Trim) -join ' / ' }
                }
            })
    }
}

Push-Location $root
try {
    switch ($Task) {
        'Build' {
            Publish-Module
            Invoke-Native dotnet @('publish', "$root/src/PSKeepalive.Cli", '-c', $Configuration, '-o', "$out/pskeepalive", '-nologo')
        }
        'Shell' {
            Publish-Module
            $import = "Import-Module '$moduleOut/PSKeepalive.psd1'"
            $pwsh = Get-PwshCommand
            if ($Command) {
                & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command "$import; $Command"
            }
            else {
                & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoLogo -NoExit -Command "$import; Get-TcpKeepaliveSetting"
            }
            exit $LASTEXITCODE
        }
        'Package' {
            Publish-Module
            New-ModulePackage
        }
        'Pester' {
            Publish-Module
            New-ModulePackage
            $pester = Invoke-PesterSuites
            "$($pester.Passed) passed, $($pester.Failed) failed, $($pester.Skipped) skipped"
            if ($pester.Failed -gt 0) { exit 1 }
        }
        'Test' {
            # One build for everything; the test run, the staging and the package reuse it.
            Invoke-Native dotnet @('build', "$root/PSKeepalive.sln", '-c', $Configuration, '-nologo')
            Remove-Item -Recurse -Force -LiteralPath $results -ErrorAction Ignore
            & dotnet test "$root/PSKeepalive.sln" -c $Configuration --no-build -nologo --results-directory $results --logger 'trx;LogFileName=xunit.trx'
            $xunitExit = $LASTEXITCODE
            $trxFile = Join-Path $results 'xunit.trx'
            $xunit = if (Test-Path -LiteralPath $trxFile) { Read-TrxResult $trxFile }
            else { [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0; SkipReasons = @(); Failures = @() } } # no TRX: the run itself failed

            Publish-Module -NoBuild
            New-ModulePackage
            $pester = Invoke-PesterSuites

            if ($xunit.SkipReasons) {
                Write-Host "xunit skipped $($xunit.Skipped) test(s):"
                $xunit.SkipReasons | Group-Object Reason | ForEach-Object {
                    Write-Host "  $($_.Count) x $($_.Name)"
                    $_.Group | Select-Object -First 3 | ForEach-Object { Write-Host "      $($_.Name)" }
                }
            }
            foreach ($failure in $xunit.Failures) {
                Write-Host "xunit failed: $($failure.Name)"
                Write-Host "    $(($failure.Message -split "`n" | Select-Object -First 6) -join "`n    ")"
                if ($failure.Where) { Write-Host "    at $($failure.Where)" }
            }
            foreach ($failure in @($pester.Failures)) {
                Write-Host "Pester failed: $((($failure -split "`n") | Select-Object -First 6) -join "`n    ")"
            }
            if ($xunitExit -ne 0 -and $xunit.Failed -eq 0) { $xunit.Failed = 1 } # dotnet test failed without a failed test (a crash)
            Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped; Pester: $($pester.Passed) passed, $($pester.Failed) failed, $($pester.Skipped) skipped"
            $passed = $xunit.Passed + $pester.Passed
            $failed = $xunit.Failed + $pester.Failed
            $skipped = $xunit.Skipped + $pester.Skipped
            "$passed passed, $failed failed, $skipped skipped"
            if ($failed -gt 0) { exit 1 }
        }
    }
}
finally {
    Pop-Location
}

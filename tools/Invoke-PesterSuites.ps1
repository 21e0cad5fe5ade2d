#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Runs Pester suites and sums them up for build.ps1: every skipped test with its reason, an NUnit XML
    report and pester.json ({ Passed, Failed, Skipped, Failures }) in -ResultDirectory. Exit code: 0 when nothing failed.
.DESCRIPTION
    build.ps1 starts it in a fresh pwsh (-NoProfile), so the suites run as in a user's session. A test
    skipped with -Skip:(condition) gets no reason from Pester itself; the reason printed here is the
    comment above the It/Context/Describe that carries -Skip, and the condition as written. Tests skipped
    with Set-ItResult -Skipped -Because print their -Because text.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $PesterManifest,
    [Parameter(Mandatory)] [string] $ResultDirectory,
    [Parameter(Mandatory)] [string[]] $Path,
    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')] [string] $Output = 'Normal'
)

$ErrorActionPreference = 'Stop'
Import-Module -Name $PesterManifest -Force
$null = New-Item -ItemType Directory -Force -Path $ResultDirectory

$configuration = New-PesterConfiguration
# One comma-separated string when started with pwsh -File.
$configuration.Run.Path = @($Path -split ',')
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = $Output
$configuration.TestResult.Enabled = $true
$configuration.TestResult.OutputFormat = 'NUnitXml'
$configuration.TestResult.OutputPath = Join-Path $ResultDirectory 'pester.xml'
$result = Invoke-Pester -Configuration $configuration

$parsed = @{}
function Get-SkipSource($Item) {
    # The It/Context/Describe call at the item's line, and the comment lines right above it.
    $file = $Item.ScriptBlock.File
    if (-not $file) { return $null }
    if (-not $parsed.ContainsKey($file)) {
        $tokens = $null; $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref] $tokens, [ref] $errors)
        $parsed[$file] = @{ Ast = $ast; Tokens = $tokens }
    }
    $source = $parsed[$file]
    $call = $source.Ast.Find({
            param($node)
            $node -is [System.Management.Automation.Language.CommandAst] -and
            $node.Extent.StartLineNumber -eq $Item.StartLine -and
            $node.GetCommandName() -in 'It', 'Context', 'Describe'
        }, $true)
    if (-not $call) { return $null }
    $skip = $call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] -and $_.ParameterName -eq 'Skip' } | Select-Object -First 1
    if (-not $skip) { return $null }
    $condition = if ($skip.Argument) { "-Skip:$($skip.Argument.Extent.Text)" } else { '-Skip' }
    $comments = [System.Collections.Generic.List[string]]::new()
    $line = $Item.StartLine - 1
    foreach ($token in @($source.Tokens | Where-Object { $_.Kind -eq 'Comment' } | Sort-Object { $_.Extent.StartLineNumber } -Descending)) {
        if ($token.Extent.EndLineNumber -ne $line) { continue }
        $comments.Insert(0, $token.Text.TrimStart('#').Trim())
        $line = $token.Extent.StartLineNumber - 1
    }
    if ($comments.Count -gt 0) { "$($comments -join ' ') [$condition]" } else { $condition }
}

function Get-SkipReason($Test) {
    foreach ($record in @($Test.ErrorRecord)) {
        if ($record -and $record.Exception.Message) { return $record.Exception.Message }
    }
    for ($item = $Test; $null -ne $item; $item = if ($item.PSObject.Properties['Block']) { $item.Block } else { $item.Parent }) {
        if ($item.PSObject.Properties['IsRoot'] -and $item.IsRoot) { break }
        $reason = Get-SkipSource $item
        if ($reason) { return $reason }
    }
    'no -Skip or Set-ItResult found for it'
}

$skippedTests = @($result.Skipped)
if ($skippedTests.Count -gt 0) {
    Write-Host "Pester skipped $($skippedTests.Count) test(s):"
    $skippedTests | ForEach-Object {
        [pscustomobject]@{ Reason = Get-SkipReason $_; Name = "$([IO.Path]::GetFileName($_.ScriptBlock.File)): $($_.ExpandedPath)" }
    } | Group-Object Reason | ForEach-Object {
        Write-Host "  $($_.Count) x $($_.Name)"
        $_.Group | ForEach-Object { Write-Host "      $($_.Name)" }
    }
}

# A failed BeforeAll or a suite that does not even load fails the run as much as a failed test.
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
# What failed, for build.ps1 to name again at the very end of the log (a log cut to its tail keeps that).
$failures = @(
    @($result.Failed) | ForEach-Object { "$([IO.Path]::GetFileName($_.ScriptBlock.File)): $($_.ExpandedPath): $(@($_.ErrorRecord)[0].Exception.Message)" }
    @($result.FailedBlocks) | ForEach-Object { "$([IO.Path]::GetFileName($_.ScriptBlock.File)): block $($_.ExpandedPath): $(@($_.ErrorRecord)[0].Exception.Message)" }
    @($result.FailedContainers) | ForEach-Object { "container $($_.Item): $(@($_.ErrorRecord)[0].Exception.Message)" }
)
[ordered]@{ Passed = $result.PassedCount; Failed = $failed; Skipped = $result.SkippedCount; Failures = $failures } |
    ConvertTo-Json | Set-Content -LiteralPath (Join-Path $ResultDirectory 'pester.json')
exit ([int]($failed -gt 0))

# The module as PowerShell users install it: out/package/PSKeepalive.<version>.nupkg (build.ps1 -Task Package)
# registered as a local PSResourceGet repository, installed with Install-PSResource, imported by name.
# Everything happens in child pwsh processes whose HOME and XDG folders are throw-away ones under TestDrive, so
# the repository list and the CurrentUser module folder are theirs, never the user's own.
BeforeDiscovery {
    . $PSScriptRoot/common.ps1
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    $script:Version = (Import-PowerShellDataFile -Path $script:ModulePath).ModuleVersion
    $script:PackageFolder = Join-Path $script:RepoRoot 'out/package'
    $script:Package = Join-Path $script:PackageFolder "PSKeepalive.$script:Version.nupkg"

    $script:FakeHome = Join-Path $TestDrive 'home'
    # The folders must exist: PSResourceGet asks .NET for them, which answers "" for a missing one.
    $script:Isolated = @{
        HOME            = $FakeHome
        XDG_DATA_HOME   = (New-Item -ItemType Directory -Force -Path "$FakeHome/.local/share").FullName
        XDG_CONFIG_HOME = (New-Item -ItemType Directory -Force -Path "$FakeHome/.config").FullName
        XDG_CACHE_HOME  = (New-Item -ItemType Directory -Force -Path "$FakeHome/.cache").FullName
        PSModulePath    = ''
    }
    $script:RepositoryName = 'PSKeepalivePesterLocal'
    # The user's own repository list, to show it is left alone.
    $script:UserStore = Join-Path ([Environment]::GetFolderPath('LocalApplicationData', 'DoNotVerify')) 'PSResourceGet/PSResourceRepository.xml'
    $script:UserStoreBefore = if (Test-Path -LiteralPath $UserStore) { (Get-FileHash -LiteralPath $UserStore).Hash }

    if (Test-Path -LiteralPath $Package) {
        $script:Installed = Invoke-ChildPwsh -WorkingDirectory $FakeHome -Environment $Isolated -TimeoutSeconds 180 -Command @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name $RepositoryName -Uri '$PackageFolder' -Trusted
Install-PSResource -Name PSKeepalive -Version '$Version' -Repository $RepositoryName -Scope CurrentUser -TrustRepository
(Get-InstalledPSResource -Name PSKeepalive).InstalledLocation
"@
    }
}

AfterAll {
    if ($script:Installed) {
        $script:Unregistered = Invoke-ChildPwsh -WorkingDirectory $FakeHome -Environment $Isolated -Command "Unregister-PSResourceRepository -Name $RepositoryName -ErrorAction Stop; @(Get-PSResourceRepository -Name $RepositoryName -ErrorAction SilentlyContinue).Count"
        if ($script:Unregistered.ExitCode -ne 0 -or $script:Unregistered.Output.Trim() -ne '0') { throw "Unregister-PSResourceRepository failed: $($script:Unregistered.Error)" }
    }
}

Describe 'PSKeepalive as a PowerShell package' {
    It 'is built by build.ps1 -Task Package into out/package' {
        $Package | Should -Exist
        # A PowerShell module package: the manifest at the root, the PSModule tag, the native files executable.
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($Package)
        try {
            $zip.Entries.FullName | Should -Contain 'PSKeepalive.psd1'
            $zip.Entries.FullName | Should -Contain 'en-US/PSKeepalive.dll-Help.xml'
            $reader = [IO.StreamReader]::new(($zip.Entries | Where-Object FullName -eq 'PSKeepalive.nuspec').Open())
            try { $reader.ReadToEnd() | Should -Match '<tags>[^<]*\bPSModule\b' } finally { $reader.Dispose() }
            $launcher = $zip.Entries | Where-Object FullName -eq 'pskeepalive-seccomp'
            ($launcher.ExternalAttributes -shr 16) -band 0x49 | Should -Be 0x49 -Because 'the seccomp launcher must install executable (mode 0755)'
        }
        finally { $zip.Dispose() }
    }

    It 'installs with Install-PSResource from a local repository' {
        $Installed.ExitCode | Should -Be 0 -Because $Installed.Error
        $Installed.Output.Trim() | Should -BeLike "$FakeHome/*"
    }

    It 'imports by name, runs its cmdlets and shows its help' {
        $run = Invoke-ChildPwsh -WorkingDirectory $FakeHome -Environment $Isolated -Command @'
$ErrorActionPreference = 'Stop'
Import-Module PSKeepalive
$module = Get-Module PSKeepalive
$setting = Get-TcpKeepaliveSetting
$launched = Start-KeepaliveProcess -Idle 60 -Method Seccomp -Wait -PassThru -- /bin/sh -c 'exit 7'
[pscustomobject]@{
    ModuleBase = $module.ModuleBase
    Version    = "$($module.Version)"
    Time       = $setting.Time
    Synopsis   = (Get-Help Get-TcpKeepaliveSetting).Synopsis
    About      = (Get-Help about_PSKeepalive | Out-String) -match 'SO_KEEPALIVE'
    Launched   = $launched.ExitCode
} | ConvertTo-Json
'@
        $run.ExitCode | Should -Be 0 -Because $run.Error
        $result = $run.Output | ConvertFrom-Json
        $result.ModuleBase | Should -BeLike "$FakeHome/.local/share/powershell/Modules/PSKeepalive/*"
        $result.Version | Should -Be $Version
        $result.Time | Should -Be ([int](Get-Content /proc/sys/net/ipv4/tcp_keepalive_time))
        $result.Synopsis | Should -Match 'keepalive settings'
        $result.About | Should -BeTrue
        $result.Launched | Should -Be 7 -Because 'the installed seccomp launcher runs the program and passes on its exit code'
    }

    It 'passes Test-ModuleManifest where it is installed' {
        $run = Invoke-ChildPwsh -WorkingDirectory $FakeHome -Environment $Isolated -Command '(Test-ModuleManifest -Path (Get-Module -ListAvailable PSKeepalive).Path -ErrorAction Stop).Name'
        $run.ExitCode | Should -Be 0 -Because $run.Error
        $run.Output.Trim() | Should -Be 'PSKeepalive'
    }

    It "leaves the user's own repository list alone" {
        $after = if (Test-Path -LiteralPath $UserStore) { (Get-FileHash -LiteralPath $UserStore).Hash }
        $after | Should -Be $UserStoreBefore
        Join-Path $Isolated.XDG_DATA_HOME 'PSResourceGet/PSResourceRepository.xml' | Should -FileContentMatch $RepositoryName
    }
}

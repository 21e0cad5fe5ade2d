# Every format view, rendered by pwsh as a user sees it: at 80 and at 120 columns (Out-String -Width), with the
# realistic objects of tests/ViewSamples.ps1. The types come from the cmdlets' [OutputType] and from the views in
# PSKeepalive.Format.ps1xml, so a new output type is checked as soon as it exists (and fails until it has samples).
# Every output type also goes through Format-List *, ConvertTo-Json, Export-Csv and Select-Object.
BeforeDiscovery {
    . $PSScriptRoot/common.ps1

    $outputTypes = Get-Command -Module PSKeepalive -CommandType Cmdlet |
        ForEach-Object OutputType | ForEach-Object Type | Where-Object { $_ -and $_.FullName -like 'PSKeepalive.*' } |
        ForEach-Object FullName
    $viewTypes = (Get-FormatData -TypeName 'PSKeepalive.*' -PowerShellVersion $PSVersionTable.PSVersion).TypeNames
    $script:TypeCases = @($outputTypes + $viewTypes | Sort-Object -Unique | ForEach-Object { @{ TypeName = $_ } })
}

BeforeAll {
    . $PSScriptRoot/common.ps1
    . $PSScriptRoot/ViewSamples.ps1
    # What a redirected or captured console shows: no colour sequences in the text compared below.
    $PSStyle.OutputRendering = 'PlainText'

    function Get-View([string] $TypeName, [type] $ControlType) {
        (Get-FormatData -TypeName $TypeName -PowerShellVersion $PSVersionTable.PSVersion).FormatViewDefinition |
            Where-Object { $_.Control -is $ControlType } | Select-Object -First 1
    }

    # The table view's columns: label, width (0 = takes what is left), alignment and how the cell is computed.
    function Get-TableColumn([string] $TypeName) {
        $view = Get-View $TypeName ([System.Management.Automation.TableControl])
        if (-not $view) { return }
        $control = $view.Control
        for ($i = 0; $i -lt $control.Headers.Count; $i++) {
            $header = $control.Headers[$i]
            $entry = $control.Rows[0].Columns[$i].DisplayEntry
            [pscustomobject]@{
                Label     = if ($header.Label) { $header.Label } else { $entry.Value }
                Width     = $header.Width
                Alignment = $header.Alignment
                Entry     = $entry
            }
        }
    }

    # The text the cell should show for one object, computed as the view does.
    function Get-CellText($Column, $InputObject) {
        $value = if ($Column.Entry.ValueType -eq 'ScriptBlock') {
            $InputObject | ForEach-Object ([scriptblock]::Create($Column.Entry.Value))
        }
        else { $InputObject.($Column.Entry.Value) }
        if ($null -eq $value) { '' } else { [System.Management.Automation.LanguagePrimitives]::ConvertTo($value, [string]) }
    }

    # Out-String's table as header line and row lines (one per object: tables never wrap).
    function Read-Table([object[]] $InputObject, [int] $Width) {
        $text = $InputObject | Format-Table -DisplayError | Out-String -Width $Width
        $lines = @($text -split "`r?`n" | Where-Object { $_.Trim() })
        [pscustomobject]@{ Text = $text; Lines = $lines; Header = $lines[0]; Rows = @($lines | Select-Object -Skip 2) }
    }

    # "Whole" for an ordinary column: the row shows all of the text. For an address column (right-aligned): the
    # text, or its end after an ellipsis, so that the port and the end of the address always show.
    function Test-CellShown($Column, [string] $Text, [string] $Row, [switch] $Address) {
        if ($Text -eq '') { return $true }
        if ($Address -and $Column.Width -gt 0 -and $Text.Length -gt $Column.Width) {
            return $Row.Contains('…' + $Text.Substring($Text.Length - ($Column.Width - 1)))
        }
        if ($Address -and $Column.Width -eq 0 -and -not $Row.Contains($Text)) {
            # The last column takes what is left: cut, it must still show a good part of the end.
            $shown = ($Row -split '…')[-1].TrimEnd()
            return $Row.Contains('…') -and $shown.Length -ge 16 -and $Text.EndsWith($shown)
        }
        $Row.Contains($Text)
    }

    function Test-HeaderShows([string] $Header, [string] $Label) {
        $Header -match "(^|\s)$([regex]::Escape($Label))(\s|$)"
    }

    # Each column's header shows, and each sample's cell is whole (address columns: by Test-CellShown's rule).
    function Assert-ColumnShown($Table, [object[]] $Columns, [int] $Width, [switch] $WholeOnlyWithWidth) {
        foreach ($column in $Columns) {
            Test-HeaderShows $Table.Header $column.Label | Should -BeTrue -Because "the $($column.Label) column must show at $Width columns:`n$($Table.Text)"
            if ($WholeOnlyWithWidth -and $column.Width -eq 0) { continue }
            $isAddress = $column.Label -in $entry.Addresses
            for ($i = 0; $i -lt $samples.Count; $i++) {
                $cell = Get-CellText $column $samples[$i]
                Test-CellShown $column $cell $Table.Rows[$i] -Address:$isAddress |
                    Should -BeTrue -Because "row $i should show $($column.Label) '$cell' at $Width columns:`n$($Table.Text)"
            }
        }
    }
}

Describe 'Output types' {
    # Guards the discovery above: a scan that found nothing would pass every test below by running none.
    It 'finds at least the six output types of the first release' -TestCases @{ Found = $script:TypeCases.TypeName } {
        @($Found).Count | Should -BeGreaterOrEqual 6
        $Found | Should -Contain 'PSKeepalive.Core.Connections.TcpConnection'
    }
}

Describe 'View of <TypeName>' -ForEach $script:TypeCases {
    BeforeAll {
        $entry = $ViewSamples[$TypeName]
        $samples = if ($entry) { @(& $entry.Samples) } else { @() }
        $columns = @(Get-TableColumn $TypeName)
    }

    It 'has realistic samples in tests/ViewSamples.ps1' {
        $entry | Should -Not -BeNullOrEmpty -Because "tests/ViewSamples.ps1 needs an entry for $TypeName (see CONTRIBUTING.md, 'Adding a view test')"
        $samples.Count | Should -BeGreaterOrEqual 3
        $samples | ForEach-Object { $_.GetType().FullName | Should -Be $TypeName }
    }

    It 'has a table view whose Essential and Addresses columns exist' {
        $columns | Should -Not -BeNullOrEmpty -Because "PSKeepalive.Format.ps1xml should hold a table view for $TypeName"
        foreach ($label in @($entry.Essential) + @($entry.Addresses)) {
            $columns.Label | Should -Contain $label
        }
        foreach ($label in $entry.Addresses) {
            ($columns | Where-Object Label -eq $label).Alignment | Should -Be 'Right' -Because "a cut address ($label) must keep its port: only right-aligned cells lose their start"
        }
    }

    It 'names only properties the type has (a renamed property would leave an empty column)' {
        $names = $samples[0].PSObject.Properties.Name
        $views = (Get-FormatData -TypeName $TypeName -PowerShellVersion $PSVersionTable.PSVersion).FormatViewDefinition
        $entries = @($views.Control | ForEach-Object {
                if ($_ -is [System.Management.Automation.TableControl]) { $_.Rows.Columns.DisplayEntry }
                elseif ($_ -is [System.Management.Automation.ListControl]) { $_.Entries.Items.DisplayEntry }
            })
        $entries | Should -Not -BeNullOrEmpty
        foreach ($display in $entries) {
            $used = if ($display.ValueType -eq 'Property') { $display.Value } else { [regex]::Matches($display.Value, '\$_\.(\w+)') | ForEach-Object { $_.Groups[1].Value } }
            foreach ($name in $used) { $names | Should -Contain $name -Because "a view of $TypeName uses $name" }
        }
    }

    It 'shows the columns it is for, whole, at 80 columns' {
        $table = Read-Table $samples 80
        $table.Text | Should -Not -Match '#ERR'
        $table.Lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 }
        $table.Rows.Count | Should -Be $samples.Count
        Assert-ColumnShown $table @($columns | Where-Object { $_.Label -in @($entry.Essential) + @($entry.Addresses) }) 80
    }

    It 'shows every column at 120 columns, each with a width whole' {
        $table = Read-Table $samples 120
        $table.Text | Should -Not -Match '#ERR'
        $table.Lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 120 }
        # The last column takes what is left: it must show, not be whole.
        Assert-ColumnShown $table $columns 120 -WholeOnlyWithWidth
    }

    It 'renders Format-List (its list view where it has one) without errors' {
        $text = $samples | Format-List -DisplayError | Out-String -Width 80
        $text | Should -Not -Match '#ERR'
        $list = Get-View $TypeName ([System.Management.Automation.ListControl])
        if ($list) {
            foreach ($item in $list.Control.Entries[0].Items) {
                $label = if ($item.Label) { $item.Label } else { $item.DisplayEntry.Value }
                $text | Should -Match "(?m)^$([regex]::Escape($label))\s*:"
            }
        }
    }

    It 'names every property in its list view, where it has one (the details a table has no room for)' {
        $list = Get-View $TypeName ([System.Management.Automation.ListControl])
        if (-not $list) { return } # without a list view, Format-List shows every property itself
        $shown = ($list.Control.Entries[0].Items | ForEach-Object { $_.DisplayEntry.Value }) -join ' '
        foreach ($name in $samples[0].PSObject.Properties.Name) {
            $shown | Should -Match "\b$([regex]::Escape($name))\b" -Because "the list view of $TypeName should show $name"
        }
    }

    It 'shows every property with Format-List *' {
        $text = $samples | Format-List -Property * | Out-String -Width 120
        foreach ($name in $samples[0].PSObject.Properties.Name) {
            $text | Should -Match "(?m)^$([regex]::Escape($name))\s*:"
        }
    }

    It 'keeps every value through ConvertTo-Json' {
        $back = @($samples | ConvertTo-Json -Depth 5 -WarningAction Stop | ConvertFrom-Json)
        $back.Count | Should -Be $samples.Count
        for ($i = 0; $i -lt $samples.Count; $i++) {
            foreach ($property in $samples[$i].PSObject.Properties) {
                $back[$i].PSObject.Properties.Name | Should -Contain $property.Name
                $value = $property.Value
                $json = $back[$i].($property.Name)
                if ($null -eq $value) { $json | Should -BeNullOrEmpty; continue }
                switch ($value) {
                    { $_ -is [enum] } { $json | Should -Be ([long] $value); break }
                    { $_ -is [timespan] } { $json.Ticks | Should -Be $value.Ticks; break }
                    { $_ -is [string] -or $_ -is [bool] -or $_ -is [ValueType] } { "$json" | Should -Be "$value"; break }
                }
            }
        }
    }

    It 'writes one CSV row per object with every property (Export-Csv)' {
        $file = Join-Path $TestDrive "$TypeName.csv"
        $samples | Export-Csv -LiteralPath $file
        $rows = @(Import-Csv -LiteralPath $file)
        $rows.Count | Should -Be $samples.Count
        $rows[0].PSObject.Properties.Name | Should -Be @($samples[0].PSObject.Properties.Name)
        for ($i = 0; $i -lt $samples.Count; $i++) {
            foreach ($property in $samples[$i].PSObject.Properties | Where-Object { $_.Value -is [string] -or $_.Value -is [ValueType] }) {
                $rows[$i].($property.Name) | Should -Be ([System.Management.Automation.LanguagePrimitives]::ConvertTo($property.Value, [string]))
            }
        }
    }

    It 'is the table the help''s example output shows (same columns, same order)' {
        if (-not $columns) { return }
        $labels = @($columns.Label)
        $allViews = @{}
        foreach ($type in (Get-FormatData -TypeName 'PSKeepalive.*' -PowerShellVersion $PSVersionTable.PSVersion).TypeNames) {
            $allViews[$type] = @((Get-TableColumn $type).Label)
        }
        foreach ($page in Get-ChildItem (Join-Path $PSScriptRoot '../docs/en-US') -Filter *.md) {
            $lines = @(Get-Content -LiteralPath $page.FullName)
            for ($i = 0; $i -lt $lines.Count - 1; $i++) {
                # A table header: a line of words over a line of dashes, one group per word.
                $words = @($lines[$i] -split '\s+' | Where-Object { $_ })
                $dashes = @($lines[$i + 1] -split '\s+' | Where-Object { $_ })
                if ($words.Count -lt 3 -or $dashes.Count -ne $words.Count -or ($dashes -notmatch '^-+$')) { continue }
                # The view sharing most labels with it, three or more (a Format-Table of chosen properties shares few).
                $overlap = { param($l) @($words | Where-Object { $_ -in $l }).Count }
                $best = $allViews.GetEnumerator() | Sort-Object { & $overlap $_.Value } -Descending | Select-Object -First 1
                if ($best.Key -ne $TypeName -or (& $overlap $labels) -lt 3) { continue }
                $words | Should -Be $labels[0..($words.Count - 1)] -Because "$($page.Name) line $($i + 1) shows the $TypeName table"
            }
        }
    }

    It 'selects properties with Select-Object' {
        $names = @($samples[0].PSObject.Properties.Name | Select-Object -First 3)
        $selected = @($samples | Select-Object -Property $names)
        $selected.Count | Should -Be $samples.Count
        for ($i = 0; $i -lt $samples.Count; $i++) {
            $selected[$i].PSObject.Properties.Name | Should -Be $names
            foreach ($name in $names) { "$($selected[$i].$name)" | Should -Be "$($samples[$i].$name)" }
        }
        @($samples | Select-Object -First 1)[0] | Should -Be $samples[0]
    }
}

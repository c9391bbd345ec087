<#
.SYNOPSIS
    One MCPeeker agent scan, shipped to the collector (`mcpeeker collect`). For Intune (platform script or
    remediation, run as SYSTEM) or any Windows scheduler.

.DESCRIPTION
    Runs the self-contained agent zipapp (mcpeeker-agent-windows-amd64.pyz from `make agent-zipapp`) with a
    Python >= 3.11 already on the machine: no venv, nothing installed. Scans every user profile and ships the
    report with this agent's enrollment token; reports the collector did not acknowledge stay in the outbox
    and go with the next run. The exit code is the agent's (0 = scanned and shipped or queued).

    Deploy with it (e.g. a Win32 app): the .pyz, the token and the site key under C:\ProgramData\MCPeeker,
    readable by SYSTEM and Administrators only.

.EXAMPLE
    powershell.exe -NoProfile -ExecutionPolicy Bypass -File Invoke-MCPeekerAgent.ps1 -CollectorUrl https://collector.corp.example:8443
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string]$CollectorUrl,
    [string]$TokenFile = (Join-Path $env:ProgramData 'MCPeeker\token'),
    [string]$SiteKeyFile = (Join-Path $env:ProgramData 'MCPeeker\site.key'),
    [string]$CaCerts = '',
    [string]$AgentPyz = (Join-Path $env:ProgramData 'MCPeeker\mcpeeker-agent.pyz'),
    [string]$Python = '',
    [string]$StateDir = (Join-Path $env:ProgramData 'MCPeeker\state'),
    [string[]]$ExtraArguments = @()
)
$ErrorActionPreference = 'Stop'

function Fail([string]$Message) {
    [Console]::Error.WriteLine("Invoke-MCPeekerAgent: $Message")
    exit 2
}

function Test-Python([string]$Candidate, [string[]]$Prefix) {
    # True when the candidate runs and is Python >= 3.11.
    try {
        & $Candidate @Prefix -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>$null | Out-Null
        return ($LASTEXITCODE -eq 0)
    } catch {
        return $false
    }
}

function Find-Python {
    # Returns the interpreter and its arguments as one array (the comma keeps PowerShell from unrolling it).
    if ($Python) {
        if (Test-Python $Python @()) { return ,@($Python) }
        Fail "$Python is not a Python >= 3.11"
    }
    # The py launcher knows every python.org install (machine-wide ones first under SYSTEM).
    $py = Get-Command py.exe -ErrorAction SilentlyContinue
    if ($py) {
        foreach ($version in '-3.13', '-3.12', '-3.11') {
            if (Test-Python $py.Source @($version)) { return ,@($py.Source, $version) }
        }
    }
    $candidates = @(Get-ChildItem -Path (Join-Path $env:ProgramFiles 'Python3*\python.exe') -ErrorAction SilentlyContinue |
        Sort-Object FullName -Descending | ForEach-Object { $_.FullName })
    $onPath = Get-Command python.exe -ErrorAction SilentlyContinue
    if ($onPath) { $candidates += $onPath.Source }
    foreach ($candidate in $candidates) {
        if (Test-Python $candidate @()) { return ,@($candidate) }
    }
    Fail 'no Python >= 3.11 found (install one machine-wide, or pass -Python)'
}

if (-not (Test-Path -LiteralPath $TokenFile -PathType Leaf)) { Fail "${TokenFile}: enrollment token file missing (-TokenFile)" }
if (-not (Test-Path -LiteralPath $SiteKeyFile -PathType Leaf)) { Fail "${SiteKeyFile}: site key file missing (-SiteKeyFile)" }
if (-not (Test-Path -LiteralPath $AgentPyz -PathType Leaf)) { Fail "${AgentPyz}: agent zipapp missing (-AgentPyz)" }

$interpreter = Find-Python
New-Item -ItemType Directory -Force -Path $StateDir | Out-Null
# shiv unpacks the zipapp once, under ProgramData rather than the SYSTEM profile.
$env:SHIV_ROOT = Join-Path $StateDir 'shiv'

$arguments = @('scan', '--all-users', '--ship', $CollectorUrl, '--token-file', $TokenFile,
    '--site-key-file', $SiteKeyFile, '--spool-dir', (Join-Path $StateDir 'outbox'),
    '--state', (Join-Path $StateDir 'state.json'))
if ($CaCerts) { $arguments += @('--ca-certs', $CaCerts) }
$arguments += $ExtraArguments

$exe = $interpreter[0]
$prefix = @($interpreter | Select-Object -Skip 1)
& $exe @prefix $AgentPyz @arguments
exit $LASTEXITCODE

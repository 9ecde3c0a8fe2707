<#
.SYNOPSIS
  Register pretix-race as a native-messaging host for Chrome, Chromium, Brave and Edge on Windows.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File install-scripts\install.ps1
  powershell -ExecutionPolicy Bypass -File install-scripts\install.ps1 -Browser edge -Binary C:\tools\pretix-race.exe
  powershell -ExecutionPolicy Bypass -File install-scripts\install.ps1 -Uninstall

.DESCRIPTION
  Writes %LOCALAPPDATA%\pretix-race\com.pretix_race.host.json (absolute path of
  pretix-race.exe, allowed origin = the pretix-race extension) and points
  HKCU\Software\<browser>\NativeMessagingHosts\com.pretix_race.host at it.
  With -ProfileDir DIR the manifest goes to DIR\NativeMessagingHosts\ instead
  (for a custom --user-data-dir). Running it again rewrites the same entries.
#>
param(
  [string]$Binary = "",
  [ValidateSet("chrome", "chromium", "brave", "edge", "all")]
  [string]$Browser = "all",
  [string]$ProfileDir = "",
  [switch]$Uninstall
)
$ErrorActionPreference = "Stop"

$Name = "com.pretix_race.host"
$ExtensionId = "ppeipcnflcdoiigdmpobdoeimfgompla"
$Repo = Split-Path -Parent $PSScriptRoot

$RegistryRoots = @{
  chrome   = "HKCU:\Software\Google\Chrome\NativeMessagingHosts"
  chromium = "HKCU:\Software\Chromium\NativeMessagingHosts"
  brave    = "HKCU:\Software\BraveSoftware\Brave-Browser\NativeMessagingHosts"
  edge     = "HKCU:\Software\Microsoft\Edge\NativeMessagingHosts"
}
$Browsers = if ($Browser -eq "all") { @("chrome", "chromium", "brave", "edge") } else { @($Browser) }

if ($ProfileDir) {
  $ManifestDir = Join-Path $ProfileDir "NativeMessagingHosts"
} else {
  $ManifestDir = Join-Path $env:LOCALAPPDATA "pretix-race"
}
$ManifestPath = Join-Path $ManifestDir "$Name.json"

if ($Uninstall) {
  if (-not $ProfileDir) {
    foreach ($b in $Browsers) {
      $key = Join-Path $RegistryRoots[$b] $Name
      if (Test-Path $key) { Remove-Item -Path $key -Force; Write-Host "removed $key" }
    }
  }
  if (Test-Path $ManifestPath) { Remove-Item $ManifestPath -Force; Write-Host "removed $ManifestPath" }
  Write-Host "pretix-race native host unregistered."
  exit 0
}

if (-not $Binary) {
  foreach ($c in @((Join-Path $Repo "target\release\pretix-race.exe"), (Join-Path $Repo "target\debug\pretix-race.exe"))) {
    if (Test-Path $c) { $Binary = $c; break }
  }
  if (-not $Binary) {
    $onPath = Get-Command pretix-race.exe -ErrorAction SilentlyContinue
    if ($onPath) { $Binary = $onPath.Source }
  }
}
if (-not $Binary -or -not (Test-Path $Binary -PathType Leaf)) {
  Write-Error "pretix-race.exe was not found. Build it first: cargo build --release -p pretix-race (or pass -Binary PATH)."
  exit 1
}
$Binary = (Resolve-Path $Binary).Path

New-Item -ItemType Directory -Force -Path $ManifestDir | Out-Null
$Manifest = [ordered]@{
  name            = $Name
  description     = "pretix-race: races pretix resale marketplaces and hands the cart to Chrome"
  path            = $Binary
  type            = "stdio"
  allowed_origins = @("chrome-extension://$ExtensionId/")
}
$Manifest | ConvertTo-Json | Set-Content -Path $ManifestPath -Encoding UTF8
Write-Host "wrote $ManifestPath -> $Binary"

if (-not $ProfileDir) {
  foreach ($b in $Browsers) {
    $key = Join-Path $RegistryRoots[$b] $Name
    New-Item -Path $key -Force | Out-Null
    Set-ItemProperty -Path $key -Name "(default)" -Value $ManifestPath
    Write-Host "registered $key"
  }
}

Write-Host ""
Write-Host "Next, load the extension (once):"
Write-Host "  1. Build it (in a shell with bash): scripts/build-extension.sh"
Write-Host "  2. Open chrome://extensions, switch on Developer mode."
Write-Host "  3. Load unpacked: $Repo\extension\dist   (its ID must read $ExtensionId)"

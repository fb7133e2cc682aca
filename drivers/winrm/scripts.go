package winrm

import (
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// The scripts the driver sends. Each is a fixed template: the only values
// that vary are the service name, always as a single-quoted literal made by
// quotePS, and for restore two constants from a closed set. The package
// winrmtest recognises exactly these shapes; change both together.
//
// Every script resolves the name through Win32_Service, matching the
// service (key) name or the display name, because the OutSystems services are
// known by their display names. The WQL filter is built inside PowerShell
// from the literal, escaping \ and ' for WQL, so the name is never
// interpolated into code. Mutating scripts then re-read the service and print
// its state, which the driver checks.

// Markers the scripts print on stdout, and the exit codes that go with them.
const (
	markerState     = "BALANCED-STATE "
	markerNotFound  = "BALANCED-NOT-FOUND"
	markerAmbiguous = "BALANCED-AMBIGUOUS"
	exitNotFound    = 3
	exitAmbiguous   = 4
)

// The lines below are Windows PowerShell 4.0 compatible (Windows Server
// 2012 R2): no [Type]::new() (PowerShell 5.0), New-Object instead. The
// startup type is set with sc.exe ("sc.exe config", Microsoft docs:
// start= auto | demand | disabled | delayed-auto): Set-Service cannot set
// delayed start before PowerShell 6, and on 5.1 Set-Service -StartupType
// Automatic leaves the delayed-start flag in place, so restoring Automatic
// over a delayed service would restore AutomaticDelayedStart. The
// delayed-start flag is read from the service's registry value
// DelayedAutostart, the value sc.exe writes.
//
// preludeLines resolve the service; %NAME% is replaced by the quoted name.
// reportLines re-read the service and print its state as one JSON line.
// stopLines disable the service first, so that nothing can start it again,
// then stop it; Stop-Service returns once the service is stopped.
// restoreLines set the startup type (%STARTUP%, an sc.exe start= word),
// then start or stop the service (%RUN%).
var (
	preludeLines = []string{
		`$ErrorActionPreference = 'Stop'`,
		`$WarningPreference = 'SilentlyContinue'`,
		`$n = %NAME%`,
		`$q = $n.Replace('\', '\\').Replace('''', '\''')`,
		`$f = 'Name=''' + $q + ''' OR DisplayName=''' + $q + ''''`,
		`$s = @(Get-CimInstance -ClassName Win32_Service -Filter $f)`,
		`if ($s.Count -eq 0) { [Console]::Out.WriteLine('BALANCED-NOT-FOUND'); exit 3 }`,
		`if ($s.Count -gt 1) { [Console]::Out.WriteLine('BALANCED-AMBIGUOUS'); exit 4 }`,
		`$k = $s[0].Name`,
		`Add-Type -AssemblyName System.ServiceProcess`,
		`$c = New-Object -TypeName System.ServiceProcess.ServiceController -ArgumentList $k`,
	}
	reportLines = []string{
		`$s = @(Get-CimInstance -ClassName Win32_Service -Filter $f)`,
		`$d = (Get-ItemProperty -LiteralPath ('HKLM:\SYSTEM\CurrentControlSet\Services\' + $k) -ErrorAction SilentlyContinue).DelayedAutostart -eq 1`,
		`[Console]::Out.WriteLine('BALANCED-STATE ' + ($s[0] | Select-Object Name,DisplayName,State,StartMode,@{n='DelayedAutoStart';e={$d}} | ConvertTo-Json -Compress))`,
	}
	stopLines = []string{
		`Set-Service -InputObject $c -StartupType Disabled`,
		`Stop-Service -InputObject $c -Force`,
	}
	restoreLines = []string{
		`$t = '%STARTUP%'`,
		`$r = '%RUN%'`,
		`if ($k.Contains('"')) { throw ('service name ' + $k + ' holds a double quote, which cannot be passed to sc.exe safely') }`,
		`$o = & sc.exe config $k start= $t`,
		`if ($LASTEXITCODE -ne 0) { throw ('sc.exe config failed: ' + ($o -join ' ')) }`,
		`if ($r -eq 'Running') { Start-Service -InputObject $c } else { Stop-Service -InputObject $c -Force }`,
	}
)

// scStartWord is the sc.exe start= word for a validated startup type.
func scStartWord(t drivers.StartupType) string {
	switch t {
	case drivers.AutomaticDelayedStart:
		return "delayed-auto"
	case drivers.Manual:
		return "demand"
	case drivers.Disabled:
		return "disabled"
	default:
		return "auto"
	}
}

func build(name string, parts ...[]string) string {
	var lines []string
	for _, l := range preludeLines {
		lines = append(lines, strings.Replace(l, "%NAME%", quotePS(name), 1))
	}
	for _, p := range parts {
		lines = append(lines, p...)
	}
	lines = append(lines, reportLines...)
	return strings.Join(lines, "\n")
}

// stateScript reads the service's state.
func stateScript(name string) string { return build(name) }

// stopScript disables and stops the service, then reads its state.
func stopScript(name string) string { return build(name, stopLines) }

// restoreScript sets the startup type and run state, then reads the state.
// startup and run must have been validated (validateWant).
func restoreScript(name string, want drivers.ServiceState) string {
	r := strings.NewReplacer("%STARTUP%", scStartWord(want.Startup), "%RUN%", runWord(want.Run))
	lines := make([]string, len(restoreLines))
	for i, l := range restoreLines {
		lines[i] = r.Replace(l)
	}
	return build(name, lines)
}

// runWord is the word restoreLines compare $r with.
func runWord(r drivers.RunState) string {
	if r == drivers.Running {
		return "Running"
	}
	return "Stopped"
}

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

// preludeLines resolve the service; %NAME% is replaced by the quoted name.
var preludeLines = []string{
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
	`$c = [System.ServiceProcess.ServiceController]::new($k)`,
}

// reportLines re-read the service and print its state as one JSON line.
var reportLines = []string{
	`$s = @(Get-CimInstance -ClassName Win32_Service -Filter $f)`,
	`[Console]::Out.WriteLine('BALANCED-STATE ' + ($s[0] | Select-Object Name,DisplayName,State,StartMode,DelayedAutoStart | ConvertTo-Json -Compress))`,
}

// stopLines disable the service first, so that nothing can start it again,
// then stop it; Stop-Service returns once the service is stopped.
var stopLines = []string{
	`Set-Service -InputObject $c -StartupType Disabled`,
	`Stop-Service -InputObject $c -Force`,
}

// restoreLines set the startup type (%STARTUP%), then start or stop the
// service (%RUN%). Windows PowerShell 5.1 cannot set AutomaticDelayedStart
// with Set-Service, so sc.exe does it.
var restoreLines = []string{
	`$t = '%STARTUP%'`,
	`$r = '%RUN%'`,
	`if ($t -eq 'AutomaticDelayedStart') { Set-Service -InputObject $c -StartupType Automatic; $o = & sc.exe config $k start= delayed-auto; if ($LASTEXITCODE -ne 0) { throw ('sc.exe config failed: ' + ($o -join ' ')) } } else { Set-Service -InputObject $c -StartupType $t }`,
	`if ($r -eq 'Running') { Start-Service -InputObject $c } else { Stop-Service -InputObject $c -Force }`,
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
	r := strings.NewReplacer("%STARTUP%", string(want.Startup), "%RUN%", runWord(want.Run))
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

package winrmtest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/balanced-deploy/balanced/drivers"
)

// The script shapes of package winrm, copied on purpose: the fake must
// recognise exactly what the driver sends and refuse anything else, so a
// change on either side shows up as a failing test.
//
// They are Windows PowerShell 4.0 compatible (Windows Server 2012 R2): no
// [Type]::new() (added in PowerShell 5.0, "about_Classes"), New-Object
// instead. The startup type is set with sc.exe ("sc.exe config", Microsoft
// docs: start= auto | demand | disabled | delayed-auto), because
// Set-Service -StartupType cannot set delayed start before PowerShell 6 and,
// on 5.1, setting Automatic leaves a delayed-start flag in place; sc.exe
// start= auto clears it. The delayed-start flag is read from the service's
// registry value DelayedAutostart (the value sc.exe sets), which every
// Windows version with delayed start has.
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

// scStartWords maps sc.exe's start= words to the startup types they set.
var scStartWords = map[string]drivers.StartupType{
	"auto":         drivers.Automatic,
	"delayed-auto": drivers.AutomaticDelayedStart,
	"demand":       drivers.Manual,
	"disabled":     drivers.Disabled,
}

// progressPrefix is what the masterzen client prepends to every script.
const progressPrefix = "$ProgressPreference = 'SilentlyContinue';"

// Op names a recognised script shape.
type Op string

// The script shapes the fake recognises.
const (
	OpState   Op = "state"
	OpStop    Op = "stop"
	OpRestore Op = "restore"
)

// parsed is a recognised script.
type parsed struct {
	op    Op
	name  string
	want  drivers.ServiceState
	lease leaseArgs
}

// decodeCommand turns `powershell.exe -EncodedCommand <base64 UTF-16LE>`
// into the script it carries, without the progress prefix masterzen/winrm
// adds. PowerShell reads its parameter names case-insensitively and without
// the .exe, so pywinrm's `powershell -encodedcommand <...>` is accepted too.
func decodeCommand(command string) (string, error) {
	fields := strings.Fields(command)
	if len(fields) != 3 || strings.TrimSuffix(strings.ToLower(fields[0]), ".exe") != "powershell" ||
		!strings.EqualFold(fields[1], "-EncodedCommand") {
		return "", fmt.Errorf("command %.60q is not powershell.exe -EncodedCommand <script>", command)
	}
	raw, err := base64.StdEncoding.DecodeString(fields[2])
	if err != nil {
		return "", fmt.Errorf("-EncodedCommand is not base64: %w", err)
	}
	if len(raw)%2 != 0 {
		return "", errors.New("-EncodedCommand is not UTF-16LE (odd length)")
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	script := string(utf16.Decode(u))
	return strings.TrimPrefix(script, progressPrefix), nil
}

// isPSQuote reports whether PowerShell reads r as a single quote.
func isPSQuote(r rune) bool {
	switch r {
	case '\'', '\u2018', '\u2019', '\u201A', '\u201B':
		return true
	}
	return false
}

// unquotePS parses s, which must be exactly one PowerShell single-quoted
// literal and nothing else, the way PowerShell's tokenizer does: any
// single-quote character ends the literal unless another single-quote
// character follows, in which case the pair stands for the second one.
func unquotePS(s string) (string, error) {
	rs := []rune(s)
	if len(rs) < 2 || !isPSQuote(rs[0]) {
		return "", fmt.Errorf("%.60q is not a single-quoted literal", s)
	}
	var b strings.Builder
	for i := 1; i < len(rs); i++ {
		if !isPSQuote(rs[i]) {
			b.WriteRune(rs[i])
			continue
		}
		if i+1 < len(rs) && isPSQuote(rs[i+1]) {
			b.WriteRune(rs[i+1])
			i++
			continue
		}
		if i != len(rs)-1 {
			return "", fmt.Errorf("literal %.60q ends before the end of the line: %q follows", s, string(rs[i+1:]))
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("literal %.60q is not terminated", s)
}

// parseScript recognises one of the driver's script shapes, or fails.
func parseScript(script string) (parsed, error) {
	lines := strings.Split(script, "\n")
	if len(lines) > 1 && strings.HasPrefix(lines[1], "function Get-Inner") {
		return parseLeaseScript(lines)
	}
	var p parsed
	if len(lines) < len(preludeLines)+len(reportLines) {
		return p, fmt.Errorf("script has %d lines; no known shape is that short", len(lines))
	}
	for i, want := range preludeLines {
		if lit, ok := strings.CutPrefix(want, "$n = %NAME%"); ok && lit == "" {
			q, ok := strings.CutPrefix(lines[i], "$n = ")
			if !ok {
				return p, fmt.Errorf("line %d is %.60q; want $n = '<name>'", i+1, lines[i])
			}
			name, err := unquotePS(q)
			if err != nil {
				return p, fmt.Errorf("line %d: %w", i+1, err)
			}
			p.name = name
			continue
		}
		if lines[i] != want {
			return p, fmt.Errorf("line %d is %.80q; want %.80q", i+1, lines[i], want)
		}
	}
	body := lines[len(preludeLines) : len(lines)-len(reportLines)]
	for i, want := range reportLines {
		got := lines[len(lines)-len(reportLines)+i]
		if got != want {
			return p, fmt.Errorf("report line is %.80q; want %.80q", got, want)
		}
	}
	switch {
	case len(body) == 0:
		p.op = OpState
	case equalLines(body, stopLines):
		p.op = OpStop
	case len(body) == len(restoreLines):
		p.op = OpRestore
		startup, okS := strings.CutPrefix(body[0], "$t = '")
		run, okR := strings.CutPrefix(body[1], "$r = '")
		startup, okS2 := strings.CutSuffix(startup, "'")
		run, okR2 := strings.CutSuffix(run, "'")
		if !okS || !okR || !okS2 || !okR2 || !equalLines(body[2:], restoreLines[2:]) {
			return p, errors.New("script body matches no known shape")
		}
		st, ok := scStartWords[startup]
		if !ok {
			return p, fmt.Errorf("restore start= word %q is not auto, delayed-auto, demand or disabled", startup)
		}
		p.want.Startup = st
		switch run {
		case "Running":
			p.want.Run = drivers.Running
		case "Stopped":
			p.want.Run = drivers.Stopped
		default:
			return p, fmt.Errorf("restore run state %q is not Running or Stopped", run)
		}
	default:
		return p, errors.New("script body matches no known shape")
	}
	return p, nil
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// result is what a fake command prints and returns.
type result struct {
	stdout, stderr string
	code           int
}

// execute runs a recognised script against svcs on host.
func execute(svcs Services, host string, p parsed) result {
	found, err := svcs.Find(host, p.name)
	if err != nil {
		return psError(err)
	}
	switch len(found) {
	case 0:
		return result{stdout: "BALANCED-NOT-FOUND\r\n", code: 3}
	case 1:
	default:
		return result{stdout: "BALANCED-AMBIGUOUS\r\n", code: 4}
	}
	key := found[0].Name
	switch p.op {
	case OpStop:
		err = svcs.Stop(host, key)
	case OpRestore:
		err = svcs.Restore(host, key, p.want)
	}
	if err != nil {
		return psError(err)
	}
	found, err = svcs.Find(host, p.name)
	if err != nil {
		return psError(err)
	}
	if len(found) == 0 {
		return psError(errors.New("Cannot index into a null array.")) //nolint:staticcheck // PowerShell's own message
	}
	return result{stdout: "BALANCED-STATE " + serviceJSON(found[0]) + "\r\n"}
}

// serviceJSON renders s the way Select-Object ... | ConvertTo-Json -Compress
// renders a Win32_Service.
func serviceJSON(s Service) string {
	state := map[drivers.RunState]string{
		drivers.Running: "Running", drivers.Stopped: "Stopped",
		drivers.StartPending: "Start Pending", drivers.StopPending: "Stop Pending",
	}[s.Run]
	if state == "" {
		state = "Unknown"
	}
	mode := map[drivers.StartupType]string{
		drivers.Automatic: "Auto", drivers.AutomaticDelayedStart: "Auto",
		drivers.Manual: "Manual", drivers.Disabled: "Disabled",
	}[s.Startup]
	if mode == "" {
		mode = string(s.Startup)
	}
	doc, _ := json.Marshal(struct {
		Name             string
		DisplayName      string
		State            string
		StartMode        string
		DelayedAutoStart bool
	}{s.Name, s.DisplayName, state, mode, s.Startup == drivers.AutomaticDelayedStart})
	return string(doc)
}

// psError renders err as PowerShell does for an uncaught terminating error
// with -EncodedCommand: a CLIXML error record on stderr and exit code 1.
func psError(err error) result {
	msg := err.Error()
	if errors.Is(err, ErrAccessDenied) {
		msg = "Service 'X' cannot be configured due to the following error: Access is denied"
	}
	return result{stderr: CLIXMLError(msg), code: 1}
}

// CLIXMLError renders msg as the "#< CLIXML" error stream powershell.exe
// writes to stderr when run non-interactively.
func CLIXMLError(msg string) string {
	var b strings.Builder
	b.WriteString("#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">")
	for _, line := range strings.Split(msg, "\n") {
		b.WriteString(`<S S="Error">`)
		b.WriteString(clixmlEscape(line))
		b.WriteString(`_x000D__x000A_</S>`)
	}
	b.WriteString("</Objs>")
	return b.String()
}

func clixmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '_':
			b.WriteString("_x005F_")
		case r < 0x20:
			fmt.Fprintf(&b, "_x%04X_", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

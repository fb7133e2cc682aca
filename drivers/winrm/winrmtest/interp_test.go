package winrmtest

import (
	"encoding/base64"
	"strings"
	"testing"

	mzwinrm "github.com/masterzen/winrm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
)

func TestUnquotePS(t *testing.T) {
	ok := map[string]string{
		`''`:            "",
		`'abc'`:         "abc",
		`'it''s'`:       "it's",
		"'a’’b'":        "a’b",
		"'a'’b'":        "a’b", // any two quote characters make one, the second
		`'$(x) ; "'`:    `$(x) ; "`,
		"‘typographic’": "typographic",
	}
	for in, want := range ok {
		got, err := unquotePS(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{``, `'`, `abc`, `'abc`, `'a'; Stop-Computer; 'b'`, `'a' + 'b'`, `'a'b'`, `"a"`} {
		_, err := unquotePS(bad)
		assert.Error(t, err, bad)
	}
}

// script builds a driver-shaped script by hand, for tests of the parser.
func script(nameLiteral string, body ...string) string {
	var lines []string
	for _, l := range preludeLines {
		lines = append(lines, strings.Replace(l, "%NAME%", nameLiteral, 1))
	}
	lines = append(lines, body...)
	return strings.Join(append(lines, reportLines...), "\n")
}

func TestParseScript(t *testing.T) {
	p, err := parseScript(script(`'OutSystems Scheduler Service'`))
	require.NoError(t, err)
	assert.Equal(t, parsed{op: OpState, name: "OutSystems Scheduler Service"}, p)

	p, err = parseScript(script(`'x''y'`, stopLines...))
	require.NoError(t, err)
	assert.Equal(t, parsed{op: OpStop, name: "x'y"}, p)

	restore := func(startup, run string) []string {
		r := strings.NewReplacer("%STARTUP%", startup, "%RUN%", run)
		var out []string
		for _, l := range restoreLines {
			out = append(out, r.Replace(l))
		}
		return out
	}
	// sc.exe start= words ("sc.exe config", Microsoft docs).
	for word, want := range map[string]drivers.StartupType{
		"delayed-auto": drivers.AutomaticDelayedStart, "auto": drivers.Automatic, "demand": drivers.Manual, "disabled": drivers.Disabled,
	} {
		p, err = parseScript(script(`'s'`, restore(word, "Running")...))
		require.NoError(t, err)
		assert.Equal(t, parsed{op: OpRestore, name: "s", want: drivers.ServiceState{Run: drivers.Running, Startup: want}}, p)
	}

	bad := map[string]string{
		"injected after literal":   script(`'x'; Stop-Computer; ''`),
		"unterminated literal":     script(`'x`),
		"double-quoted name":       script(`"x"`),
		"extra line":               script(`'x'`, append(append([]string{}, stopLines...), "Stop-Computer")...),
		"changed line":             strings.Replace(script(`'x'`, stopLines...), "-StartupType Disabled", "-StartupType Automatic", 1),
		"unknown startup":          script(`'x'`, restore("Boot", "Running")...),
		"startup type not sc word": script(`'x'`, restore("Automatic", "Running")...),
		"PowerShell 5 ::new()":     strings.Replace(script(`'x'`), "New-Object -TypeName System.ServiceProcess.ServiceController -ArgumentList $k", "[System.ServiceProcess.ServiceController]::new($k)", 1),
		"unknown run":              script(`'x'`, restore("Manual", "Paused")...),
		"injected startup":         script(`'x'`, restore("Manual'; Stop-Computer; '", "Running")...),
		"empty":                    "",
		"missing report":           strings.Join(strings.Split(script(`'x'`), "\n")[:len(preludeLines)], "\n"),
		"windows line endings":     strings.ReplaceAll(script(`'x'`), "\n", "\r\n"),
		"trailing command":         script(`'x'`) + "\nStop-Computer",
		"restore body misordered":  script(`'x'`, stopLines[1], stopLines[0]),
	}
	for name, sc := range bad {
		_, err := parseScript(sc)
		assert.Error(t, err, name)
	}
}

func TestDecodeCommand(t *testing.T) {
	sc := "Write-Output 'é ✓ 𝄞'"
	got, err := decodeCommand(mzwinrm.Powershell(sc))
	require.NoError(t, err)
	assert.Equal(t, sc, got)
	// pywinrm's run_ps sends `powershell -encodedcommand <base64>`, without
	// the progress prefix; PowerShell reads parameter names case-insensitively.
	enc := base64.StdEncoding.EncodeToString(utf16le(sc))
	got, err = decodeCommand("powershell -encodedcommand " + enc)
	require.NoError(t, err)
	assert.Equal(t, sc, got)
	for _, bad := range []string{"cmd.exe /c dir", "powershell -encodedcommand " + enc + " -NoExit", "pwsh -encodedcommand " + enc, "powershell.exe -EncodedCommand !!!", "powershell.exe -EncodedCommand QQ==", "powershell.exe -Command Stop-Computer"} {
		_, err := decodeCommand(bad)
		assert.Error(t, err, bad)
	}
}

func TestServiceJSONShape(t *testing.T) {
	assert.Equal(t, `{"Name":"a","DisplayName":"A","State":"Stop Pending","StartMode":"Auto","DelayedAutoStart":true}`,
		serviceJSON(Service{Name: "a", DisplayName: "A", Run: drivers.StopPending, Startup: drivers.AutomaticDelayedStart}))
}

package winrm

import (
	"strings"
	"testing"
	"unicode/utf8"

	mzwinrm "github.com/masterzen/winrm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
)

// psSingleQuoted scans a PowerShell single-quoted string at the start of src
// the way PowerShell's tokenizer does, and returns its value and the rest of
// src after the closing quote. It is written independently of quotePS.
func psSingleQuoted(src string) (value, rest string, ok bool) {
	quote := func(r rune) bool { return strings.ContainsRune("'\u2018\u2019\u201A\u201B", r) }
	r, size := utf8.DecodeRuneInString(src)
	if !quote(r) {
		return "", src, false
	}
	i := size
	var b strings.Builder
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		i += size
		if !quote(r) {
			b.WriteRune(r)
			continue
		}
		next, nsize := utf8.DecodeRuneInString(src[i:])
		if i < len(src) && quote(next) {
			b.WriteRune(next) // a doubled quote is one literal quote
			i += nsize
			continue
		}
		return b.String(), src[i:], true // the closing quote
	}
	return "", "", false // unterminated
}

func TestQuotePS(t *testing.T) {
	tests := []struct{ in, want string }{
		{"OutSystems Scheduler Service", `'OutSystems Scheduler Service'`},
		{"it's", `'it''s'`},
		{"''", `''''''`},
		{"a’b", "'a’’b'"},
		{"$(x) `n \"q\" ;", "'$(x) `n \"q\" ;'"},
		{"", "''"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, quotePS(tt.in), "quotePS(%q)", tt.in)
		v, rest, ok := psSingleQuoted(quotePS(tt.in) + "; Stop-Computer")
		require.True(t, ok)
		assert.Equal(t, tt.in, v)
		assert.Equal(t, "; Stop-Computer", rest)
	}
}

// FuzzQuotePowerShell checks that no value can break out of the literal
// quotePS makes: scanned as PowerShell would, the literal ends exactly where
// quotePS ended it, and its value is the input.
func FuzzQuotePowerShell(f *testing.F) {
	for _, s := range []string{"OutSystems Scheduler Service", "x'; Stop-Computer; '", "‘’‚‛'", "$(a)`b\"c", "a\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			require.ErrorIs(t, validateName(s), drivers.ErrInvalidArgument, "invalid UTF-8 must be refused")
			return
		}
		const tail = "\n$k = $s[0].Name"
		q := quotePS(s)
		v, rest, ok := psSingleQuoted(q + tail)
		require.True(t, ok, "quotePS(%q) = %q does not scan as a literal", s, q)
		require.Equal(t, tail, rest, "quotePS(%q) = %q: the literal ends early; %q would run as code", s, q, strings.TrimSuffix(rest, tail))
		require.Equal(t, s, v, "the literal's value differs from the input")
		if validateName(s) == nil {
			require.NotContains(t, s, "\n")
			require.NotContains(t, s, "\r")
		}
	})
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"OutSystems Scheduler Service", "a", "x'y", "$x", "`", "名前", "a;b", strings.Repeat("a", 256)} {
		assert.NoError(t, validateName(ok), "%q", ok)
	}
	for _, bad := range []string{"", " a", "a ", "a\nb", "a\tb", "\x00", "a\u200db", "a\u202eb", "a\u2029b", "\xc3", strings.Repeat("a", 257)} {
		err := validateName(bad)
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, "%q", bad)
	}
}

func TestValidateHost(t *testing.T) {
	tests := []struct{ in, host, port string }{
		{"fe01", "fe01", ""},
		{"fe01.corp.example", "fe01.corp.example", ""},
		{"10.0.0.5", "10.0.0.5", ""},
		{"10.0.0.5:15985", "10.0.0.5", "15985"},
		{"::1", "::1", ""},
		{"[::1]:5985", "::1", "5985"},
		{"fe80::1%eth0", "fe80::1%eth0", ""},
	}
	for _, tt := range tests {
		h, p, err := validateHost(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.host, h)
		assert.Equal(t, tt.port, p)
	}
	for _, bad := range []string{"", "a b", "a/b", "a@b", "a:", ":5985", "a:0", "a:65536", "[::1]", "a#b", "a\nb"} {
		_, _, err := validateHost(bad)
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, "%q", bad)
	}
}

func TestScriptsQuoteTheNameOnce(t *testing.T) {
	name := "x'; Stop-Computer; '"
	for _, script := range []string{stateScript(name), stopScript(name),
		restoreScript(name, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})} {
		assert.Equal(t, 1, strings.Count(script, quotePS(name)))
		assert.NotContains(t, script, "%NAME%")
		assert.NotContains(t, script, "%STARTUP%")
		assert.NotContains(t, script, "%RUN%")
	}
	assert.Contains(t, restoreScript(name, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Manual}), "$t = 'demand'\n$r = 'Stopped'")
}

func TestNTLMLeavesPackageDefaultsAlone(t *testing.T) {
	d, err := New(Config{PlainHTTP: true, Username: "u", Auth: AuthNTLM})
	require.NoError(t, err)
	_, err = d.client("127.0.0.1", 5985)
	require.NoError(t, err)
	assert.Nil(t, mzwinrm.DefaultParameters.TransportDecorator)
	assert.Equal(t, "PT60S", mzwinrm.DefaultParameters.Timeout)
}

// TestCommandLineFitsCmdExe checks that the longest script, encoded as the
// client sends it, stays under cmd.exe's 8191-character command-line limit
// (WinRM runs the command through cmd.exe).
func TestCommandLineFitsCmdExe(t *testing.T) {
	worst := strings.Repeat("'", maxNameLen) // every character doubled
	for _, sc := range []string{
		restoreScript(worst, drivers.ServiceState{Run: drivers.Running, Startup: drivers.AutomaticDelayedStart}),
		stopScript(worst), stateScript(worst),
	} {
		n := len(mzwinrm.Powershell(sc))
		t.Logf("command line: %d characters", n)
		assert.Less(t, n, 8191)
	}
}

package awsalb

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMember(t *testing.T) {
	for in, want := range map[string]target{
		"i-0123456789abcdef0":      {id: "i-0123456789abcdef0"},
		"i-0123456789abcdef0:8080": {id: "i-0123456789abcdef0", port: 8080},
		"10.0.0.1":                 {id: "10.0.0.1"},
		"10.0.0.1:80":              {id: "10.0.0.1", port: 80},
		"2001:db8::1":              {id: "2001:db8::1"},
		"[2001:db8::1]:443":        {id: "2001:db8::1", port: 443},
	} {
		got, err := parseMember(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		back, err := parseMember(got.String())
		require.NoError(t, err)
		assert.Equal(t, got, back, "String round-trips")
	}
}

// FuzzParseMember checks that an accepted member yields a target id of
// safe characters and a valid port, and that its string form parses back
// to the same target. Seeds live in testdata/fuzz.
func FuzzParseMember(f *testing.F) {
	for _, s := range []string{"i-0abc", "10.0.0.1:80", "[::1]:80", "::1", "a b", "x:0", "[fe80::1%eth0]:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := parseMember(s)
		if err != nil {
			return
		}
		if tg.id == "" || strings.ContainsAny(tg.id, "/&=?#% \\\x00\r\n;'\"[]") || tg.port < 0 {
			t.Fatalf("member %q accepted as unsafe target %+v", s, tg)
		}
		back, err := parseMember(tg.String())
		if err != nil || back != tg {
			t.Fatalf("member %q: %+v does not round-trip via %q: %+v, %v", s, tg, tg.String(), back, err)
		}
	})
}

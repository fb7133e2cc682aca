package f5

import (
	"strings"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const v12Stats = `{"kind":"tm:ltm:pool:members:membersstats","entries":{"https://localhost/mgmt/tm/ltm/pool/~Common~p/members/~Common~n:80/~Common~n:80/stats":{"nestedStats":{"entries":{"serverside.curConns":{"value":3},"status.availabilityState":{"description":"available"},"status.enabledState":{"description":"disabled"}}}}}}`

const v11Stats = `{"entries":{"https://localhost/mgmt/tm/ltm/pool/~Common~p/members/~Common~n:80/stats":{"nestedStats":{"entries":{"serverside.curConns":{"value":0},"status.availabilityState":{"description":"offline"}}}}}}`

func TestParseStats(t *testing.T) {
	st, err := parseStats([]byte(v12Stats))
	require.NoError(t, err)
	assert.Equal(t, memberStats{CurConns: 3, Availability: "available", Enabled: "disabled"}, st)
	st, err = parseStats([]byte(v11Stats))
	require.NoError(t, err)
	assert.Equal(t, "offline", st.Availability)
	for _, bad := range []string{``, `{}`, `{"entries":{}}`, `{"entries":{"x":{"nestedStats":{"entries":{"serverside.curConns":{"value":-1}}}}}}`, `{"entries":{"x":{"nestedStats":{"entries":{"serverside.curConns":{"value":1.5}}}}}}`} {
		_, err := parseStats([]byte(bad))
		assert.Error(t, err, "body %s", bad)
	}
}

func TestAdminState(t *testing.T) {
	tests := []struct {
		session, state string
		want           drivers.MemberState
		health         drivers.Health
	}{
		{"monitor-enabled", "up", drivers.Serving, drivers.Healthy},
		{"user-enabled", "down", drivers.Serving, drivers.Unhealthy},
		{"user-enabled", "unchecked", drivers.Serving, drivers.HealthUnknown},
		{"user-disabled", "up", drivers.Draining, drivers.Healthy},
		{"user-disabled", "user-down", drivers.Out, drivers.HealthUnknown},
	}
	for _, tc := range tests {
		m := memberBody{Name: "n:80", Session: tc.session, State: tc.state}
		got, err := m.adminState()
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%s/%s", tc.session, tc.state)
		assert.Equal(t, tc.health, status("n:80", m, memberStats{}).Health)
	}
	_, err := memberBody{Session: "weird"}.adminState()
	assert.Error(t, err)
}

func TestMemberName(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1:80":       "10.0.0.1:80",
		"fe01.corp:8080":    "fe01.corp:8080",
		"[2001:db8::1]:443": "2001:db8::1.443",
		"fe01":              "fe01",
	} {
		got, err := memberName(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	assert.Equal(t, "/mgmt/tm/ltm/pool/~Common~web/members/~Common~10.0.0.1:80", memberPath("Common", "web", "10.0.0.1:80"))
	assert.Equal(t, "[2001:db8::1]:443", callerName("2001:db8::1.443"))
	assert.Equal(t, "10.0.0.1%2:80", callerName("10.0.0.1%2:80"), "route domains are listed as they are")
}

// FuzzParseStats checks that no stats body makes the parser panic or
// report a negative connection count. Seeds live in testdata/fuzz.
func FuzzParseStats(f *testing.F) {
	f.Add([]byte(v12Stats))
	f.Add([]byte(v11Stats))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseStats(data)
		if err == nil && st.CurConns < 0 {
			t.Fatalf("negative curConns %d from %q", st.CurConns, data)
		}
	})
}

// FuzzParseMember checks that a member body either fails to parse or
// yields a valid administrative state.
func FuzzParseMember(f *testing.F) {
	f.Add([]byte(`{"name":"n:80","session":"monitor-enabled","state":"up"}`))
	f.Add([]byte(`{"name":"n:80","session":"user-disabled","state":"user-down"}`))
	f.Add([]byte(`{"items":[{"name":"n:80","session":"user-enabled","state":"unchecked"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := parseMember(data); err == nil {
			s, err := m.adminState()
			if err != nil || !s.Valid() {
				t.Fatalf("parsed member %+v has no valid state", m)
			}
		}
		if c, err := parseCollection(data); err == nil {
			for _, m := range c.Items {
				if s, _ := m.adminState(); !s.Valid() {
					t.Fatalf("listed member %+v has no valid state", m)
				}
			}
		}
	})
}

// FuzzMemberName checks that every accepted member name yields a URL path
// segment that cannot escape the pool's member collection.
func FuzzMemberName(f *testing.F) {
	for _, s := range []string{"10.0.0.1:80", "[::1]:80", "a/b:80", "fe1;x", "x:80?y", "../x:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := memberName(s)
		if err != nil {
			return
		}
		if n == ".." || strings.ContainsAny(n, "/~?#% \\\x00\r\n;'\"") {
			t.Fatalf("member %q accepted as unsafe path segment %q", s, n)
		}
	})
}

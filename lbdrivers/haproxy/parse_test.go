package haproxy

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// realStatus is "show servers state app;show stat app 4 -1" captured from
// HAProxy 2.6.12 with fe1 ready, fe2 drain, fe3 maint (no backend up).
func realStatus(t testing.TB) string {
	b, err := os.ReadFile("testdata/status-2.6.12.txt")
	require.NoError(t, err)
	return string(b)
}

func TestSplitReplies(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"one success", "\n", []string{""}},
		{"mixed", "\nNo such server.\n\nNo such backend.\n\n\n", []string{"", "No such server.", "No such backend.", ""}},
		{"multi-line", "1\n# a b\nx y\n\n", []string{"1\n# a b\nx y"}},
		{"unterminated dropped", "\nhalf a rep", []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, splitReplies(tc.in))
		})
	}
	replies := splitReplies(realStatus(t))
	require.Len(t, replies, 2)
}

func TestParseRealStatus(t *testing.T) {
	replies := splitReplies(realStatus(t))
	states, err := parseServersState(replies[0])
	require.NoError(t, err)
	require.Len(t, states, 3)
	want := map[string]drivers.MemberState{"fe1": drivers.Serving, "fe2": drivers.Draining, "fe3": drivers.Out}
	for _, s := range states {
		assert.Equal(t, "app", s.Backend)
		assert.Equal(t, want[s.Server], s.memberState(), s.Server)
	}
	assert.Equal(t, drivers.Unhealthy, states[0].health(), "fe1 is checked and down")
	assert.Equal(t, drivers.HealthUnknown, states[2].health(), "fe3 has no check")

	rows, err := parseStat(replies[1])
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, statRow{Proxy: "app", Server: "fe3", Current: 0, Status: "MAINT"}, rows[2])
}

func TestParseStatByName(t *testing.T) {
	// Columns reordered and extra ones: parsing goes by header name.
	rows, err := parseStat("# status,extra,svname,scur,pxname,\nUP,x,s1,7,be,\nDRAIN,y,s2,0,be,\n")
	require.NoError(t, err)
	assert.Equal(t, []statRow{{"be", "s1", 7, "UP"}, {"be", "s2", 0, "DRAIN"}}, rows)

	for _, bad := range []string{"", "No such proxy.", "# pxname,svname,status\n", "# pxname,svname,scur,status\nbe,s,-1,UP\n", "# pxname,svname,scur,status\nbe,s,x,UP\n"} {
		_, err := parseStat(bad)
		assert.ErrorIs(t, err, errFormat, "%q", bad)
	}
}

func TestParseServersStateErrors(t *testing.T) {
	for _, bad := range []string{
		"", "Can't find backend.", "2\n# be_name srv_name srv_op_state srv_admin_state\n",
		"1\nbe_name srv_name\n", "1\n# be_name srv_name srv_op_state\n",
		"1\n# be_name srv_name srv_op_state srv_admin_state\nbe s 2\n",
		"1\n# be_name srv_name srv_op_state srv_admin_state\nbe s two 0\n",
	} {
		_, err := parseServersState(bad)
		assert.ErrorIs(t, err, errFormat, "%q", bad)
	}
}

func TestAdminStateBits(t *testing.T) {
	tests := []struct {
		bits int
		want drivers.MemberState
		why  string
	}{
		{0x00, drivers.Serving, "ready"},
		{0x01, drivers.Out, "forced maint"},
		{0x02, drivers.Out, "inherited maint (track)"},
		{0x05, drivers.Out, "configured disabled"},
		{0x04, drivers.Serving, "configured disabled, then set ready (HAProxy 2.6.12 reads 4 and serves)"},
		{0x08, drivers.Draining, "forced drain"},
		{0x10, drivers.Draining, "inherited drain"},
		{0x09, drivers.Out, "maint wins over drain"},
		{0x20, drivers.Out, "resolution failure"},
		{0x40, drivers.Serving, "FQDN set from the socket: a marker"},
		{0x48, drivers.Draining, "FQDN marker and drain"},
	}
	for _, tc := range tests {
		line := fmt.Sprintf("1\n# be_name srv_name srv_op_state srv_admin_state srv_check_state\nbe s 2 %d 6\n", tc.bits)
		states, err := parseServersState(line)
		require.NoError(t, err)
		assert.Equal(t, tc.want, states[0].memberState(), "0x%02x: %s", tc.bits, tc.why)
		if tc.want == drivers.Out {
			assert.Equal(t, drivers.HealthUnknown, states[0].health(), "0x%02x", tc.bits)
		} else {
			assert.Equal(t, drivers.Healthy, states[0].health(), "0x%02x", tc.bits)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"fe1", "FE-01_a.b", "srv:8080", strings.Repeat("a", maxName)} {
		assert.NoError(t, validateName("server", ok), ok)
	}
	for _, bad := range []string{"", "a;b", "a b", "a\\;b", "a/b", "a\nb", "a\tb", "a\x00", "é", strings.Repeat("a", maxName+1), "a'b", "a\"b", "a#b"} {
		err := validateName("server", bad)
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "%q", bad)
		if bad != "" && len(bad) <= maxName {
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", bad), "the error names the bad value")
		}
	}
}

func TestReplyError(t *testing.T) {
	tests := []struct {
		reply string
		class error
	}{
		{"", nil},
		{"No such server.", drivers.ErrNotFound},
		{"No such backend.", drivers.ErrNotFound},
		{"Can't find backend.", drivers.ErrNotFound},
		{"Permission denied", drivers.ErrPermissionDenied},
		{"Unknown command. Please enter one of the following commands only:\n  help", drivers.ErrUnimplemented},
		{"'set server <srv> state' expects 'ready', 'drain' and 'maint'.", nil},
	}
	for _, tc := range tests {
		err := replyError("set server a/b state ready", tc.reply)
		if tc.reply == "" {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err, tc.reply)
		assert.Equal(t, tc.class, drivers.Class(err), tc.reply)
		assert.Contains(t, err.Error(), "set server a/b state ready")
	}
}

func TestDialErrorClass(t *testing.T) {
	d, err := New(Config{Address: "/nonexistent/admin.sock", Backend: "app"})
	require.NoError(t, err)
	ctx := t.Context()
	assert.ErrorIs(t, d.dialError(ctx, fmt.Errorf("dial: %w", syscall.EACCES)), drivers.ErrPermissionDenied)
	assert.ErrorIs(t, d.dialError(ctx, fmt.Errorf("dial: %w", syscall.ECONNREFUSED)), drivers.ErrInvalidArgument, "a local socket nobody listens on")
	assert.ErrorIs(t, d.dialError(ctx, fmt.Errorf("dial: %w", syscall.ENOENT)), drivers.ErrInvalidArgument, "no socket file")
	assert.ErrorIs(t, d.dialError(ctx, fmt.Errorf("dial: %w", syscall.ENOTDIR)), drivers.ErrInvalidArgument, "a path component is a file")
	assert.ErrorIs(t, d.dialError(ctx, fmt.Errorf("dial: %w", syscall.ETIMEDOUT)), drivers.ErrUnavailable)
	tcp, err := New(Config{Network: "tcp", Address: "127.0.0.1:9999", Backend: "app"})
	require.NoError(t, err)
	assert.ErrorIs(t, tcp.dialError(ctx, fmt.Errorf("dial: %w", syscall.ECONNREFUSED)), drivers.ErrUnavailable, "TCP refused may be a restart")
}

func FuzzParseStat(f *testing.F) {
	f.Add(splitReplies(realStatus(f))[1])
	f.Add("# pxname,svname,scur,status\nbe,s,1,UP\n")
	f.Add("# status,svname,scur,pxname,\n\"UP\",\"a\"\"b\",3,be\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := parseStat(s)
		if err != nil {
			return
		}
		for _, r := range rows {
			if r.Current < 0 {
				t.Fatalf("negative scur %d accepted", r.Current)
			}
		}
	})
}

func FuzzParseServersState(f *testing.F) {
	f.Add(splitReplies(realStatus(f))[0])
	f.Add("1\n# be_name srv_name srv_op_state srv_admin_state\nbe s 2 8\n")
	f.Add("1\n# \n")
	f.Fuzz(func(t *testing.T, s string) {
		states, err := parseServersState(s)
		if err != nil {
			return
		}
		for _, st := range states {
			if !st.memberState().Valid() {
				t.Fatalf("invalid state from %+v", st)
			}
			_ = st.health()
		}
	})
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"fe1", "a;b", "a b", "a\\n", "a/b", "", "srv:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validateName("server", s) != nil {
			return
		}
		if strings.ContainsAny(s, ";\\/# \t\r\n\x00'\"") {
			t.Fatalf("accepted %q, which could inject a command", s)
		}
		for _, r := range s {
			if r < 0x21 || r > 0x7e {
				t.Fatalf("accepted %q with character %q", s, r)
			}
		}
	})
}

func FuzzSplitReplies(f *testing.F) {
	f.Add(realStatus(f))
	f.Add("\nNo such server.\n\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range splitReplies(s) {
			if strings.Contains(r, "\n\n") {
				t.Fatalf("reply %q holds an empty line", r)
			}
		}
	})
}

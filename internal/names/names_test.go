package names_test

import (
	"strings"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/names"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestName(t *testing.T) {
	for _, ok := range []string{"fe01", "a", "FE-01.prod_x", strings.Repeat("a", names.MaxName)} {
		assert.NoError(t, names.Name("server name", ok), ok)
	}
	for _, bad := range []string{"", "-fe", ".fe", "fe 01", "fe01;", "fe01\n", "fe\x1b[31m", "fé", strings.Repeat("a", names.MaxName+1)} {
		err := names.Name("server name", bad)
		require.Error(t, err, "%q", bad)
		assert.ErrorContains(t, err, "server name ")
		assert.ErrorContains(t, err, "want 1-128 letters, digits")
		assert.NotContains(t, err.Error(), "\x1b", "the value is quoted, escapes shown as escapes")
		assert.NotContains(t, err.Error(), "\n")
	}
}

func TestMemberAndAddress(t *testing.T) {
	for _, ok := range []string{"fe01", "10.0.0.1:443", "[::1]:80", "arn:aws:ec2:i-1/x"} {
		assert.NoError(t, names.Member("member", ok), ok)
		assert.NoError(t, names.Address("address", ok), ok)
	}
	for _, bad := range []string{"", "fe 01", "fe\n01", "a;b", ":x"} {
		assert.ErrorContains(t, names.Member("load-balancer member", bad), "load-balancer member ", "%q", bad)
		assert.ErrorContains(t, names.Address("address", bad), "want a host name or IP address", "%q", bad)
	}
}

func TestText(t *testing.T) {
	for _, ok := range []string{"", "2.4.0", "v2.4.0+build.7 (hotfix)", "Version 2 – Ünïcode ✓", "CHG0012345: quarterly release"} {
		assert.NoError(t, names.Text("release version", ok), ok)
		assert.NoError(t, names.Notes("release notes", ok), ok)
	}
	tests := []struct{ in, want string }{
		{"2.4.0\n", `release version "2.4.0\n": holds U+000A at byte 5`},
		{"2.4\r0", "holds U+000D at byte 3"},
		{"\x1b[31m2.4.0\x1b[0m", `"\x1b[31m2.4.0\x1b[0m": holds U+001B at byte 0`},
		{"2.4.0\t", "holds U+0009"},
		{"2.4.0\x7f", "holds U+007F"},
		{"2.4.0\u0085", "holds U+0085"},
		{"2.4.0\u202e", "holds U+202E"},
		{"2.4.0\u2066", "holds U+2066"},
		{"2.4.0\u2028", "holds U+2028"},
		{"2.4.0\xff", "invalid UTF-8 at byte 5"},
		{strings.Repeat("1", names.MaxText+1), "release version of 257 bytes: want at most 256"},
	}
	for _, tt := range tests {
		err := names.Text("release version", tt.in)
		require.Error(t, err, "%q", tt.in)
		assert.ErrorContains(t, err, tt.want)
		assert.NotContains(t, err.Error(), "\x1b")
		assert.NotContains(t, err.Error(), "\n")
	}
	assert.NoError(t, names.Notes("release notes", strings.Repeat("n", names.MaxNotes)))
	assert.ErrorContains(t, names.Notes("release notes", strings.Repeat("n", names.MaxNotes+1)), "want at most 4096")
}

func TestRelease(t *testing.T) {
	good := drivers.Release{Version: "2.0", Notes: "CHG1", Applications: []drivers.Application{{Name: "Orders", Version: "2.0"}}}
	require.NoError(t, names.Release(good))
	tests := []struct {
		name string
		edit func(r *drivers.Release)
		want string
	}{
		{"version", func(r *drivers.Release) { r.Version = "2.0\x1b[2J" }, "release version"},
		{"notes", func(r *drivers.Release) { r.Notes = "line 1\nline 2" }, "release notes"},
		{"app name", func(r *drivers.Release) { r.Applications[0].Name = "Ord\rers" }, "release application 1 name"},
		{"app version", func(r *drivers.Release) { r.Applications[0].Version = "2\n" }, "release application Orders version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			r.Applications = []drivers.Application{good.Applications[0]}
			tt.edit(&r)
			assert.ErrorContains(t, names.Release(r), tt.want)
		})
	}
}

func TestUnique(t *testing.T) {
	var u names.Unique[int]
	_, dup := u.Add("fe01", 3)
	assert.False(t, dup)
	_, dup = u.Add("fe02", 4)
	assert.False(t, dup)
	first, dup := u.Add("fe01", 9)
	assert.True(t, dup)
	assert.Equal(t, 3, first)
	assert.True(t, u.Has("fe02"))
	assert.False(t, u.Has("fe03"))
	assert.EqualError(t, names.Twice("server", "fe01", "at line 7"), "server fe01 is used twice (first at line 7): want each used once")
	assert.EqualError(t, names.Twice("zone", "z", ""), "zone z is used twice: want each used once")
}

package nginx_test

import (
	"strings"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleFile() nginx.UpstreamFile {
	return nginx.UpstreamFile{
		Upstream:     "frontends",
		Directives:   []string{"zone frontends 64k", "keepalive 16"},
		ServerParams: []string{"max_fails=0", "fail_timeout=5s"},
		Servers: []nginx.ServerLine{
			{Member: "fe01", Address: "10.0.0.11:443", State: drivers.Serving},
			{Member: "fe02", Address: "[2001:db8::2]:443", State: drivers.Draining, Since: time.Date(2026, 11, 27, 3, 0, 0, 5, time.UTC)},
			{Member: "fe03", Address: "unix:/run/fe03.sock", State: drivers.Out},
		},
	}
}

func TestRenderFile(t *testing.T) {
	got, err := nginx.RenderFile(sampleFile())
	require.NoError(t, err)
	want := `# Managed by github.com/balanced-deploy/balanced/lbdrivers/nginx: do not edit, every change is overwritten.
upstream frontends {
    zone frontends 64k;
    keepalive 16;
    server 10.0.0.11:443 max_fails=0 fail_timeout=5s; # member=fe01 state=serving
    server [2001:db8::2]:443 max_fails=0 fail_timeout=5s down; # member=fe02 state=draining since=2026-11-27T03:00:00.000000005Z
    server unix:/run/fe03.sock max_fails=0 fail_timeout=5s down; # member=fe03 state=out
}
`
	assert.Equal(t, want, string(got))

	back, err := nginx.ParseFile(got)
	require.NoError(t, err)
	assert.Equal(t, sampleFile(), back)
}

func TestParseFileRefusesOtherFiles(t *testing.T) {
	good, err := nginx.RenderFile(sampleFile())
	require.NoError(t, err)
	tests := map[string]string{
		"empty":              "",
		"no header":          strings.SplitN(string(good), "\n", 2)[1],
		"hand edit":          strings.Replace(string(good), "keepalive 16", "keepalive 17 ", 1),
		"down without state": strings.Replace(string(good), "fail_timeout=5s; # member=fe01 state=serving", "fail_timeout=5s down; # member=fe01 state=serving", 1),
		"serving with down":  strings.Replace(string(good), "state=out", "state=serving", 1),
		"unknown field":      strings.Replace(string(good), "state=out", "state=out evil=1", 1),
		"trailing text":      string(good) + "server 10.0.0.9:80;\n",
		"no closing brace":   strings.TrimSuffix(string(good), "}\n"),
		"bad since":          strings.Replace(string(good), "since=2026", "since=x2026", 1),
		"injected address":   strings.Replace(string(good), "10.0.0.11:443", "10.0.0.11:443;include /etc/passwd", 1),
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := nginx.ParseFile([]byte(text))
			assert.Error(t, err)
		})
	}
}

// hostile holds values that would add a directive, close the block or start
// a comment if written unchecked.
var hostile = []string{
	"", " ", "a;b", "a}", "a{", "a\nserver 1.2.3.4:80", "a#b", "a b", "a\tb", "a'b", `a"b`, "a$b", "a\\b", "a\x00", "a\r",
	"}\nserver evil:80;\n#",
}

func TestRenderFileRefusesHostileValues(t *testing.T) {
	for _, h := range hostile {
		mutations := map[string]func(f *nginx.UpstreamFile){
			"upstream":     func(f *nginx.UpstreamFile) { f.Upstream = h },
			"upstream+":    func(f *nginx.UpstreamFile) { f.Upstream = "up" + h },
			"member":       func(f *nginx.UpstreamFile) { f.Servers[0].Member = "fe" + h },
			"address":      func(f *nginx.UpstreamFile) { f.Servers[0].Address = "10.0.0.1:80" + h },
			"address host": func(f *nginx.UpstreamFile) { f.Servers[0].Address = h + "10.0.0.1:80" },
			"directive":    func(f *nginx.UpstreamFile) { f.Directives = []string{"keepalive 16" + h} },
			"server param": func(f *nginx.UpstreamFile) { f.ServerParams = []string{"max_fails=0" + h} },
		}
		if h == "" {
			// Appending nothing leaves a valid value; only the bare
			// empty upstream name is hostile.
			mutations = map[string]func(f *nginx.UpstreamFile){"upstream": mutations["upstream"]}
		}
		if h == "a b" {
			delete(mutations, "directive") // "keepalive 16a b": arguments are space-separated
		}
		for name, mutate := range mutations {
			f := sampleFile()
			mutate(&f)
			_, err := nginx.RenderFile(f)
			if assert.Error(t, err, "%s %q must be refused", name, h) {
				assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
			}
		}
	}
}

func TestValidateAddress(t *testing.T) {
	for _, ok := range []string{"10.0.0.1", "10.0.0.1:80", "fe01.internal:8443", "[::1]:8080", "[2001:db8::1]", "unix:/run/app.sock", "localhost:65535"} {
		assert.NoError(t, nginx.ValidateAddress(ok), ok)
	}
	for _, bad := range []string{"", ":80", "host:", "host:0", "host:65536", "host:080", "host:http", "[::1", "::1", "-host:80", "unix:", "unix:relative", "host:80 down", "host:80;", "a..b:1 weight=2"} {
		err := nginx.ValidateAddress(bad)
		if assert.Error(t, err, "%q", bad) {
			assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
			assert.Contains(t, err.Error(), "want host:port")
		}
	}
	assert.Contains(t, nginx.ValidateUpstream("a;b").Error(), `"a;b"`, "the error names the bad value")
}

func TestRenderFileRefusesBadSets(t *testing.T) {
	for name, mutate := range map[string]func(f *nginx.UpstreamFile){
		"no servers":       func(f *nginx.UpstreamFile) { f.Servers = nil },
		"duplicate member": func(f *nginx.UpstreamFile) { f.Servers[1].Member = "fe01" },
		"duplicate addr":   func(f *nginx.UpstreamFile) { f.Servers[1].Address = f.Servers[0].Address },
		"bad state":        func(f *nginx.UpstreamFile) { f.Servers[0].State = "maint" },
		"server directive": func(f *nginx.UpstreamFile) { f.Directives = []string{"server 10.0.0.9:80"} },
		"include":          func(f *nginx.UpstreamFile) { f.Directives = []string{"include /etc/passwd"} },
		"down param":       func(f *nginx.UpstreamFile) { f.ServerParams = []string{"down"} },
	} {
		t.Run(name, func(t *testing.T) {
			f := sampleFile()
			mutate(&f)
			_, err := nginx.RenderFile(f)
			assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
		})
	}
}

// FuzzRenderFile checks that whatever names reach the renderer, either they
// are refused or the file holds exactly one upstream block with one server
// line per member, nothing else, and reads back to the same values.
func FuzzRenderFile(f *testing.F) {
	for _, h := range hostile {
		f.Add("up", "fe1", "10.0.0.1:80"+h, "keepalive 16")
		f.Add("up"+h, "fe1"+h, "10.0.0.1:80", "zone z 64k"+h)
	}
	f.Add("frontends", "fe01", "[::1]:8080", "least_conn")
	f.Add("u", "m", "unix:/x", "keepalive 1")
	f.Fuzz(func(t *testing.T, upstream, member, addr, directive string) {
		in := nginx.UpstreamFile{
			Upstream:   upstream,
			Directives: []string{directive},
			Servers: []nginx.ServerLine{
				{Member: member, Address: addr, State: drivers.Out},
				{Member: "fixed", Address: "127.0.0.1:9", State: drivers.Serving},
			},
		}
		data, err := nginx.RenderFile(in)
		if err != nil {
			require.ErrorIs(t, err, drivers.ErrInvalidArgument)
			return
		}
		text := string(data)
		assert.Equal(t, 1, strings.Count(text, "{"), "one block opens: %q", text)
		assert.Equal(t, 1, strings.Count(text, "}"), "one block closes: %q", text)
		assert.Equal(t, 3, strings.Count(text, ";"), "one directive and two server lines end in ';': %q", text)
		assert.Equal(t, 6, strings.Count(text, "\n"), "no line added: %q", text)
		back, err := nginx.ParseFile(data)
		require.NoError(t, err)
		assert.Equal(t, in, back)
	})
}

// FuzzParseFile checks that the parser never panics and accepts only text
// that renders back byte for byte.
func FuzzParseFile(f *testing.F) {
	good, err := nginx.RenderFile(sampleFile())
	require.NoError(f, err)
	f.Add(string(good))
	f.Add(strings.Replace(string(good), "state=out", "state=out\n    include /etc/passwd;", 1))
	f.Add(strings.Replace(string(good), "10.0.0.11:443", "10.0.0.11:443 backup", 1))
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		parsed, err := nginx.ParseFile([]byte(text))
		if err != nil {
			return
		}
		again, err := nginx.RenderFile(parsed)
		require.NoError(t, err)
		assert.Equal(t, text, string(again))
	})
}

package spec_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/spec"
)

// posOf returns the 1-based line and column of the first occurrence of s in
// doc.
func posOf(t *testing.T, doc, s string) (line, col int) {
	t.Helper()
	i := strings.Index(doc, s)
	require.GreaterOrEqual(t, i, 0, "%q not in doc", s)
	line = strings.Count(doc[:i], "\n") + 1
	col = i - strings.LastIndex(doc[:i], "\n")
	return line, col
}

// TestBadValuesRefusedAtLoad checks every input issue 18 lists as accepted
// although wrong: each is refused by Parse with spec:line:col pointing at the
// key, naming the value and what is expected, and no message holds a secret
// or a raw control character.
func TestBadValuesRefusedAtLoad(t *testing.T) {
	dir := t.TempDir()
	lbBlock := "  backend: be_app\n"
	srv1 := "{name: fe01, address: 10.0.0.1, controller: true}"
	withProbe := func(u string) func(t *testing.T) string {
		return func(t *testing.T) string {
			return edit(t, srv1, "{name: fe01, address: 10.0.0.1, controller: true, probe_url: "+u+"}")
		}
	}
	appendKey := func(s string) func(t *testing.T) string { return func(*testing.T) string { return base + s } }
	tests := []struct {
		name string
		doc  func(t *testing.T) string
		// at is where the error must point (the key's first character);
		// want is in the message.
		at   string
		want []string
	}{
		// HAProxy servers: map.
		{"haproxy server name holding a newline", func(t *testing.T) string {
			return edit(t, lbBlock, lbBlock+`  servers: {fe01: "fe01\nset server be_app/fe02 state maint"}`+"\n")
		}, "fe01: \"fe01", []string{`HAProxy server name "fe01\nset server be_app/fe02 state maint"`, "want letters, digits, '-', '_', '.' or ':'"}},
		{"haproxy server name with a slash", func(t *testing.T) string {
			return edit(t, lbBlock, lbBlock+"  servers: {fe02: be_other/fe02}\n")
		}, "fe02: be_other", []string{`HAProxy server name "be_other/fe02"`, "character '/'"}},
		{"haproxy servers key that is no member", func(t *testing.T) string {
			return edit(t, lbBlock, lbBlock+"  servers: {\"fe01 \": fe01}\n")
		}, `"fe01 ": fe01`, []string{`member "fe01 "`, "want letters, digits"}},
		{"haproxy server name for a member with dots", func(t *testing.T) string {
			doc := edit(t, "{name: fe04, address: 10.0.0.4}", "{name: fe04, address: 10.0.0.4, member: fe04.lan}")
			return strings.Replace(doc, lbBlock, lbBlock+"  servers: {fe03: fe03, fe04.lan: \"fe04\\tx\"}\n", 1)
		}, `fe04.lan: "`, []string{`HAProxy server name "fe04\tx"`}},
		// Probe URLs: http and https only.
		{"javascript probe URL", withProbe(`"javascript:alert(document.cookie)"`), "probe_url", []string{`probe_url "javascript:alert(document.cookie)"`, "want an absolute http:// or https:// URL"}},
		{"file probe URL", withProbe("file:///etc/passwd"), "probe_url", []string{`probe_url "file:///etc/passwd": no host`, "want an absolute http:// or https:// URL"}},
		{"file probe URL with a host", withProbe("file://fe01/c$/app"), "probe_url", []string{`scheme "file"`, "want an absolute http:// or https:// URL"}},
		{"relative probe URL", withProbe("/app/"), "probe_url", []string{`probe_url "/app/": no scheme`}},
		{"probe URL with a token as user name", withProbe("https://TOKEN-s3cr3t@fe01.internal/"), "probe_url", []string{`probe_url "https://[redacted]@fe01.internal/"`, "holds credentials"}},
		{"probe URL with a password and a bad escape", withProbe(`"https://ops:s3cr3t%zz@fe01.internal/"`), "probe_url", []string{`probe_url "https://[redacted]@fe01.internal/": bad %-escape`}},
		// URL-valued keys of the drivers.
		{"platform URL with a token as user name", func(t *testing.T) string {
			return edit(t, "url: https://lt.example", "url: https://TOKEN-s3cr3t@lt.example")
		}, "url: https://", []string{`platform url "https://[redacted]@lt.example/lifetimeapi/rest/v2"`, "want the token in token:"}},
		{"platform URL with a password and a bad escape", func(t *testing.T) string {
			return edit(t, "url: https://lt.example", "url: https://u:s3cr3t%zz@lt.example")
		}, "url: https://", []string{`platform url "https://[redacted]@lt.example/lifetimeapi/rest/v2": bad %-escape`}},
		{"platform URL of another scheme", func(t *testing.T) string {
			return edit(t, "url: https://lt.example", "url: ftp://lt.example")
		}, "url: ftp://", []string{`platform url "ftp://lt.example/lifetimeapi/rest/v2": scheme "ftp"`}},
		{"f5 URL with credentials", func(t *testing.T) string {
			return edit(t, "  kind: haproxy\n  address: 127.0.0.1:9999\n  network: tcp\n  backend: be_app\n",
				"  kind: f5\n  url: https://admin:s3cr3t@bigip.example\n  username: u\n  password: {env: F5_PASSWORD}\n  pool: p\n")
		}, "url: https://admin", []string{`load_balancer f5 url "https://[redacted]@bigip.example"`, "want the credentials in username and password"}},
		{"nginx plus endpoint with a bad escape", func(t *testing.T) string {
			return edit(t, "  kind: haproxy\n  address: 127.0.0.1:9999\n  network: tcp\n  backend: be_app\n",
				"  kind: nginx-plus\n  endpoint: http://u:s3cr3t%zz@127.0.0.1:8080/api\n  upstream: app\n")
		}, "endpoint:", []string{`load_balancer nginx-plus endpoint "http://[redacted]@127.0.0.1:8080/api": bad %-escape`}},
		// Retry.
		{"NaN retry multiplier", appendKey("retry: {multiplier: .nan}\n"), "multiplier", []string{"retry multiplier NaN: want 0 (the default) or a number from 1 to 10"}},
		{"infinite retry multiplier", appendKey("retry: {multiplier: .inf}\n"), "multiplier", []string{"retry multiplier +Inf: want 0 (the default) or a number from 1 to 10"}},
		{"retry multiplier below 1", appendKey("retry: {multiplier: 0.5}\n"), "multiplier", []string{"retry multiplier 0.5: want 0 (the default) or a number from 1 to 10"}},
		{"negative retry multiplier", appendKey("retry: {multiplier: -2}\n"), "multiplier", []string{"retry multiplier -2:"}},
		{"2^62 attempts", appendKey("retry: {max_attempts: 4611686018427387904}\n"), "max_attempts", []string{"retry max_attempts 4611686018427387904: want 0 (the default) to 100"}},
		{"negative attempts", appendKey("retry: {max_attempts: -1}\n"), "max_attempts", []string{"retry max_attempts -1: want 0 (the default) to 100"}},
		{"NaN jitter", appendKey("retry: {jitter: .nan}\n"), "jitter", []string{"retry jitter NaN: want a share of at most 1"}},
		{"jitter above 1", appendKey("retry: {jitter: 1.5}\n"), "jitter", []string{"retry jitter 1.5: want a share of at most 1 (0 the default, negative for none)"}},
		{"backoff longer than its maximum", appendKey("retry: {initial_backoff: 1m, max_backoff: 10s}\n"), "initial_backoff", []string{"retry initial_backoff 1m0s is longer than max_backoff 10s"}},
		{"NaN capacity floor", appendKey("capacity_floor: .nan\n"), "capacity_floor", []string{"capacity_floor NaN: want a share between 0 and 1"}},
		// Durations.
		{"poll interval of 1ns", func(t *testing.T) string { return edit(t, "  drain: 2m\n", "  drain: 2m\n  poll_interval: 1ns\n") }, "poll_interval", []string{"poll_interval 1ns: want 0 (the default) or at least 100ms (an interval)"}},
		{"backoff of 1us", appendKey("retry: {initial_backoff: 1us}\n"), "initial_backoff", []string{"initial_backoff 1µs: want 0 (the default) or at least 100ms"}},
		{"drain timeout of 1ms", func(t *testing.T) string { return edit(t, "drain: 2m", "drain: 1ms") }, "drain: 1ms", []string{"drain 1ms: want 0 (the default) or at least 1s (a timeout)"}},
		{"publish timeout of 1000h", func(t *testing.T) string { return edit(t, "  drain: 2m\n", "  drain: 2m\n  publish: 1000h\n") }, "publish", []string{"publish 1000h0m0s: want 0 (the default) or at most 24h0m0s"}},
		{"platform poll interval of 1ns", func(t *testing.T) string {
			return edit(t, "  target_environment: Production\n", "  target_environment: Production\n  poll_interval: 1ns\n")
		}, "poll_interval: 1ns", []string{"poll_interval 1ns: want 0 (the default) or at least 100ms"}},
		{"load balancer timeout of 1ns", func(t *testing.T) string { return edit(t, lbBlock, lbBlock+"  timeout: 1ns\n") }, "timeout: 1ns", []string{"timeout 1ns: want 0 (the default) or at least 1s"}},
		{"bidi override in a probe URL", withProbe(`"https://fe01.internal/\u202eppa/"`), "probe_url", []string{`probe_url "https://fe01.internal/\u202eppa/": holds U+202E`}},
		{"ANSI escape in the target environment", func(t *testing.T) string {
			return edit(t, "target_environment: Production", `target_environment: "Prod\e[8m"`)
		}, "target_environment", []string{`platform target_environment "Prod\x1b[8m": holds U+001B`}},
		// Journal.
		{"journal that is a directory", func(t *testing.T) string { return edit(t, "journal: deploy.journal", "journal: "+dir) }, "journal:", []string{fmt.Sprintf("journal %q is a directory: want the path of a file in an existing directory", dir)}},
		{"journal in a missing directory", func(t *testing.T) string {
			return edit(t, "journal: deploy.journal", "journal: "+filepath.Join(dir, "missing", "deploy.journal"))
		}, "journal:", []string{fmt.Sprintf("directory %q does not exist", filepath.Join(dir, "missing"))}},
		{"journal under a file", func(t *testing.T) string {
			f := filepath.Join(dir, "plain")
			require.NoError(t, os.WriteFile(f, nil, 0o600))
			return edit(t, "journal: deploy.journal", "journal: "+filepath.Join(f, "deploy.journal"))
		}, "journal:", []string{"is not a directory"}},
		// Texts printed in the runbook.
		{"ANSI escape in the release version", func(t *testing.T) string { return edit(t, `version: "2.0"`, `version: "\e[32m2.0 approved\e[0m"`) }, "version:", []string{`release version "\x1b[32m2.0 approved\x1b[0m": holds U+001B`, "want printable text on one line, without control characters"}},
		{"newline in the release version", func(t *testing.T) string { return edit(t, `version: "2.0"`, `version: "2.0\n  step 12: done"`) }, "version:", []string{`release version "2.0\n  step 12: done": holds U+000A`}},
		{"carriage return in the release notes", func(t *testing.T) string {
			return edit(t, "  version: \"2.0\"\n", "  version: \"2.0\"\n  notes: \"CHG-1\\rCHG-2\"\n")
		}, "notes:", []string{`release notes "CHG-1\rCHG-2": holds U+000D`}},
		{"bidi override in an application name", func(t *testing.T) string { return edit(t, "{name: Orders,", "{name: \"Orders\\u202e\",") }, "name: \"Orders", []string{`release application name "Orders\u202e": holds U+202E`}},
		{"control character in an application version", func(t *testing.T) string { return edit(t, `version: "2.0"}`, `version: "2.0\b"}`) }, `version: "2.0\b"`, []string{`release application version "2.0\b": holds U+0008`}},
		{"ANSI escape in a server name", func(t *testing.T) string {
			return strings.ReplaceAll(edit(t, "{name: fe04,", `{name: "fe04\e[2J",`), "loaded: [fe03, fe04]", "loaded: [fe03]")
		}, `name: "fe04`, []string{`server name "fe04\x1b[2J": want 1-128 letters, digits`}},
		{"newline in a zone name", func(t *testing.T) string { return edit(t, "  - name: east\n", "  - name: \"east\\nwest\"\n") }, "name: \"east", []string{`zone name "east\nwest": want 1-128 letters`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.doc(t)
			_, err := parse(doc)
			require.Error(t, err)
			assert.ErrorIs(t, err, spec.ErrInvalid)
			line, col := posOf(t, doc, tt.at)
			assert.Contains(t, err.Error(), fmt.Sprintf("spec:%d:%d: ", line, col), "the error names the line and column of %q", tt.at)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			for _, leak := range []string{"s3cr3t", "TOKEN", "\x1b", "\r", "\b", "\u202e"} {
				assert.NotContains(t, err.Error(), leak)
			}
			// One problem, one error: nothing else in the spec is wrong.
			assert.NotContains(t, err.Error(), "\n", "a single error")
		})
	}
}

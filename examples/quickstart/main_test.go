package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickstart runs the quickstart in virtual time and checks its report.
func TestQuickstart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		svgPath := filepath.Join(t.TempDir(), "timeline.svg")
		ok, err := run(t.Context(), &out, svgPath)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		last := lines[len(lines)-1]
		m := regexp.MustCompile(`^served=(\d+) failed=(\d+) violations=(\d+)$`).FindStringSubmatch(last)
		require.NotNil(t, m, "last line %q", last)
		assert.Equal(t, "0", m[2], "failed")
		assert.Equal(t, "0", m[3], "violations")
		assert.NotEqual(t, "0", m[1], "served")
		assert.True(t, ok, out.String())
		assert.Contains(t, out.String(), "Updating: fe01 (Deployment Controller), fe02")
		assert.Contains(t, out.String(), "step 12/12 start-schedulers-loaded")
		assert.Contains(t, out.String(), "end state exact=true")
		assert.Regexp(t, `zone east  served=\d+ failed=0 by version: v1=\d+ v2=\d+ `, out.String())
		assert.NotContains(t, out.String(), "map[")

		// The timeline parses and shows both zones serving v1, then v2.
		data, err := os.ReadFile(svgPath)
		require.NoError(t, err)
		dec := xml.NewDecoder(bytes.NewReader(data))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
		}
		for _, want := range []string{`id="zone-east"`, `id="zone-west"`, `class="serving v1"`, `class="serving v2"`, `data-step="switch-traffic"`} {
			assert.Contains(t, string(data), want)
		}
	})
}

func TestArgs(t *testing.T) {
	for _, help := range []string{"-h", "--help", "-help", "help"} {
		var out, errOut bytes.Buffer
		code, done := args([]string{help}, &out, &errOut)
		assert.True(t, done, "help does not deploy")
		assert.Equal(t, 0, code)
		assert.Contains(t, out.String(), "Usage: go run ./examples/quickstart")
	}
	var out, errOut bytes.Buffer
	code, done := args([]string{"--fast"}, &out, &errOut)
	assert.True(t, done)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut.String(), `unexpected argument "--fast"`)
	_, done = args(nil, &out, &errOut)
	assert.False(t, done, "no argument runs the deployment")
}

func TestVersions(t *testing.T) {
	assert.Equal(t, "v1=433 v2=266", versions(map[string]int{"v2": 266, "v1": 433}))
	assert.Equal(t, "none", versions(nil))
}

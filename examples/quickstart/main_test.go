package main

import (
	"bytes"
	"encoding/xml"
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

		// The timeline parses and shows both zones serving v1, then v2.
		data, err := os.ReadFile(svgPath)
		require.NoError(t, err)
		dec := xml.NewDecoder(bytes.NewReader(data))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		for _, want := range []string{`id="zone-east"`, `id="zone-west"`, `class="serving v1"`, `class="serving v2"`, `data-step="switch-traffic"`} {
			assert.Contains(t, string(data), want)
		}
	})
}

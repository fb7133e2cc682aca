package steps_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/internal/fakefarm"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

// TestDescribeRunbook renders the runbook of a two-zone farm with hooks and
// an inserted approval, as text and Markdown.
func TestDescribeRunbook(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02", "fe03", "fe04", "fe05", "fe06", "fe07")
	servers := ff.Servers("eu", "us")
	servers[2].Member = "10.0.1.3:443"
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers), LoadBalancer: ff})
	require.NoError(t, err)
	p, err := steps.Balanced(f, steps.Config{Services: ff, Platform: ff, Prober: ff,
		Release: drivers.Release{Version: "2.4.0", Applications: []drivers.Application{{Name: "Orders", Version: "2.4.0"}, {Name: "Billing_UI", Version: "1.9"}}}})
	require.NoError(t, err)
	noop := func(context.Context, *farm.Run) error { return nil }
	require.NoError(t, p.After(steps.VerifyUpdating, farm.Hook{Name: "smoke-test-orders", Func: noop}))
	require.NoError(t, p.Before(steps.Publish, farm.Hook{Name: "notify-chat", Func: noop}))
	require.NoError(t, p.InsertBefore(steps.SwitchTraffic, steps.Approval("approve-switch", "Switch traffic to 2.4.0?", nil)))

	var text, md bytes.Buffer
	require.NoError(t, p.Describe(&text))
	require.NoError(t, p.DescribeMarkdown(&md))
	golden(t, "runbook.txt", text.Bytes())
	golden(t, "runbook.md", md.Bytes())

	// Every server and member appears, with the step that touches it.
	for _, s := range servers {
		assert.Contains(t, text.String(), s.Name)
	}
	assert.Contains(t, text.String(), "10.0.1.3:443")
	assert.Contains(t, md.String(), "Billing\\_UI")
	assert.Empty(t, ff.Calls(), "describing calls no driver")
}

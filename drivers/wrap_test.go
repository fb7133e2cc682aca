package drivers_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
)

type baseLB struct{}

func (baseLB) SetState(context.Context, drivers.MemberState, ...string) error { return nil }
func (baseLB) Status(context.Context, ...string) ([]drivers.MemberStatus, error) {
	return nil, nil
}

type switchingLB struct{ baseLB }

func (switchingLB) Switch(context.Context, []string, []string) error { return nil }

// loggingLB is a wrapper that forgets Switch.
type loggingLB struct{ inner drivers.LoadBalancer }

func (l loggingLB) SetState(ctx context.Context, s drivers.MemberState, m ...string) error {
	return l.inner.SetState(ctx, s, m...)
}

func (l loggingLB) Status(ctx context.Context, m ...string) ([]drivers.MemberStatus, error) {
	return l.inner.Status(ctx, m...)
}

// loggingSwitcher adds Switch, forwarding by type assertion.
type loggingSwitcher struct{ loggingLB }

func (l loggingSwitcher) Switch(ctx context.Context, serve, drain []string) error {
	return l.inner.(drivers.Switcher).Switch(ctx, serve, drain)
}

// wrapLB is the helper shape the package documentation recommends: it
// returns the combination of capabilities inner has.
func wrapLB(inner drivers.LoadBalancer) drivers.LoadBalancer {
	if _, ok := inner.(drivers.Switcher); ok {
		return loggingSwitcher{loggingLB{inner}}
	}
	return loggingLB{inner}
}

func TestHiddenCapabilities(t *testing.T) {
	assert.Equal(t, []string{"Switcher"}, drivers.Capabilities(switchingLB{}))
	assert.Empty(t, drivers.Capabilities(baseLB{}))
	assert.Empty(t, drivers.Capabilities(nil))
	assert.Equal(t, []string{"Switcher"}, drivers.HiddenCapabilities(switchingLB{}, loggingLB{switchingLB{}}), "a wrapper without Switch hides it")
	for _, inner := range []drivers.LoadBalancer{baseLB{}, switchingLB{}} {
		w := wrapLB(inner)
		assert.Empty(t, drivers.HiddenCapabilities(inner, w), "the helper keeps every capability of %T", inner)
		assert.Equal(t, drivers.Capabilities(inner), drivers.Capabilities(w), "and adds none")
	}
}

// TestCapabilitiesListsEveryCapability keeps the list in wrap.go in step
// with the package: every "X is an optional capability" it declares is
// known to Capabilities.
func TestCapabilitiesListsEveryCapability(t *testing.T) {
	re := regexp.MustCompile(`// (\w+) is an optional capability of`)
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var declared []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			declared = append(declared, m[1])
		}
	}
	slices.Sort(declared)
	require.NotEmpty(t, declared)
	var all everything
	assert.Equal(t, declared, drivers.Capabilities(all), "drivers.Capabilities must know every optional capability the package declares")
}

// everything implements every optional capability.
type everything struct {
	drivers.ApplicationProber
	drivers.DeployedReleaseReader
	drivers.DeploymentAborter
	drivers.DeploymentContinuer
	drivers.DeploymentFinder
	drivers.DeploymentPreparer
	drivers.FarmLeaser
	drivers.Identifier
	drivers.IdleReporter
	drivers.Switcher
}

package spec_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/spec"
)

// TestFullSpec decodes a spec that sets every key of the schema (one zone per
// load balancer kind) and builds it with the real drivers.
func TestFullSpec(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	env["NGINX_PASSWORD"] = "nginx-plus-secret"
	defer delete(env, "NGINX_PASSWORD")
	s, err := spec.Load("testdata/full.yaml", spec.WithLookupEnv(lookup))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("testdata", "production.journal"), s.Journal)
	assert.Equal(t, filepath.Join("testdata", "upstream.conf"), s.Zones[1].LoadBalancer.NGINX.File)
	assert.Equal(t, 2*time.Hour, s.Zones[3].LoadBalancer.F5.TokenTimeout.D())
	assert.Equal(t, "nginx-plus-secret", s.Zones[2].LoadBalancer.NGINXPlus.Password.Value.Reveal())
	assert.Equal(t, 250*time.Millisecond, s.Timeouts.PollInterval.D())
	assert.InDelta(t, 0.2, s.Retry.Jitter, 1e-9)
	assert.True(t, s.Platform.ContinuePrepared)
	assert.True(t, s.Platform.TwoStage)
	assert.Equal(t, "require", s.Platform.PrepareAtFullCapacity)

	f, plan, err := s.Build(t.Context())
	require.NoError(t, err)
	require.Len(t, f.Zones(), 5)
	for _, z := range f.Zones() {
		assert.NotNil(t, z.LoadBalancer, z.Name)
	}
	var out bytes.Buffer
	require.NoError(t, plan.Describe(&out))
	assert.Contains(t, plan.StepIDs(), "prepare", "two_stage: the LifeTime client prepares at full capacity")
	assert.Contains(t, out.String(), "probe fe01 at https://10.20.1.11:8443/")
	assert.Contains(t, out.String(), "probe ng01 at https://[2001:db8::11]/")
}

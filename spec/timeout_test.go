package spec_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/spec"
)

// TestRequestTimeoutDeprecated checks that f5 and platform read their
// per-request limit from timeout, as every other block does, and still
// read the former key request_timeout with a warning.
func TestRequestTimeoutDeprecated(t *testing.T) {
	full := func(t *testing.T, f5Key, platformKey string) string {
		t.Helper()
		data := readFull(t)
		data = strings.Replace(data, "      timeout: 30s", "      "+f5Key+": 30s", 1)
		return strings.Replace(data, "  timeout: 60s", "  "+platformKey+": 60s", 1)
	}
	for _, tc := range []struct {
		name, f5Key, platformKey string
		warnings                 []string
	}{
		{"timeout", "timeout", "timeout", nil},
		{"request_timeout", "request_timeout", "request_timeout", []string{
			"load_balancer f5: request_timeout is deprecated: name it timeout",
			"platform: request_timeout is deprecated: name it timeout",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := spec.Parse([]byte(full(t, tc.f5Key, tc.platformKey)), fullOptions()...)
			require.NoError(t, err)
			var deprecated []string
			for _, w := range s.Warnings {
				if strings.Contains(w, "request_timeout") {
					deprecated = append(deprecated, w[strings.Index(w, ": ")+2:])
				}
			}
			assert.Equal(t, tc.warnings, deprecated)
			var gotF5, gotPlatform time.Duration
			for _, c := range spec.DriverConfigs(s) {
				switch c := c.(type) {
				case f5.Config:
					gotF5 = c.Timeout
				case lifetime.Config:
					gotPlatform = c.Timeout
				}
			}
			for _, z := range s.Zones {
				if z.LoadBalancer != nil && z.LoadBalancer.F5 != nil {
					assert.Equal(t, 30*time.Second, z.LoadBalancer.F5.Timeout.D())
					assert.Zero(t, z.LoadBalancer.F5.RequestTimeout, "moved: the spec prints timeout only")
				}
			}
			assert.Zero(t, s.Platform.RequestTimeout, "moved: the spec prints timeout only")
			assert.Equal(t, 30*time.Second, gotF5, "f5 driver's timeout")
			assert.Equal(t, 60*time.Second, gotPlatform, "lifetime driver's timeout")
		})
	}
	t.Run("both", func(t *testing.T) {
		data := strings.Replace(readFull(t), "  timeout: 60s", "  timeout: 60s\n  request_timeout: 10s", 1)
		_, err := spec.Parse([]byte(data), fullOptions()...)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "platform: both timeout (1m0s) and request_timeout (10s): want timeout only")
	})
}

// readFull returns testdata/full.yaml, which sets every key of the schema.
func readFull(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("testdata/full.yaml")
	require.NoError(t, err)
	return string(data)
}

// fullOptions are the options that load testdata/full.yaml from memory.
func fullOptions() []spec.Option {
	return []spec.Option{spec.WithSource("full.yaml", "testdata"), spec.WithLookupEnv(func(name string) (string, bool) {
		if name == "NGINX_PASSWORD" {
			return "nginx-plus-secret", true
		}
		return lookup(name)
	})}
}

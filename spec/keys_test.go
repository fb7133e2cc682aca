package spec_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDriverErrorsNameSpecKeys: a driver's constructor names the Go field
// it refuses; the spec user reads the key they wrote beside it.
func TestDriverErrorsNameSpecKeys(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600))
	services := "  username: deploy\n"
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"services ca_cert", edit(t, services, services+"  ca_cert: "+notPEM+"\n"),
			"services.ca_cert (Config.CACert) holds no PEM certificate"},
		{"services kerberos without auth", edit(t, services, services+"  kerberos: {realm: CORP.EXAMPLE}\n"),
			"services.kerberos (Config.Kerberos) is set but services.auth (Config.Auth) is"},
		{"services kerberos realm", edit(t, services, services+"  auth: kerberos\n  kerberos: {realm: 'not a realm'}\n"),
			`services.kerberos.realm (Config.Kerberos.Realm) "not a realm" is not a realm name`},
		{"services lease_dir", edit(t, services, services+"  lease_dir: relative\\dir\n"),
			`services.lease_dir (Config.LeaseDir) "relative\\dir"`},
		{"platform ca_cert", edit(t, "  target_environment: Production\n", "  target_environment: Production\n  ca_cert: "+notPEM+"\n"),
			"platform.ca_cert (Config.CACert) holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.doc)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotRegexp(t, `(^|[^.(])Config\.`, err.Error(), "each Go field is named after its spec key")
		})
	}
}

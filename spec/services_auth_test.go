package spec_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/spec"
)

func winrmConfigOf(t *testing.T, s *spec.Spec) winrm.Config {
	t.Helper()
	for _, c := range spec.DriverConfigs(s) {
		if w, ok := c.(winrm.Config); ok {
			return w
		}
	}
	require.FailNow(t, "no winrm.Config")
	return winrm.Config{}
}

func TestServicesAuthKeys(t *testing.T) {
	s, err := parse(base)
	require.NoError(t, err)
	assert.Empty(t, winrmConfigOf(t, s).Auth, "no auth key: the driver's default, negotiate")

	krb5 := filepath.Join(t.TempDir(), "krb5.conf")
	require.NoError(t, os.WriteFile(krb5, []byte("[libdefaults]\n"), 0o600))
	s, err = parse(edit(t, "  username: deploy\n", "  username: deploy\n  auth: kerberos\n  kerberos: {realm: CORP.EXAMPLE, config: "+krb5+", spn: HTTP/fe01}\n  lease_dir: 'D:\\balanced\\leases'\n"))
	require.NoError(t, err)
	c := winrmConfigOf(t, s)
	assert.Equal(t, winrm.AuthKerberos, c.Auth)
	assert.Equal(t, winrm.Kerberos{Realm: "CORP.EXAMPLE", ConfigPath: krb5, SPN: "HTTP/fe01"}, c.Kerberos)
	assert.Equal(t, `D:\balanced\leases`, c.LeaseDir)

	_, err = parse(edit(t, "  username: deploy\n", "  username: deploy\n  kerberos: {realm: X, keytab: /k}\n"))
	require.Error(t, err, "unknown keys are refused")
	assert.Contains(t, err.Error(), "keytab")
}

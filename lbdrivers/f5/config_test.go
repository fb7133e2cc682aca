package f5_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidation(t *testing.T) {
	ok := f5.Config{BaseURL: "https://bigip", Username: "admin", Password: drivers.NewSecret(canary), Pool: "web"}
	tests := []struct {
		name string
		mod  func(*f5.Config)
		want string
	}{
		{"no base URL", func(c *f5.Config) { c.BaseURL = "" }, "BaseURL"},
		{"base URL with path", func(c *f5.Config) { c.BaseURL = "https://bigip/mgmt" }, "BaseURL"},
		{"base URL with credentials", func(c *f5.Config) { c.BaseURL = "https://admin:" + canary + "@bigip" }, "BaseURL"},
		{"ftp", func(c *f5.Config) { c.BaseURL = "ftp://bigip" }, "BaseURL"},
		{"no username", func(c *f5.Config) { c.Username = "" }, "Username"},
		{"no password", func(c *f5.Config) { c.Password = drivers.Secret{} }, "Password"},
		{"no pool", func(c *f5.Config) { c.Pool = "" }, "pool name"},
		{"hostile pool", func(c *f5.Config) { c.Pool = "web/../../x" }, `pool name "web/../../x"`},
		{"hostile partition", func(c *f5.Config) { c.Partition = "Common~x" }, "partition"},
		{"token timeout too long", func(c *f5.Config) { c.TokenTimeout = f5.MaxTokenTimeout + 1 }, "TokenTimeout"},
		{"bad CA", func(c *f5.Config) { c.CACert = []byte("not pem") }, "CACert"},
		{"CA with own client", func(c *f5.Config) { c.CACert = []byte("x"); c.HTTPClient = httptest.NewServer(nil).Client() }, "CACert and Insecure apply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			_, err := f5.New(cfg)
			require.ErrorIs(t, err, drivers.ErrInvalidArgument)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), canary)
		})
	}
	_, err := f5.New(ok)
	require.NoError(t, err)
}

func TestHostileMemberNames(t *testing.T) {
	e := newEnv(t, f5test.Config{}, nil)
	for _, m := range []string{
		"", "10.0.0.1", "a/b:80", "~Common~x:80", "x:80?y", "x:80#y", "x y:80", "x%2f:80",
		"x:99999", "x:-1", "x:080", "2001:db8::1:80", "../x:80", "x:80/../../y", "fe1;rm:80",
	} {
		err := e.lb.SetState(context.Background(), drivers.Out, m)
		require.Error(t, err, "member %q", m)
		if m != "10.0.0.1" { // safe but portless: the device says 404
			assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "member %q", m)
		} else {
			assert.ErrorIs(t, err, drivers.ErrNotFound)
		}
	}
	for _, r := range e.fake.Requests() {
		assert.NotEqual(t, "PUT", r.Method)
		assert.NotContains(t, r.Path, "..")
	}
}

func TestTLS(t *testing.T) {
	fake := f5test.New(f5test.Config{Password: canary, Store: f5test.NewMemStore(members...)})
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	cfg := f5.Config{BaseURL: srv.URL, Username: "admin", Password: drivers.NewSecret(canary), Pool: "pool"}

	t.Run("verified by default", func(t *testing.T) {
		lb, err := f5.New(cfg)
		require.NoError(t, err)
		_, err = lb.Status(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "certificate")
	})
	t.Run("CACert", func(t *testing.T) {
		c := cfg
		c.CACert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
		lb, err := f5.New(c)
		require.NoError(t, err)
		_, err = lb.Status(context.Background())
		require.NoError(t, err)
	})
	t.Run("Insecure warns", func(t *testing.T) {
		var logs bytes.Buffer
		c := cfg
		c.Insecure = true
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		lb, err := f5.New(c)
		require.NoError(t, err)
		assert.Contains(t, logs.String(), "level=WARN")
		assert.Contains(t, logs.String(), "verification is disabled")
		_, err = lb.Status(context.Background())
		require.NoError(t, err)
	})
}

// TestNewNeverEchoesURLSecrets: a BaseURL holding a token as the user name
// (which url.URL.Redacted would print), a password, a password with a bad
// %-escape (url.Parse quotes the whole URL in its error), a password
// holding '/' and '#', or a token in the query is refused, named by its
// host and none of its secrets.
func TestNewNeverEchoesURLSecrets(t *testing.T) {
	for _, raw := range []string{
		"https://TOKEN-s3cr3t@bigip.example:8443/",
		"https://u:s3cr3t@bigip.example:8443/",
		"https://u:pa%zzs3cr3t@bigip.example:8443/",
		"https://u:pa%zzs3cr3t@bigip.example:8443/?token=s3cr3t",
		"https://u:s3cr3t/#x@bigip.example:8443/",
		"https://bigip.example:8443/?token=s3cr3t",
	} {
		_, err := f5.New(f5.Config{BaseURL: raw, Username: "admin", Password: drivers.NewSecret("pw"), Pool: "web"})
		require.Error(t, err, raw)
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, raw)
		assert.NotContains(t, err.Error(), "s3cr3t", raw)
		assert.Contains(t, err.Error(), "bigip.example:8443", raw)
	}
}

package winrm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
)

func TestSecretNeverPrints(t *testing.T) {
	const pw = "hunter2-very-secret"
	s := drivers.NewSecret(pw)
	cfg := Config{PlainHTTP: true, Username: "u", Password: s}
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		assert.NotContains(t, fmt.Sprintf(verb, s), pw, verb)
		assert.NotContains(t, fmt.Sprintf(verb, cfg), pw, verb)
		assert.NotContains(t, fmt.Sprintf(verb, &cfg), pw, verb)
	}
	assert.Equal(t, "[redacted]", s.String())
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.NotContains(t, string(b), pw)
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("cfg", "password", s, "config", cfg)
	log2 := slog.New(slog.NewTextHandler(&buf, nil))
	log2.Info("cfg", "password", s, "config", cfg)
	assert.NotContains(t, buf.String(), pw)
	assert.Contains(t, buf.String(), "[redacted]")
	assert.Equal(t, pw, s.Reveal())
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no user", Config{}, "Username"},
		{"bad port", Config{PlainHTTP: true, Username: "u", Port: 70000}, "70000"},
		{"bad auth", Config{PlainHTTP: true, Username: "u", Auth: "digest"}, `"digest"`},
		{"negative timeout", Config{PlainHTTP: true, Username: "u", Timeout: -1}, "Timeout"},
		{"insecure without https", Config{PlainHTTP: true, Username: "u", Insecure: true}, "Insecure"},
		{"ca without https", Config{PlainHTTP: true, Username: "u", CACert: []byte("x")}, "CACert"},
		{"bad ca", Config{Username: "u", CACert: []byte("not pem")}, "PEM"},
		{"empty role", Config{PlainHTTP: true, Username: "u", ServiceNames: map[drivers.Service]string{"": "x"}}, "empty service role"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, tt.name)
		assert.Contains(t, err.Error(), tt.want, tt.name)
	}
}

func TestConfigDefaultsAndWarnings(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	d, err := New(Config{PlainHTTP: true, Auth: AuthBasic, Username: "u", Logger: log})
	require.NoError(t, err)
	assert.Equal(t, DefaultHTTPPort, d.s.port)
	assert.Equal(t, DefaultTimeout, d.s.timeout)
	assert.Equal(t, DefaultServiceNames(), d.s.names)
	assert.Contains(t, buf.String(), "unencrypted")

	buf.Reset()
	d, err = New(Config{Username: "u", Insecure: true, Auth: AuthNTLM, Logger: log,
		ServiceNames: map[drivers.Service]string{drivers.SchedulerService: "Sched"}})
	require.NoError(t, err)
	assert.Equal(t, DefaultHTTPSPort, d.s.port)
	assert.Equal(t, AuthNegotiate, d.s.auth)
	assert.Equal(t, "Sched", d.s.names[drivers.SchedulerService])
	assert.Equal(t, "OutSystems Deployment Service", d.s.names[drivers.DeploymentService])
	assert.Contains(t, buf.String(), "verification is disabled")
	assert.NotContains(t, buf.String(), "unencrypted")
}

func TestZeroConfigIsHTTPS(t *testing.T) {
	s, err := Config{Username: "u"}.settings()
	require.NoError(t, err)
	assert.True(t, s.https, "HTTPS unless PlainHTTP is asked for")
	assert.Equal(t, AuthNegotiate, s.auth, "Negotiate (NTLM) unless Basic or Kerberos is asked for")
	assert.False(t, s.encrypting(), "HTTPS needs no message encryption")
	assert.Equal(t, DefaultHTTPSPort, s.port)
	s, err = Config{Username: "u", PlainHTTP: true}.settings()
	require.NoError(t, err)
	assert.False(t, s.https)
	assert.Equal(t, DefaultHTTPPort, s.port)
	assert.True(t, s.encrypting(), "Negotiate over plain HTTP encrypts every message")
}

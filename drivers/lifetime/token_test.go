package lifetime_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenNeverPrints(t *testing.T) {
	tok := drivers.NewSecret(canary)
	cfg := lifetime.Config{BaseURL: "https://lt.example/v2", Token: tok, SourceEnvironment: "Q", TargetEnvironment: "P"}
	c, err := lifetime.New(cfg)
	require.NoError(t, err)
	assert.Equal(t, canary, tok.Reveal())

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		out = append(out, fmt.Sprintf(verb, tok), fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, c))
	}
	out = append(out, tok.String(), tok.GoString(), fmt.Sprint(tok), fmt.Sprintln(cfg))
	b, err := json.Marshal(struct {
		Token drivers.Secret
		Ptr   *drivers.Secret
	}{tok, &tok})
	require.NoError(t, err)
	out = append(out, string(b))
	text, err := tok.MarshalText()
	require.NoError(t, err)
	out = append(out, string(text))

	logs := &logBuffer{}
	for _, h := range []slog.Handler{slog.NewTextHandler(logs, nil), slog.NewJSONHandler(logs, nil)} {
		slog.New(h).Info("config", "cfg", cfg, "token", tok, "client", c, "ptr", &cfg)
	}
	out = append(out, logs.String())
	for _, s := range out {
		assert.NotContains(t, s, canary)
		assert.NotContains(t, s, "7f3a9c1e5b")
	}
	assert.Contains(t, fmt.Sprint(tok), "[redacted]")
}

func TestTokenScrubbedFromServerMessages(t *testing.T) {
	// A misbehaving server that echoes the Authorization header.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"Errors": []string{"bad header " + r.Header.Get("Authorization")}, "StatusCode": 400})
	}))
	defer srv.Close()
	logs := &logBuffer{}
	c, err := lifetime.New(lifetime.Config{
		BaseURL: srv.URL, Token: drivers.NewSecret(canary), SourceEnvironment: "Q", TargetEnvironment: "P",
		Logger: newLogger(logs),
	})
	require.NoError(t, err)
	_, err = c.DeploymentStatus(t.Context(), "k")
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "bad header Bearer [redacted]")
	assert.NotContains(t, err.Error(), canary)
}

// TestTokenNeverLogged runs every operation, successful and failing, with
// debug logging and checks neither a log line nor an error holds the token.
func TestTokenNeverLogged(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(nil))
	defer s.Close()
	c, logs := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.Insecure = false })
	var errs []error
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	id, err := c.StartDeployment(t.Context(), release2)
	record(err)
	waitDone(t, c, id)
	record(c.AbortDeployment(t.Context(), id))
	_, err = c.StartDeployment(t.Context(), releaseOf("9.9", "Portal"))
	record(err)
	_, _, err = c.FindDeployment(t.Context(), release2)
	record(err)
	s.Inject(fault.Fault{Op: http.MethodGet, Target: "/status/", Status: 500, Times: 100})
	_, err = c.DeploymentStatus(t.Context(), id)
	record(err)
	bad, _ := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.Token = drivers.NewSecret(canary + "x") })
	_, err = bad.DeployedRelease(t.Context())
	record(err)

	require.Len(t, errs, 4, "the failing calls failed")
	for _, e := range errs {
		assert.NotContains(t, e.Error(), canary)
		assert.NotContains(t, fmt.Sprintf("%+v %#v", e, e), canary)
	}
	assert.NotEmpty(t, logs.String())
	assert.NotContains(t, logs.String(), canary)
}

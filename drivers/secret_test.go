package drivers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/stretchr/testify/assert"
)

func TestSecretNeverPrints(t *testing.T) {
	const canary = "canary-Pa55w0rd-7f3a"
	s := drivers.NewSecret(canary)
	type inner struct {
		token drivers.Secret // unexported: fmt cannot call its methods
	}
	type config struct {
		User     string
		Password drivers.Secret
		Ptr      *drivers.Secret
		hidden   inner
		Inner    inner
	}
	c := config{User: "svc", Password: s, Ptr: &s, hidden: inner{s}, Inner: inner{s}}
	var outs []string
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%X", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, c))
	}
	outs = append(outs, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(c))
	j, err := json.Marshal(c)
	assert.NoError(t, err)
	outs = append(outs, string(j))
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("config", "password", s, "config", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "password", s, "cfg", c)
	outs = append(outs, buf.String())
	for _, o := range outs {
		assert.NotContains(t, o, canary)
		assert.NotContains(t, o, fmt.Sprintf("%x", canary))
	}
	assert.Contains(t, string(j), "[redacted]")
	assert.True(t, strings.Contains(buf.String(), "[redacted]"))
	assert.Equal(t, canary, s.Reveal())
	assert.True(t, drivers.Secret{}.IsZero())
	assert.Equal(t, "", drivers.Secret{}.String())
}

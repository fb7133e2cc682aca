package redact_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/balanced-deploy/balanced/lbdrivers/internal/redact"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://host:8443/api", "https://host:8443/api"},
		{"https://TOKEN@host/", "https://xxxxx@host/"},
		{"https://u:secret@host/", "https://xxxxx@host/"},
		{"https://u:p%zzsecret@host/api", "https://xxxxx@host/api"},       // does not parse
		{"https://u:p%zz@se/cret@host/api?x=1", "https://xxxxx@host/api"}, // does not parse, '@' and '/' in it
		{"https://host/api?token=secret&a=b", "https://host/api?a=xxxxx&token=xxxxx"},
		{"u:p%zzsecret@host", "xxxxx@host"},
		{"http://h/\x1b[31m", "http://h/%1B[31m"},
		{"", ""},
	} {
		got := redact.URL(tc.in)
		assert.Equal(t, tc.want, got, tc.in)
		assert.NotContains(t, got, "secret", tc.in)
		assert.NotContains(t, got, "TOKEN", tc.in)
	}
}

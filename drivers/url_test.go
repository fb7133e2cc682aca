package drivers_test

import (
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://fe01.internal/app/", "https://fe01.internal/app/"},
		{"https://TOKEN@host/x", "https://[redacted]@host/x"},
		{"https://user:pass@host/x", "https://[redacted]@host/x"},
		{"https://user:p%zzass@host/x", "https://[redacted]@host/x"},
		{"https://user:p@ss@host/x", "https://[redacted]@host/x"},
		{"https://user:pa/ss@host/x", "https://[redacted]@host/x"},
		{"user:pass@host", "[redacted]@host"},
		{"https:user:pass@host", "[redacted]@host"},
		{"https://host/api?token=s3cr3t&full=1", "https://host/api?token=[redacted]&full=[redacted]"},
		{"https://host/api?s3cr3t", "https://host/api?[redacted]"},
		{"https://host/cb#access_token=s3cr3t", "https://host/cb#access_token=[redacted]"},
		{"https://u:p?s3cr3t@host/x?a=1#f", "https://[redacted]@host/x?a=[redacted]#[redacted]"},
		{"https://host/?", "https://host/?"},
		{"", ""},
	}
	for _, tt := range tests {
		got := drivers.RedactURL(tt.in)
		assert.Equal(t, tt.want, got, tt.in)
		assert.NotContains(t, got, "s3cr3t", tt.in)
		assert.NotContains(t, got, "TOKEN", tt.in)
		assert.NotContains(t, got, "pass", tt.in)
	}
}

func TestParseURL(t *testing.T) {
	for _, ok := range []string{"https://fe01/", "http://10.0.0.1:8080/app", "sim://fe01/"} {
		_, err := drivers.ParseURL("probe URL", ok)
		assert.NoError(t, err, ok)
	}
	tests := []struct{ in, want string }{
		{"javascript:alert(1)", `probe URL "javascript:alert(1)": no host`},
		{"file:///etc/passwd", `probe URL "file:///etc/passwd": no host`},
		{"/app/", "no scheme"},
		{"https://fe01:bad/", `invalid port ":bad" after host`},
		{"https://u:s3cr3t%zz@fe01/", `probe URL "https://[redacted]@fe01/": bad %-escape`},
		{"https://u:s3cr3t@fe01:bad/", `probe URL "https://[redacted]@fe01:bad/": malformed`},
		{"https://fe01/\x1b[2J", `"https://fe01/\x1b[2J"`},
	}
	for _, tt := range tests {
		_, err := drivers.ParseURL("probe URL", tt.in)
		require.Error(t, err, tt.in)
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
		assert.ErrorContains(t, err, tt.want)
		assert.NotContains(t, err.Error(), "s3cr3t")
		assert.NotContains(t, err.Error(), "\x1b")
	}
}

func TestCheckHTTPURL(t *testing.T) {
	for _, ok := range []string{"https://fe01/", "HTTP://fe01:8080/app"} {
		_, err := drivers.CheckHTTPURL("probe URL", ok)
		assert.NoError(t, err, ok)
	}
	for in, want := range map[string]string{
		"javascript://fe01/%0aalert(1)": `scheme "javascript": want an absolute http:// or https:// URL`,
		"file://fe01/etc/passwd":        `scheme "file"`,
		"ftp://fe01/":                   `scheme "ftp"`,
		"file:///etc/passwd":            "no host",
	} {
		_, err := drivers.CheckHTTPURL("probe URL", in)
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, in)
		assert.ErrorContains(t, err, want, in)
	}
}

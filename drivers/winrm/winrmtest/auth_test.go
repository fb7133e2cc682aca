package winrmtest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	mzwinrm "github.com/masterzen/winrm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
)

// The tests in this file check that the fake authenticates as a stock
// Windows Server does ("Authentication for Remote Connections" and
// "Installation and configuration for Windows Remote Management", Microsoft
// docs; hashicorp/packer#6205 for what an unencrypted NTLM client sees).

// answer is a response's status and headers.
type answer struct {
	StatusCode int
	Header     http.Header
}

// post sends a SOAP-typed POST with the given Authorization header.
func post(t *testing.T, srv *winrmtest.Server, auth string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL(), strings.NewReader("<s:Envelope/>"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	hc := &http.Client{}
	if pem := srv.CACertPEM(); pem != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return answer{StatusCode: resp.StatusCode, Header: resp.Header}
}

func TestStockHostOffersNegotiateOnly(t *testing.T) {
	srv := winrmtest.NewServer(winrmtest.Config{Username: "u", Password: "p"})
	defer srv.Close()
	resp := post(t, srv, "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, []string{"Negotiate"}, resp.Header.Values("WWW-Authenticate"), "Basic=false by default")

	allow := winrmtest.NewServer(winrmtest.Config{Username: "u", Password: "p", AllowBasic: true})
	defer allow.Close()
	assert.Equal(t, []string{"Negotiate", `Basic realm="WSMAN"`}, post(t, allow, "").Header.Values("WWW-Authenticate"))
}

func TestBasicRefusedUnlessAllowed(t *testing.T) {
	basic := "Basic dTpw" // u:p
	tests := []struct {
		name string
		cfg  winrmtest.Config
		want int
		why  string
	}{
		{"stock host", winrmtest.Config{TLS: true}, http.StatusUnauthorized, "Basic=false"},
		{"allowed over HTTPS", winrmtest.Config{TLS: true, AllowBasic: true}, 0, ""}, // 0: authenticated (the empty envelope then gets a fault)
		{"allowed over HTTP without AllowUnencrypted", winrmtest.Config{AllowBasic: true}, http.StatusUnauthorized, "AllowUnencrypted"},
		{"allowed over HTTP with AllowUnencrypted", winrmtest.Config{AllowBasic: true, AllowUnencrypted: true}, 0, ""},
		{"domain account", winrmtest.Config{TLS: true, AllowBasic: true, Username: `FARM\u`}, http.StatusUnauthorized, "local accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.Username == "" {
				tt.cfg.Username = "u"
			}
			tt.cfg.Password = "p"
			srv := winrmtest.NewServer(tt.cfg)
			defer srv.Close()
			got := post(t, srv, basic).StatusCode
			if tt.want == 0 {
				assert.NotEqual(t, http.StatusUnauthorized, got)
				assert.Empty(t, srv.Refusals())
			} else {
				assert.Equal(t, tt.want, got)
			}
			if tt.why != "" {
				require.Len(t, srv.Refusals(), 1)
				assert.Contains(t, srv.Refusals()[0], tt.why)
			}
		})
	}
}

func TestUnencryptedNTLMOverHTTPIsRefused(t *testing.T) {
	ntlmClient := func(srv *winrmtest.Server, https bool) *mzwinrm.Client {
		ep := mzwinrm.NewEndpoint("127.0.0.1", srv.Port(), https, false, srv.CACertPEM(), nil, nil, 5*time.Second)
		params := *mzwinrm.DefaultParameters
		params.TransportDecorator = func() mzwinrm.Transporter { return &mzwinrm.ClientNTLM{} } // Azure/go-ntlmssp: no sealing
		c, err := mzwinrm.NewClientWithParameters(ep, "u", "p", &params)
		require.NoError(t, err)
		return c
	}
	ctx := context.Background()

	stock := winrmtest.NewServer(winrmtest.Config{Username: "u", Password: "p"})
	defer stock.Close()
	_, _, _, err := ntlmClient(stock, false).RunPSWithContext(ctx, "x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401", "the sign-in succeeds, the unencrypted message is refused")
	assert.Contains(t, strings.Join(stock.Refusals(), "\n"), "unencrypted SOAP message")
	assert.Empty(t, stock.Actions())

	open := winrmtest.NewServer(winrmtest.Config{Username: "u", Password: "p", AllowUnencrypted: true})
	defer open.Close()
	_, _, code, err := ntlmClient(open, false).RunPSWithContext(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, 1, code, "accepted, then refused as an unrecognised script")

	tlsSrv := winrmtest.NewServer(winrmtest.Config{Username: "u", Password: "p", TLS: true})
	defer tlsSrv.Close()
	_, _, code, err = ntlmClient(tlsSrv, true).RunPSWithContext(ctx, "x")
	require.NoError(t, err, "HTTPS messages are encrypted by TLS")
	assert.Equal(t, 1, code)
}

func TestEncryptedNTLMIsAccepted(t *testing.T) {
	for _, user := range []string{"u", `FARM\u`, "u@farm.example"} {
		srv := winrmtest.NewServer(winrmtest.Config{Username: user, Password: "p"})
		_, stderr, code, err := newClient(t, srv, user, "p").RunPSWithContext(context.Background(), "x")
		require.NoError(t, err, user)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "unrecognised", "the decrypted script reached the interpreter")
		assert.Positive(t, srv.EncryptedRequests())

		_, _, _, err = newClient(t, srv, user, "wrong").RunPSWithContext(context.Background(), "x")
		require.Error(t, err, "a wrong password fails the NTLMv2 check")
		assert.Contains(t, strings.Join(srv.Refusals(), "\n"), "does not match the password")
		srv.Close()
	}
}

func TestReceiveStreamsAndTimesOut(t *testing.T) {
	srv := winrmtest.NewServer(winrmtest.Config{Username: "u", Password: "p", NoOutputReceives: 3})
	defer srv.Close()
	_, stderr, code, err := newClient(t, srv, "u", "p").RunPSWithContext(context.Background(), "x")
	require.NoError(t, err, "the client must poll again after w:TimedOut")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "unrecognised")
	assert.Equal(t, 3+2, srv.Receives(), "3 timed out, the stderr, the Done answer")
}

package winrmtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
)

// The tests in this file check the fake's wire format with a WinRM client
// nobody here wrote: pywinrm (Debian package python3-winrm, with
// requests-ntlm and ntlm-auth), driven through /usr/bin/python3. They fail
// when CI=true and the package is missing; elsewhere they are skipped.

const python = "/usr/bin/python3"

// pywinrmScript runs one PowerShell script through pywinrm's Session.run_ps
// and prints its stdout; the exit status is 0, 10 + the script's exit code,
// or Python's own on an exception.
const pywinrmScript = `
import os, sys, winrm
kw = dict(transport=os.environ['T'], message_encryption=os.environ['ENC'], operation_timeout_sec=5, read_timeout_sec=10)
if os.environ.get('CA'):
    kw['ca_trust_path'] = os.environ['CA']
s = winrm.Session(os.environ['URL'], auth=(os.environ['U'], os.environ['P']), **kw)
r = s.run_ps(os.environ['SCRIPT'])
sys.stdout.write(r.std_out.decode('utf-8'))
err = r.std_err if isinstance(r.std_err, str) else r.std_err.decode('utf-8')
sys.stderr.write(err)
sys.exit(0 if r.status_code == 0 else 10 + r.status_code)
`

const opensslLegacy = `openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
`

func needPywinrm(t *testing.T) {
	t.Helper()
	err := exec.Command(python, "-c", "import winrm, requests_ntlm").Run()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s cannot import winrm (apt-get install python3-winrm): %v", python, err)
	}
	t.Skipf("pywinrm not available (%v); apt-get install python3-winrm", err)
}

// runPywinrm runs script against srv with pywinrm and returns its stdout,
// stderr and error.
func runPywinrm(t *testing.T, srv *Server, transport, encryption, user, password, script string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", pywinrmScript)
	env := []string{"PATH=/usr/bin:/bin", "NO_PROXY=*", "T=" + transport, "ENC=" + encryption,
		"URL=" + srv.URL(), "U=" + user, "P=" + password, "SCRIPT=" + script}
	if pem := srv.CACertPEM(); pem != nil {
		ca := filepath.Join(t.TempDir(), "ca.pem")
		require.NoError(t, os.WriteFile(ca, pem, 0o600))
		env = append(env, "CA="+ca)
	}
	// NTLM is defined over MD4, which OpenSSL 3 keeps in its legacy
	// provider; Debian 12 does not load it, so ntlm-auth's hashlib.new('md4')
	// fails unless something else loaded it first (over HTTPS, pyOpenSSL
	// does). Loading it through OPENSSL_CONF is how pywinrm users on such
	// systems enable NTLM.
	conf := filepath.Join(t.TempDir(), "openssl.cnf")
	require.NoError(t, os.WriteFile(conf, []byte(opensslLegacy), 0o600))
	cmd.Env = append(env, "OPENSSL_CONF="+conf)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func TestPywinrmRunsTheDriversScript(t *testing.T) {
	needPywinrm(t)
	stateScript := script(`'OutSystems Scheduler Service'`)
	want := `BALANCED-STATE {"Name":"OutSystems Scheduler","DisplayName":"OutSystems Scheduler Service","State":"Running","StartMode":"Auto","DelayedAutoStart":true}`
	tests := []struct {
		name, transport, encryption string
		cfg                         Config
	}{
		{"ntlm over https", "ntlm", "auto", Config{TLS: true}},
		{"ntlm over http, message encryption", "ntlm", "always", Config{NoOutputReceives: 2}},
		{"basic over https, allowed", "basic", "auto", Config{TLS: true, AllowBasic: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svcs := &MapServices{}
			svcs.Add("fe01", Service{Name: "OutSystems Scheduler", DisplayName: "OutSystems Scheduler Service", Run: drivers.Running, Startup: drivers.AutomaticDelayedStart})
			cfg := tt.cfg
			cfg.Host, cfg.Services, cfg.Username, cfg.Password = "fe01", svcs, "deployer", "Py-Pa55word"
			srv := NewServer(cfg)
			defer srv.Close()
			stdout, stderr, err := runPywinrm(t, srv, tt.transport, tt.encryption, "deployer", "Py-Pa55word", stateScript)
			require.NoError(t, err, "pywinrm failed: %s", stderr)
			assert.Equal(t, want, strings.TrimSpace(stdout))
			scripts := srv.Scripts()
			require.Len(t, scripts, 1)
			assert.True(t, scripts[0].Recognised, scripts[0].Reason)
			assert.Equal(t, cfg.NoOutputReceives+2, srv.Receives(), "timed out ones, the state line, the Done answer")
			if tt.encryption == "always" {
				assert.Positive(t, srv.EncryptedRequests())
			}
			assert.Zero(t, srv.OpenShells(), "pywinrm deletes its shell")
		})
	}
}

// TestPywinrmSeesARefusal checks that a stock host's refusals look to pywinrm
// as they do from Windows: Basic refused, a wrong NTLM password refused.
func TestPywinrmSeesARefusal(t *testing.T) {
	needPywinrm(t)
	srv := NewServer(Config{Host: "fe01", Username: "deployer", Password: "Py-Pa55word", TLS: true})
	defer srv.Close()
	for _, tc := range []struct{ transport, password string }{{"basic", "Py-Pa55word"}, {"ntlm", "wrong"}} {
		_, stderr, err := runPywinrm(t, srv, tc.transport, "auto", "deployer", tc.password, "x")
		require.Error(t, err, tc.transport)
		assert.Contains(t, stderr, "InvalidCredentialsError", tc.transport)
	}
	assert.Empty(t, srv.Scripts())
}

// TestPywinrmNoticesABrokenFake proves the check can fail: with the stream
// encoding broken on purpose (Config.Defect), pywinrm fails.
func TestPywinrmNoticesABrokenFake(t *testing.T) {
	needPywinrm(t)
	srv := NewServer(Config{Host: "fe01", Username: "deployer", Password: "Py-Pa55word", TLS: true, Defect: DefectStreamEncoding})
	defer srv.Close()
	_, stderr, err := runPywinrm(t, srv, "ntlm", "auto", "deployer", "Py-Pa55word", script(`'x'`))
	require.Error(t, err)
	assert.Contains(t, stderr, "binascii.Error")
}

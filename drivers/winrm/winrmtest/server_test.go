package winrmtest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	mzwinrm "github.com/masterzen/winrm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
	"github.com/balanced-deploy/balanced/fault"
)

// newClient returns a masterzen/winrm client that talks to a plain HTTP
// fake as a stock host requires: NTLM with message encryption.
func newClient(t *testing.T, srv *winrmtest.Server, user, password string) *mzwinrm.Client {
	t.Helper()
	ep := mzwinrm.NewEndpoint("127.0.0.1", srv.Port(), false, false, nil, nil, nil, 5*time.Second)
	params := *mzwinrm.DefaultParameters
	params.TransportDecorator = func() mzwinrm.Transporter {
		enc, err := mzwinrm.NewEncryption("ntlm")
		require.NoError(t, err)
		return enc
	}
	c, err := mzwinrm.NewClientWithParameters(ep, user, password, &params)
	require.NoError(t, err)
	return c
}

func TestUnrecognisedCommandsAreRefusedAndRecorded(t *testing.T) {
	svcs := &winrmtest.MapServices{}
	svcs.Add("fe01", winrmtest.Service{Name: "s", DisplayName: "S", Run: drivers.Running, Startup: drivers.Automatic})
	srv := winrmtest.NewServer(winrmtest.Config{Host: "fe01", Services: svcs, Username: "u", Password: "p"})
	defer srv.Close()
	c := newClient(t, srv, "u", "p")
	ctx := context.Background()

	stdout, stderr, code, err := c.RunPSWithContext(ctx, "Stop-Service -Name 'S'")
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.True(t, strings.HasPrefix(stderr, "#< CLIXML"), stderr)
	assert.Contains(t, stderr, "unrecognised command")

	_, _, code, err = c.RunCmdWithContext(ctx, "net stop S")
	require.NoError(t, err)
	assert.Equal(t, 1, code)

	un := srv.Unrecognised()
	require.Len(t, un, 2)
	assert.Equal(t, "Stop-Service -Name 'S'", un[0].Text)
	assert.NotEmpty(t, un[0].Reason)
	assert.Equal(t, "net stop S", un[1].Command)
	s, _ := svcs.Get("fe01", "s")
	assert.Equal(t, drivers.Running, s.Run, "a refused command must not run")
	assert.Zero(t, srv.OpenShells())
}

func TestFaults(t *testing.T) {
	srv := winrmtest.NewServer(winrmtest.Config{Username: "u", Password: "p"})
	defer srv.Close()
	c := newClient(t, srv, "u", "p")
	ctx := context.Background()

	srv.Inject(fault.Fault{Op: winrmtest.ActionCommand, Err: winrmtest.CommandFailed{Stderr: "boom", ExitCode: 7}, Times: 1})
	_, stderr, code, err := c.RunPSWithContext(ctx, "anything")
	require.NoError(t, err)
	assert.Equal(t, "boom", stderr)
	assert.Equal(t, 7, code)

	// Times: 1 is used up; the next command runs normally (and is refused
	// as unrecognised).
	_, stderr, code, err = c.RunPSWithContext(ctx, "anything")
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "unrecognised")

	srv.Inject(fault.Fault{Op: winrmtest.ActionCreate, Status: http.StatusServiceUnavailable})
	_, _, _, err = c.RunPSWithContext(ctx, "anything")
	require.Error(t, err, "the encrypting client sees an empty unencrypted answer")
	srv.ClearFaults()

	srv.Inject(fault.Fault{Latency: 100 * time.Millisecond, Times: 1})
	start := time.Now()
	_, _, _, err = c.RunPSWithContext(ctx, "anything")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
}

func TestMapServices(t *testing.T) {
	var m winrmtest.MapServices
	m.Add("h", winrmtest.Service{Name: "a", DisplayName: "Alpha", Run: drivers.Running, Startup: drivers.Automatic})
	m.Add("h", winrmtest.Service{Name: "b", DisplayName: "Beta", Run: drivers.Stopped, Startup: drivers.Manual})
	m.Add("other", winrmtest.Service{Name: "a", DisplayName: "Alpha", Run: drivers.Running, Startup: drivers.Automatic})

	got, err := m.Find("h", "ALPHA")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "a", got[0].Name)

	require.NoError(t, m.Stop("h", "a"))
	s, _ := m.Get("h", "a")
	assert.Equal(t, drivers.Stopped, s.Run)
	assert.Equal(t, drivers.Disabled, s.Startup)
	o, _ := m.Get("other", "a")
	assert.Equal(t, drivers.Running, o.Run, "hosts are separate")

	require.Error(t, m.Restore("h", "a", drivers.ServiceState{Run: drivers.Running, Startup: drivers.Disabled}))
	require.NoError(t, m.Restore("h", "a", drivers.ServiceState{Run: drivers.Running, Startup: drivers.Manual}))
	require.Error(t, m.Stop("h", "missing"))

	m.SetError("h", "b", winrmtest.ErrAccessDenied)
	_, err = m.Find("h", "Beta")
	require.ErrorIs(t, err, winrmtest.ErrAccessDenied)
	m.SetError("h", "b", nil)
	_, err = m.Find("h", "Beta")
	require.NoError(t, err)
}

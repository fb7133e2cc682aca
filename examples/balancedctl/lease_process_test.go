package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/spec"
)

// leaseEnv, when set in a child's environment, is "address|CA file": the
// child then holds its farm lease through the real WinRM driver on the
// WS-Management fake at that address, which the test process serves, so
// that two processes with two host locks (two "hosts") share one farm
// lease file, as two operators' laptops share the Deployment Controller.
const leaseEnv = "BALANCEDCTL_TEST_LEASE"

const (
	leaseUser     = `FARM\svc-deploy`
	leasePassword = "lease-test-password"
)

// leasedServices is the simulator's service controller whose farm lease is
// held by a WinRM driver on one fake server instead.
type leasedServices struct {
	drivers.ServiceController
	lease *winrm.Driver
	addr  string
}

func (l leasedServices) at(t drivers.Target) drivers.Target {
	t.Address = l.addr
	return t
}

func (l leasedServices) AcquireLease(ctx context.Context, t drivers.Target, req drivers.LeaseRequest) (drivers.Lease, error) {
	return l.lease.AcquireLease(ctx, l.at(t), req)
}

func (l leasedServices) RenewLease(ctx context.Context, t drivers.Target, farm, runID string, ttl time.Duration) (drivers.Lease, error) {
	return l.lease.RenewLease(ctx, l.at(t), farm, runID, ttl)
}

func (l leasedServices) ReleaseLease(ctx context.Context, t drivers.Target, farm, runID string) error {
	return l.lease.ReleaseLease(ctx, l.at(t), farm, runID)
}

func (l leasedServices) ReadLease(ctx context.Context, t drivers.Target, farm string) (drivers.Lease, bool, error) {
	return l.lease.ReadLease(ctx, l.at(t), farm)
}

// childDrivers are the child's drivers: the simulated farm, with the farm
// lease on the test's WinRM fake when leaseEnv is set.
func childDrivers(sim *simulate.Sim) (spec.Drivers, error) {
	d := anonDrivers(sim)
	v := os.Getenv(leaseEnv)
	if v == "" {
		return d, nil
	}
	addr, caFile, ok := strings.Cut(v, "|")
	if !ok {
		return d, fmt.Errorf("%s=%q: want address|CA file", leaseEnv, v)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return d, err
	}
	w, err := winrm.New(winrm.Config{Username: leaseUser, Password: drivers.NewSecret(leasePassword), CACert: ca, Timeout: time.Minute})
	if err != nil {
		return d, err
	}
	d.Services = leasedServices{ServiceController: d.Services, lease: w, addr: addr}
	return d, nil
}

// leaseChild is a child process over the shared farm lease.
func leaseChild(t *testing.T, env string, args ...string) *exec.Cmd {
	t.Helper()
	// The bound only turns a run that should have been refused (and would
	// then stall in step 2 for an hour) into a failure instead of a hang.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	t.Setenv(leaseEnv, env)
	return cmd
}

// TestFarmLeaseAcrossProcesses runs two balancedctl processes as two hosts
// would: two copies of one spec, two journals, two host-lock directories
// (so the host lock cannot see the other run), one farm lease file on the
// Deployment Controller's WS-Management endpoint. The second is refused by
// the lease, naming the first; once the first halts (SIGTERM) the lease is
// released and a run from the second copy takes it.
func TestFarmLeaseAcrossProcesses(t *testing.T) {
	srv := winrmtest.NewServer(winrmtest.Config{Host: "fe01", Username: leaseUser, Password: leasePassword,
		TLS: true, Files: &winrmtest.MapFiles{}})
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, srv.CACertPEM(), 0o600))
	env := srv.Addr() + "|" + caFile

	first, _ := specCopy(t, t.TempDir())
	second, journal2 := specCopy(t, t.TempDir())
	a := startCmd(t, leaseChild(t, env), "run", first, "--yes")

	out, err := runChild(t, leaseChild(t, env), "run", second, "--yes")
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out)
	assert.Equal(t, exitLocked, ee.ExitCode(), out)
	t.Logf("the second run said:\n%s", out)
	assert.Contains(t, out, "farm lease", out)
	assert.Contains(t, out, fmt.Sprintf(" pid %d", a.cmd.Process.Pid), "the holder is named")
	assert.Contains(t, out, "balancedctl unlock --force ", "the refusal names the way past it")
	assert.Contains(t, out, "child: simulated actions: 0", "the refused run touched nothing")
	assert.NoFileExists(t, journal2, "the refused run wrote nothing")
	assert.Positive(t, leaseScripts(srv), "the lease went through WinRM")

	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	rest, code := a.wait(t)
	assert.Equal(t, exitFailed, code, rest)
	assert.Contains(t, rest, "run halted")

	// The halted run released the lease: the second copy now runs (it
	// reaches step 2, where its simulated StopService stalls).
	b := startCmd(t, leaseChild(t, env), "run", second, "--yes")
	require.NoError(t, b.cmd.Process.Signal(syscall.SIGTERM))
	_, code = b.wait(t)
	assert.Equal(t, exitFailed, code)
}

// runChild runs a child to its end and returns its combined output.
func runChild(t *testing.T, cmd *exec.Cmd, args ...string) (string, error) {
	t.Helper()
	cmd.Env = append(os.Environ(), "BALANCEDCTL_TEST_CHILD="+strings.Join(args, " "))
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// leaseScripts counts the lease scripts the fake ran.
func leaseScripts(srv *winrmtest.Server) int {
	n := 0
	for _, s := range srv.Scripts() {
		if s.Recognised && strings.Contains(strings.ToLower(string(s.Op)), "lease") {
			n++
		}
	}
	return n
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/lock"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/spec"
	"github.com/balanced-deploy/balanced/steps"
)

// setSecrets sets the environment variables the example specs read.
func setSecrets(t *testing.T) {
	t.Setenv("WINRM_PASSWORD", "test-winrm-password")
	t.Setenv("LT_TOKEN", "test-lifetime-token")
	t.Setenv("F5_PASSWORD", "test-f5-password")
	t.Setenv("DEPLOY_WEBHOOK_URL", "https://hooks.example/services/test-webhook-token")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestPlanExampleSpecs prints the runbook of every example spec with the
// real drivers (built, never called) and finds every server of the spec in it.
func TestPlanExampleSpecs(t *testing.T) {
	setSecrets(t)
	files, err := filepath.Glob("../specs/*.yaml")
	require.NoError(t, err)
	require.Len(t, files, 4)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := spec.Load(f)
			require.NoError(t, err)
			for _, flags := range [][]string{nil, {"-markdown"}} {
				var out, errOut bytes.Buffer
				code := run(append(append([]string{"plan"}, flags...), f), &out, &errOut)
				require.Equal(t, exitOK, code, errOut.String())
				assert.Contains(t, out.String(), "release "+s.Release.Version)
				for _, sv := range s.Servers {
					assert.Contains(t, out.String(), sv.Name)
				}
				for _, id := range steps.IDs() {
					assert.Contains(t, out.String(), id)
				}
				for _, secret := range []string{"test-winrm-password", "test-lifetime-token", "test-f5-password", "test-webhook-token"} {
					assert.NotContains(t, out.String()+errOut.String(), secret)
				}
			}
		})
	}
}

func TestHelpAndUsage(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string // "" when the output goes to stderr
		stderr string
	}{
		{[]string{"help"}, exitOK, "Commands:", ""},
		{[]string{"--help"}, exitOK, "Exit codes:", ""},
		{[]string{"-h"}, exitOK, "4  another run holds the farm's lock", ""},
		{[]string{"help", "resume"}, exitOK, "Usage: balancedctl resume <spec.yaml> [flags]", ""},
		{[]string{"plan", "--help"}, exitOK, "-markdown", ""},
		{[]string{"run", "-h"}, exitOK, "-json", ""},
		{[]string{"preflight", "-help"}, exitOK, "Usage: balancedctl preflight", ""},
		{[]string{"status", "--help"}, exitOK, "Usage: balancedctl status <journal|spec.yaml> [flags]", ""},
		{nil, exitUsage, "", "Commands:"},
		{[]string{"deploy", "x.yaml"}, exitUsage, "", `unknown command "deploy"`},
		{[]string{"help", "deploy"}, exitUsage, "", `unknown command "deploy"`},
		{[]string{"plan"}, exitUsage, "", "want exactly one argument, <spec.yaml>"},
		{[]string{"status", "a", "b"}, exitUsage, "", "want exactly one argument, <journal|spec.yaml>"},
		{[]string{"run", "-nope", "x.yaml"}, exitUsage, "", "flag provided but not defined: -nope"},
		{[]string{"plan", "does-not-exist.yaml"}, exitUsage, "", "does-not-exist.yaml"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			assert.Equal(t, tt.code, run(tt.args, &out, &errOut))
			if tt.stdout != "" {
				assert.Contains(t, out.String(), tt.stdout)
			}
			if tt.stderr != "" {
				assert.Contains(t, errOut.String(), tt.stderr)
			}
		})
	}
}

// TestSpecErrorExitCode checks that a bad spec exits 2 with file and line.
func TestSpecErrorExitCode(t *testing.T) {
	setSecrets(t)
	path := filepath.Join(t.TempDir(), "farm.yaml")
	doc := simSpec(t.TempDir(), "")
	line := strings.Count(doc, "\n") + 1 // the line appended below
	require.NoError(t, os.WriteFile(path, []byte(doc+"drain_timout: 5m\n"), 0o600))
	for _, cmd := range []string{"plan", "preflight", "run", "resume"} {
		var out, errOut bytes.Buffer
		assert.Equal(t, exitUsage, run([]string{cmd, path}, &out, &errOut), cmd)
		assert.Contains(t, errOut.String(), fmt.Sprintf("%s:%d:1: unknown field \"drain_timout\"", path, line), cmd)
	}
}

// simSpec is a spec of the simulated farm's four servers, in the default
// zone, with its journal in dir.
func simSpec(dir, extra string) string {
	return `release:
  version: v2
servers:
  - {name: fe01, controller: true}
  - {name: fe02}
  - {name: fe03}
  - {name: fe04}
load_balancer:
  kind: haproxy
  address: /run/haproxy/admin.sock
  backend: be_app
services:
  username: deploy
  password: {env: WINRM_PASSWORD}
platform:
  url: https://lifetime.example/lifetimeapi/rest/v2
  token: {env: LT_TOKEN}
  source_environment: QA
  target_environment: Production
timeouts:
  poll_interval: 1s
  deploy_poll_interval: 5s
  progress_interval: 1m
  drain: 2m
  install: 10m
  publish: 10m
retry: {max_attempts: 3}
journal: ` + filepath.Join(dir, "deploy.journal") + `
` + extra
}

// simFarm is a simulated farm of four servers and a cli whose drivers are
// the simulator's.
type simFarm struct {
	sim *simulate.Sim
	cli *cli
	out *bytes.Buffer
	err *bytes.Buffer
}

func newSimFarm(t *testing.T) *simFarm {
	sim, err := simulate.New(simulate.Config{Seed: 7, Traffic: simulate.Traffic{Rate: 5}})
	require.NoError(t, err)
	sf := &simFarm{sim: sim, out: &bytes.Buffer{}, err: &bytes.Buffer{}}
	sf.cli = &cli{
		stdout: sf.out, stderr: sf.err,
		drivers: spec.Drivers{
			LoadBalancer: func(zone string) drivers.LoadBalancer { return sim.LoadBalancer(zone) },
			Services:     sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
		},
		lookupEnv:       func(name string) (string, bool) { return "secret-of-" + name, true },
		stdinIsTerminal: func() bool { return false },
	}
	return sf
}

// do runs one command and returns its exit code and output, clearing the
// buffers.
func (sf *simFarm) do(t *testing.T, args ...string) (code int, stdout, stderr string) {
	code = sf.cli.main(t.Context(), args)
	stdout, stderr = sf.out.String(), sf.err.String()
	sf.out.Reset()
	sf.err.Reset()
	assertNoStutter(t, stdout)
	assertNoStutter(t, stderr)
	return code, stdout, stderr
}

// assertNoStutter fails when a line of out says the same words twice in a
// row, as an error wrapped with its own message does ("nothing to resume:
// nothing to resume"): the ": "-separated parts of each line are compared,
// one to three at a time.
func assertNoStutter(t *testing.T, out string) {
	t.Helper()
	for line := range strings.Lines(out) {
		if s := stutter(line); s != "" {
			assert.Failf(t, "a line repeats itself", "%q is said twice in a row in %q", s, strings.TrimSpace(line))
		}
	}
}

// stutter returns the words a line says twice in a row, or "". Parts are
// compared without articles and case, and a one-word part between them (a
// package's "winrm: ") does not separate them: "read the farm lease on
// fe01: winrm: read farm lease on fe01" stutters.
func stutter(line string) string {
	parts := strings.Split(strings.TrimSpace(line), ": ")
	norm := make([]string, len(parts))
	for i, p := range parts {
		var words []string
		for _, w := range strings.Fields(strings.ToLower(p)) {
			if w != "the" && w != "a" && w != "an" {
				words = append(words, w)
			}
		}
		norm[i] = strings.Join(words, " ")
	}
	same := func(i, j, k int) bool {
		for n := range k {
			if norm[i+n] == "" || norm[i+n] != norm[j+n] {
				return false
			}
		}
		return true
	}
	for k := 1; k <= 3; k++ {
		for i := 0; i+2*k <= len(parts); i++ {
			if same(i, i+k, k) {
				return strings.Join(parts[i:i+k], ": ")
			}
			if j := i + k; j+1+k <= len(parts) && !strings.Contains(norm[j], " ") && strings.Contains(norm[i], " ") && same(i, j+1, k) {
				return strings.Join(parts[i:i+k], ": ")
			}
		}
	}
	return ""
}

func TestReadLeaseErrorSaysItOnce(t *testing.T) {
	named := errors.New("winrm: read farm lease on fe01: access is denied")
	assert.Equal(t, named.Error(), readLeaseError("fe01", named).Error())
	assert.Empty(t, stutter("farm lease:  unreadable: "+readLeaseError("fe01", named).Error()))
	assert.Equal(t, "read the farm lease on fe01: access is denied", readLeaseError("fe01", errors.New("access is denied")).Error())
}

func TestStutter(t *testing.T) {
	for line, want := range map[string]string{
		"nothing to resume: nothing to resume":                                "nothing to resume",
		"error: read x: write y: read x: write y\n":                           "read x: write y",
		"run halted at step s: step s: server fe01: down":                     "",
		"status: succeeded":                                                   "",
		"host lock: its last holder: x: x: done":                              "x",
		"read the farm lease on fe01: winrm: read farm lease on fe01: denied": "read the farm lease on fe01",
		"winrm: fe01: winrm: denied":                                          "",
	} {
		assert.Equal(t, want, stutter(line), line)
	}
}

func writeSpec(t *testing.T, dir, extra string) string {
	path := filepath.Join(dir, "farm.yaml")
	require.NoError(t, os.WriteFile(path, []byte(simSpec(dir, extra)), 0o600))
	return path
}

// TestRunHaltStatusResume runs a deployment that halts, reads its journal
// with status, resumes it, and reads the journal again.
func TestRunHaltStatusResume(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "")
	journal := filepath.Join(dir, "deploy.journal")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		// fe01 is an Updating server: its only stop-service call is
		// stop-schedulers' (drain-updating and block-loaded run beside it
		// and are done when the run halts).
		require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpStopService, Target: "fe01",
			Err: fmt.Errorf("access is denied: %w", drivers.ErrPermissionDenied), Times: 1}))
		require.NoError(t, sf.sim.Start(t.Context()))

		code, out, errOut := sf.do(t, "run", specPath, "--yes")
		assert.Equal(t, exitFailed, code)
		assert.Contains(t, errOut, "step 2/12 stop-schedulers", "progress on stderr")
		assert.Contains(t, errOut, "run halted")
		assert.Contains(t, out, "stop-schedulers", "the report on stdout")
		assert.Empty(t, sf.sim.CheckSafeState())

		code, out, _ = sf.do(t, "status", journal)
		assert.Equal(t, exitFailed, code)
		assert.Contains(t, out, "outcome:     halted")
		assert.Contains(t, out, "steps done:  3 of 12: preflight, drain-updating, block-loaded\n")
		assert.Contains(t, out, "resume from: stop-schedulers")
		assert.Contains(t, out, "last error:")
		assert.Contains(t, out, "fe01")
		assert.Contains(t, out, "access is denied")

		code, _, errOut = sf.do(t, "run", specPath, "--yes")
		assert.Equal(t, exitUsage, code, "a new run over a halted one is refused")
		assert.Contains(t, errOut, "halted at stop-schedulers: resume it with 'balancedctl resume "+specPath+"'")

		time.Sleep(time.Minute) // the operator fixes the rights
		code, out, errOut = sf.do(t, "resume", specPath)
		assert.Equal(t, exitOK, code, errOut)
		assert.Contains(t, out, "succeeded")

		code, out, _ = sf.do(t, "status", journal)
		assert.Equal(t, exitOK, code)
		assert.Contains(t, out, "outcome:     succeeded")
		assert.Contains(t, out, "steps done:  12 of 12")
		assert.Contains(t, out, "(a resumed run)")
		assert.NotContains(t, out, "resume from")

		code, out, _ = sf.do(t, "resume", specPath)
		assert.Equal(t, exitOK, code)
		assert.Contains(t, out, "nothing to resume")

		time.Sleep(10 * time.Second)
		sf.sim.Stop()
		assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v2"}))
		r := sf.sim.Report()
		assert.Zero(t, r.Failed, r.String())
		assert.Zero(t, r.TotalViolations(), r.String())
	})
}

// TestRollbackExitCode runs a deployment that fails with on_failure: rollback.
func TestRollbackExitCode(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "on_failure: rollback\n")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpStopService, Target: "fe04",
			Err: fmt.Errorf("access is denied: %w", drivers.ErrPermissionDenied), After: 1, Times: 1}))
		require.NoError(t, sf.sim.Start(t.Context()))
		code, _, errOut := sf.do(t, "run", specPath, "--yes")
		assert.Equal(t, exitRolledBack, code, errOut)
		code, out, _ := sf.do(t, "status", filepath.Join(dir, "deploy.journal"))
		assert.Equal(t, exitRolledBack, code)
		assert.Contains(t, out, "outcome:     rolled back")
		assert.NotContains(t, out, "resume from")
		time.Sleep(10 * time.Second)
		sf.sim.Stop()
		assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v1"}), "back on the previous release")
	})
}

// TestLockedExitCode runs while another run holds the farm's host lock
// (taken here with the holder of another host's run written in it).
func TestLockedExitCode(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "lock_dir: "+filepath.Join(dir, "locks")+"\n")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		sp, err := spec.Load(specPath, spec.WithLookupEnv(sf.cli.lookupEnv))
		require.NoError(t, err)
		f, _, err := sp.BuildWith(t.Context(), sf.cli.drivers)
		require.NoError(t, err)
		release, err := lock.File{Dir: sp.LockDir}.Lock(t.Context(), lock.Holder{Farm: f.Identity(), Host: "deploy-host-2", PID: 4242,
			User: "alice", RunID: "20261127T030000Z-0badf00d", Since: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)})
		require.NoError(t, err)
		defer func() { assert.NoError(t, release()) }()
		code, _, errOut := sf.do(t, "run", specPath, "--yes")
		assert.Equal(t, exitLocked, code)
		assert.Contains(t, errOut, "run 20261127T030000Z-0badf00d of alice on host deploy-host-2, process 4242, since 2026-11-27T03:00:00Z")
		assert.Contains(t, errOut, filepath.Join(dir, "locks", f.Identity()+".lock"))
		assert.Empty(t, sf.sim.Actions(), "nothing was touched")
	})
}

// TestPreflight runs the preflight step only: no change, no journal.
func TestPreflight(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		code, out, errOut := sf.do(t, "preflight", specPath)
		assert.Equal(t, exitOK, code, errOut)
		assert.Contains(t, out, "preflight")
		assert.NotContains(t, out, "stop-schedulers")
		for _, a := range sf.sim.Actions() {
			assert.Contains(t, []simulate.Op{simulate.OpStatus, simulate.OpServiceState, simulate.OpProbe, simulate.OpDeployedRelease, simulate.OpDeploymentIdle}, a.Op, "preflight only reads")
		}
		assert.NotEmpty(t, sf.sim.Actions())

		require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpStatus, Err: fmt.Errorf("socket: %w", drivers.ErrPermissionDenied)}))
		code, _, errOut = sf.do(t, "preflight", "-json", specPath)
		assert.Equal(t, exitFailed, code)
		assert.Contains(t, errOut, `"kind":"step-finished"`, "JSON lines progress")
	})
	assert.NoFileExists(t, filepath.Join(dir, "deploy.journal"), "a preflight is not recorded as a run")
}

func TestResumeWithoutJournal(t *testing.T) {
	dir := t.TempDir()
	sf := newSimFarm(t)
	code, _, errOut := sf.do(t, "resume", writeSpec(t, dir, ""))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "no run was recorded, so there is nothing to resume")

	noJournal := filepath.Join(dir, "nojournal.yaml")
	doc := strings.Replace(simSpec(dir, ""), "journal: "+filepath.Join(dir, "deploy.journal")+"\n", "", 1)
	require.NoError(t, os.WriteFile(noJournal, []byte(doc), 0o600))
	code, _, errOut = sf.do(t, "resume", noJournal)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "names no journal")
}

func TestStatusBadJournal(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	assert.Equal(t, exitUsage, run([]string{"status", filepath.Join(dir, "missing.journal")}, &out, &errOut))
	assert.Contains(t, errOut.String(), "missing.journal")

	bad := filepath.Join(dir, "bad.journal")
	require.NoError(t, os.WriteFile(bad, []byte("not json\n{}\n"), 0o600))
	errOut.Reset()
	assert.Equal(t, exitUsage, run([]string{"status", bad}, &out, &errOut))
	assert.Contains(t, errOut.String(), "line 1")
}

func TestExitCode(t *testing.T) {
	assert.Equal(t, exitOK, exitCode(nil))
	assert.Equal(t, exitFailed, exitCode(fmt.Errorf("x: %w", farm.ErrHalted)))
	assert.Equal(t, exitRolledBack, exitCode(fmt.Errorf("x: %w", farm.ErrRolledBack)))
	assert.Equal(t, exitLocked, exitCode(fmt.Errorf("x: %w", lock.ErrLocked)))
	assert.Equal(t, exitFailed, exitCode(fmt.Errorf("something else")))
}

// deniedLease is the simulated services whose farm lease cannot be read,
// with an error that names the server as a driver's does.
type deniedLease struct{ *simulate.Services }

func (d deniedLease) ReadLease(_ context.Context, t drivers.Target, _ string) (drivers.Lease, bool, error) {
	return drivers.Lease{}, false, fmt.Errorf("simulate: read farm lease on %s: access is denied: %w", t.Name, drivers.ErrPermissionDenied)
}

// TestUnreadableLeaseSaidOnce: run, status and unlock say that the lease
// on the controller could not be read, once per line (assertNoStutter).
func TestUnreadableLeaseSaidOnce(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		sf.cli.drivers.Services = deniedLease{sf.sim.Services()}
		for _, args := range [][]string{{"run", specPath, "--yes"}, {"status", specPath}, {"unlock", specPath}} {
			_, out, errOut := sf.do(t, args...)
			assert.Contains(t, out+errOut, "read farm lease on fe01: access is denied", args)
		}
	})
}

// TestSpecKeyHints: a value a driver refuses is named by the spec key the
// user wrote, beside the driver's Go field.
func TestSpecKeyHints(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600))
	doc := strings.Replace(simSpec(dir, ""), "  username: deploy\n", "  username: deploy\n  lease_dir: relative\n", 1)
	doc = strings.Replace(doc, "  target_environment: Production\n", "  target_environment: Production\n  ca_cert: "+notPEM+"\n", 1)
	specPath := filepath.Join(dir, "farm.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(doc), 0o600))
	sf := newSimFarm(t)
	code, _, errOut := sf.do(t, "preflight", specPath)
	assert.Equal(t, exitUsage, code, errOut)
	assert.Contains(t, errOut, `services.lease_dir (Config.LeaseDir) "relative" does not start with a drive letter`)
	assert.Contains(t, errOut, "platform.ca_cert (Config.CACert) holds no PEM certificate")
	assert.NotRegexp(t, `(^|[^.(])Config\.`, errOut, "every Go field is named after its spec key")
}

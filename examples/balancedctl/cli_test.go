package main

import (
	"bytes"
	"encoding/json"
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
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
)

// TestPlanNeedsNoSecret prints every example spec's runbook with no secret
// in the environment; run still needs them and names the variable.
func TestPlanNeedsNoSecret(t *testing.T) {
	for _, name := range []string{"WINRM_PASSWORD", "LT_TOKEN", "F5_PASSWORD", "DEPLOY_WEBHOOK_URL"} {
		t.Setenv(name, "")
		require.NoError(t, os.Unsetenv(name))
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	files, err := filepath.Glob("../specs/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		var out, errOut bytes.Buffer
		require.Equal(t, exitOK, run([]string{"plan", f}, &out, &errOut), "%s: %s", f, errOut.String())
		assert.Contains(t, out.String(), "preflight")
		assert.NotContains(t, out.String(), "unresolved-", "the placeholder never prints")
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, exitUsage, run([]string{"run", "--yes", "../specs/haproxy.yaml"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "environment variable WINRM_PASSWORD is not set")
}

// TestFlagsAfterArguments checks that flags may follow the argument.
func TestFlagsAfterArguments(t *testing.T) {
	setSecrets(t)
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"plan", "../specs/haproxy.yaml", "--markdown"}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "| ", "markdown table")
	out.Reset()
	require.Equal(t, exitOK, run([]string{"plan", "../specs/haproxy.yaml", "-release", "2026.12.01.1"}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "release 2026.12.01.1")
	assert.NotContains(t, out.String(), "release 2026.11.27.1")
	assert.Contains(t, out.String(), "application Customer Portal at https://10.20.1.12/ path /CustomerPortal/rest/Health/Version: want healthy, version 2026.12.01.1", "each application's probe follows")
	errOut.Reset()
	assert.Equal(t, exitUsage, run([]string{"plan", "../specs/f5.yaml", "-release", "2026.49"}, &out, &errOut))
	assert.Contains(t, errOut.String(), `application "Branch Portal"'s probe expects version "2026.48.2"`)
	errOut.Reset()
	assert.Equal(t, exitUsage, run([]string{"plan", "../specs/haproxy.yaml", "-release", "v 2"}, &out, &errOut))
	assert.Contains(t, errOut.String(), `-release: version "v 2": want printable ASCII without spaces`)
	errOut.Reset()
	assert.Equal(t, exitUsage, run([]string{"plan", "a.yaml", "b.yaml"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "want exactly one argument, <spec.yaml> (got 2)")
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errOut bytes.Buffer
		require.Equal(t, exitOK, run(args, &out, &errOut))
		assert.True(t, strings.HasPrefix(out.String(), "balancedctl "), out.String())
		assert.Contains(t, out.String(), "github.com/balanced-deploy/balanced")
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, exitUsage, run([]string{"version", "x"}, &out, &errOut))
}

// TestRunAsksForConfirmation: without -yes, run refuses when standard
// input is not a terminal, stops at any answer but yes, and shows the plan
// before asking.
func TestRunAsksForConfirmation(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		code, _, errOut := sf.do(t, "run", specPath)
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, errOut, "standard input is not a terminal, so the deployment cannot be confirmed: pass -yes")
		assert.Empty(t, sf.sim.Actions(), "nothing was touched")

		sf.cli.stdinIsTerminal = func() bool { return true }
		sf.cli.stdin = strings.NewReader("no\n")
		code, out, errOut := sf.do(t, "run", specPath)
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, out, "switch-traffic", "the plan is shown before the question")
		assert.Contains(t, errOut, "Deploy release v2 to the 4 servers above? Type yes to run:")
		assert.Contains(t, errOut, `not confirmed (answer "no"); nothing was run`)
		assert.Empty(t, sf.sim.Actions(), "nothing was touched")

		require.NoError(t, sf.sim.Start(t.Context()))
		sf.cli.stdin = strings.NewReader("yes\n")
		code, out, errOut = sf.do(t, "run", specPath, "-release", "v3")
		assert.Equal(t, exitOK, code, errOut)
		assert.Contains(t, out, "outcome: succeeded")
		time.Sleep(10 * time.Second)
		sf.sim.Stop()
		assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v3"}), "-release deployed v3")
	})
}

// TestPreflightWithRollbackPolicy: a failed read-only preflight halts (exit
// 1), whatever on_failure says; it is never reported as rolled back.
func TestPreflightWithRollbackPolicy(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "on_failure: rollback\n")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpServiceState,
			Err: fmt.Errorf("dial tcp 10.0.0.1:5986: connect: connection refused: %w", drivers.ErrPermissionDenied)}))
		code, out, errOut := sf.do(t, "preflight", specPath)
		assert.Equal(t, exitFailed, code, errOut)
		assert.NotContains(t, out+errOut, "rolled")
		// The same error on four servers is printed once in full by the
		// progress view and once, grouped, by the report.
		assert.Equal(t, 1, strings.Count(errOut, "connection refused"), errOut)
		assert.Contains(t, out, "on 4 servers (fe01, fe02, fe03, fe04)", out)
		assert.Equal(t, 1, strings.Count(out, "connection refused"), out)
		assert.NotContains(t, out+errOut, "resume", "a preflight has nothing to resume")
	})
}

// TestMissingJournalDirectory: a journal in a directory that does not
// exist is refused before anything runs, without resume advice.
func TestMissingJournalDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "farm.yaml")
	doc := strings.Replace(simSpec(dir, ""), "journal: "+filepath.Join(dir, "deploy.journal"), "journal: "+filepath.Join(dir, "missing", "deploy.journal"), 1)
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		for _, cmd := range []string{"run", "resume"} {
			code, _, errOut := sf.do(t, cmd, path, "--yes")
			if cmd == "resume" {
				code, _, errOut = sf.do(t, cmd, path)
			}
			assert.Equal(t, exitUsage, code, cmd)
			assert.Contains(t, errOut, filepath.Join(dir, "missing")+`" does not exist`, cmd)
			assert.NotContains(t, errOut, "resume it", cmd)
			assert.Empty(t, sf.sim.Actions(), "nothing was touched")
		}
	})
}

// TestJSONOutput checks the final report and the status as JSON objects
// with a schema version, and that nothing to resume says it once.
func TestJSONOutput(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "")
	journal := filepath.Join(dir, "deploy.journal")
	events := filepath.Join(dir, "events.jsonl")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		// fe01 is an Updating server: its only stop-service call is
		// stop-schedulers' (block-loaded, beside it, stops the Loaded ones).
		require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpStopService, Target: "fe01",
			Err: fmt.Errorf("access is denied: %w", drivers.ErrPermissionDenied), Times: 1}))
		require.NoError(t, sf.sim.Start(t.Context()))
		code, out, errOut := sf.do(t, "run", specPath, "-json", "-yes", "-events", events)
		assert.Equal(t, exitFailed, code, errOut)
		var res map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		assert.EqualValues(t, 1, res["schema_version"])
		assert.Equal(t, "halted", res["outcome"])
		assert.EqualValues(t, exitFailed, res["exit_code"])
		assert.Equal(t, "stop-schedulers", res["resume_from"])
		assert.Contains(t, res["error"], "access is denied")
		assert.NotContains(t, res["error"], "\n")
		require.NotEmpty(t, res["errors"])
		assert.Contains(t, res, "report")
		assert.Contains(t, errOut, `"kind":"run-finished"`, "progress as JSON lines")
		b, err := os.ReadFile(events)
		require.NoError(t, err)
		assert.Equal(t, strings.Count(errOut, "\n"), strings.Count(string(b), "\n"), "the events file holds every event")
		assert.Contains(t, string(b), `"kind":"members-seen"`, "the load balancer's members as the run saw them")

		svg := filepath.Join(dir, "timeline.svg")
		code, _, errOut = sf.do(t, "timeline", events, "-o", svg)
		require.Equal(t, exitOK, code, errOut)
		doc, err := os.ReadFile(svg)
		require.NoError(t, err)
		assert.Contains(t, string(doc), `data-zone="default"`)
		assert.Contains(t, string(doc), "run halted at stop-schedulers")
		code, _, errOut = sf.do(t, "timeline", filepath.Join(dir, "nope.jsonl"))
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, errOut, "nope.jsonl")

		code, out, _ = sf.do(t, "status", journal, "-json")
		assert.Equal(t, exitFailed, code)
		var st map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &st), out)
		assert.EqualValues(t, 1, st["schema_version"])
		assert.Equal(t, "halted", st["outcome"])
		assert.Equal(t, "stop-schedulers", st["resume_from"])
		assert.EqualValues(t, 12, st["steps_total"])

		time.Sleep(time.Minute)
		code, _, errOut = sf.do(t, "resume", specPath)
		require.Equal(t, exitOK, code, errOut)
		code, out, _ = sf.do(t, "resume", specPath)
		assert.Equal(t, exitOK, code)
		assert.Equal(t, 1, strings.Count(out, "nothing to resume"), out)
		code, out, _ = sf.do(t, "resume", specPath, "-json")
		assert.Equal(t, exitOK, code)
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		assert.Equal(t, "nothing-to-resume", res["outcome"])
		time.Sleep(10 * time.Second)
		sf.sim.Stop()
	})
}

// TestPromptApproval: an approval that asks on the terminal is refused
// before anything runs without a terminal, and asked with one.
func TestPromptApproval(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "approvals:\n  - before: switch-traffic\n    message: Switch now?\n    prompt: true\n")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		code, _, errOut := sf.do(t, "run", specPath, "--yes")
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, errOut, `an approval asks on the terminal (prompt: true, "Switch now?") and standard input is not a terminal`)
		assert.Empty(t, sf.sim.Actions(), "nothing was touched")

		require.NoError(t, sf.sim.Start(t.Context()))
		sf.cli.stdinIsTerminal = func() bool { return true }
		sf.cli.stdin = strings.NewReader("yes\n")
		code, out, errOut := sf.do(t, "run", specPath, "--yes")
		assert.Equal(t, exitOK, code, errOut)
		assert.Contains(t, errOut, "approval approve-before-switch-traffic: Switch now? Type yes to approve:")
		assert.Contains(t, out, "approve-before-switch-traffic")
		time.Sleep(10 * time.Second)
		sf.sim.Stop()
	})
}

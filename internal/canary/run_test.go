package canary

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// TestCanarySecretsNeverLeak runs a whole balanced deployment of a simulated
// farm in which every driver is the real client on the wire protocol of its
// fake (WinRM, LifeTime, F5 iControl REST, ELBv2 through the AWS SDK), each
// fake backed by the simulator, with transient faults and refused
// credentials along the way, and asserts that no canary secret appears in
// anything the run produced.
func TestCanarySecretsNeverLeak(t *testing.T) {
	isolateAWS(t)
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		fx, closeFx := newFixture(ctx, t)
		defer closeFx()
		out, log := fx.out, fx.log

		// Transient faults from the simulated farm, and each fake refusing
		// the credentials once, at a step the observer picks.
		transient := func(what string) error {
			return drivers.Classify(drivers.ErrUnavailable, errors.New("injected: "+what))
		}
		require.NoError(t, fx.sim.Inject(fault.Fault{Op: simulate.OpStopService, Err: transient("service control manager busy"), Times: 1}))
		require.NoError(t, fx.sim.Inject(fault.Fault{Op: simulate.OpStatus, Err: transient("load balancer busy"), After: 4, Times: 2}))
		loadedWinRM := fx.winrmFakes[fx.farm.Groups(farm.Loaded)[0].Servers[0].Name]
		var once sync.Map
		inject := func(step string) {
			if _, done := once.LoadOrStore(step, true); done {
				return
			}
			switch step {
			case steps.DrainUpdating:
				for _, f := range fx.f5Fakes {
					f.RevokeTokens() // 401, then the driver logs in again
					// A device echoing the password in its error text.
					f.Inject(fault.Fault{Op: http.MethodGet, Target: "members", Status: http.StatusServiceUnavailable,
						Message: "device busy (login " + f5User + "/" + f5Password + ")", Times: 1})
				}
			case steps.Publish:
				fx.ltFake.Inject(fault.Fault{Op: http.MethodGet, Target: "/environments/", Status: http.StatusUnauthorized, Times: 1})
			case steps.SwitchTraffic:
				for _, f := range fx.albFakes {
					f.Inject(fault.Fault{Op: "DescribeTargetHealth", Code: "Throttling", Status: 400, Times: 1})
					f.Inject(fault.Fault{Op: "DescribeTargetHealth", Code: "SignatureDoesNotMatch", Status: http.StatusForbidden, Times: 1})
				}
			case steps.UnblockLoaded:
				loadedWinRM.Inject(fault.Fault{Op: winrmtest.ActionCreate, Status: http.StatusUnauthorized, Times: 1})
			}
		}

		var nEvents atomic.Int32
		observer := event.Observers(farm.SlogObserver(log.logger), event.ObserverFunc(func(e event.Event) {
			nEvents.Add(1)
			out.add("event %+v", fmt.Sprintf("%+v", e))
			out.add("event %#v", fmt.Sprintf("%#v", e))
			out.addErr("event "+string(e.Kind)+" Err", e.Err)
			if e.Kind == event.StepStarted {
				inject(e.Step)
			}
		}))
		var asked atomic.Int32
		journal := &memJournal{}
		rel := drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "Portal", Version: "v2"}}}
		plan, err := steps.Balanced(fx.farm, steps.Config{
			Services: services{next: fx.winrm, name: "winrm", e: fx.errs},
			Platform: platform{next: fx.lifetime, name: "lifetime", e: fx.errs},
			Prober:   fx.sim.Prober(), Release: rel,
			PollInterval: 500 * time.Millisecond, DeployPollInterval: time.Second, ConfirmDelay: time.Second,
			DrainPeriod: drainPeriod, DrainTimeout: 2 * time.Minute,
			Plan: farm.PlanConfig{
				Seed: 1, Observer: observer, Journal: journal, OnFailure: farm.Ask,
				Retry: farm.RetryPolicy{InitialBackoff: 500 * time.Millisecond},
				Ask: func(_ context.Context, fl farm.Failure) farm.Decision {
					out.addErr("ask failure "+fl.Step, fl.Err)
					// By value: the constants' names are being changed in
					// package farm (Retry → DecideRetry) as this is written.
					if asked.Add(1) > 10 {
						return farm.Decision("abort")
					}
					return farm.Decision("retry")
				},
			},
		})
		require.NoError(t, err)

		require.NoError(t, fx.sim.Start(ctx))
		time.Sleep(5 * time.Second)
		report, runErr := plan.Run(ctx)
		time.Sleep(5 * time.Second)
		fx.sim.Stop()
		out.addErr("plan.Run", runErr)

		// The run went through, over every error path injected.
		require.NoError(t, runErr)
		assert.Equal(t, farm.Succeeded, report.Outcome)
		assert.Empty(t, fx.sim.CheckEndState(rel), "end state must be exact")
		simReport := fx.sim.Report()
		assert.Zero(t, simReport.TotalViolations(), simReport.String())
		assert.Positive(t, asked.Load(), "refused credentials must have failed steps")
		for _, d := range []string{"winrm", "lifetime", "awsalb"} {
			assert.True(t, anyIs(fx.errs.of(d), drivers.ErrPermissionDenied), "%s must have refused credentials once: %v", d, fx.errs.of(d))
		}
		assert.True(t, anyIs(fx.errs.of("f5"), drivers.ErrUnavailable), "f5 must have failed once: %v", fx.errs.of("f5"))
		for _, f := range fx.f5Fakes {
			assert.Greater(t, f.Logins(), 1, "the revoked F5 token must be replaced by a new login")
			assert.True(t, hasStatus(f.Requests(), http.StatusUnauthorized), "the F5 fake must have answered 401")
		}

		// Everything the run produced.
		out.add("slog JSON", log.json.String())
		out.add("slog text", log.text.String())
		out.add("journal", journal.text())
		rj, err := json.Marshal(report)
		require.NoError(t, err)
		out.add("farm.Report JSON", string(rj))
		var rt bytes.Buffer
		require.NoError(t, report.Write(&rt))
		out.add("farm.Report text", rt.String())
		out.add("simulate report", simReport.String())
		sj, err := json.Marshal(simReport)
		require.NoError(t, err)
		out.add("simulate report JSON", string(sj))
		for _, a := range fx.sim.Actions() {
			out.add("simulate action", fmt.Sprintf("%+v", a))
			out.addErr("simulate action error", a.Err)
		}
		var runbook bytes.Buffer
		require.NoError(t, plan.Describe(&runbook))
		out.add("runbook", runbook.String())
		texts, size := out.check(t)

		// Controls: the capture saw the run, and each secret did travel
		// where the test could see it.
		assert.Contains(t, log.json.String(), `"msg":"winrm: script finished"`)
		assert.Contains(t, log.text.String(), "lifetime: deployment started")
		assert.Contains(t, journal.text(), `"kind":"step-failed"`, "the journal must record the failed attempts")
		// The F5 fake's echo of the password reached the events and the
		// logs, scrubbed: these channels would have carried a leak.
		assert.Contains(t, log.json.String(), "device busy (login "+f5User+"/[redacted])")
		assert.True(t, slices.ContainsFunc(out.all(), func(l labelled) bool {
			return strings.HasPrefix(l.where, "event") && strings.Contains(l.text, "device busy (login "+f5User+"/[redacted])")
		}), "the scrubbed echo must reach the events")
		assert.Contains(t, fx.winrmWire.String(), "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte(winrmUser+":"+winrmPassword)))
		assert.Contains(t, fx.ltWire.String(), "Authorization: Bearer "+lifetimeToken)
		assert.Contains(t, fx.f5Wire.String(), `"password":"`+f5Password+`"`, "the F5 login carries the password")
		for _, f := range fx.f5Fakes {
			for _, tok := range f.IssuedTokens() {
				assert.Contains(t, fx.f5Wire.String(), tok, "the F5 token goes on the wire")
				for _, l := range out.all() {
					assert.NotContains(t, l.text, tok, "F5 token leaked into %s", l.where)
				}
			}
		}
		good, bad := fx.albWire.sigV4Checks(awsKeyID, awsSecretKey, "elasticloadbalancing", "us-east-1")
		assert.Greater(t, good, 10, "ELBv2 requests must be signed with the canary secret key")
		assert.Zero(t, bad, "every ELBv2 request must be signed with the canary secret key")
		assert.NotContains(t, fx.albWire.String(), awsSecretKey, "SigV4 never sends the secret key itself")

		t.Logf("simulated %v; %d events, %d journal lines, %d texts (%d bytes) checked; %d failed steps retried; %d ELBv2 signatures verified",
			simReport.Elapsed, nEvents.Load(), strings.Count(journal.text(), "\n")+1, texts, size, asked.Load(), good)
	})
}

func anyIs(errs []error, target error) bool {
	for _, err := range errs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func hasStatus(reqs []f5test.Request, status int) bool {
	for _, r := range reqs {
		if r.Status == status {
			return true
		}
	}
	return false
}

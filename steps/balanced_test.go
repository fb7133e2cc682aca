package steps_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/internal/fakefarm"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const release = "v2"

// build returns a farm of the fake's servers (auto split) and the balanced
// plan over it.
func build(t *testing.T, ff *fakefarm.Farm, lb drivers.LoadBalancer, tune func(*steps.Config), zones ...string) (*farm.Farm, *farm.Plan) {
	t.Helper()
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(ff.Servers(zones...)), LoadBalancer: lb})
	require.NoError(t, err)
	cfg := steps.Config{
		Services: ff, Platform: ff, Prober: ff,
		Release: drivers.Release{Version: release},
		Plan:    farm.PlanConfig{Observer: ff, Seed: 1},
	}
	if tune != nil {
		tune(&cfg)
	}
	p, err := steps.Balanced(f, cfg)
	require.NoError(t, err)
	return f, p
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("fe%02d", i+1)
	}
	return out
}

func ops(op string, targets ...string) []string {
	out := make([]string, len(targets))
	for i, t := range targets {
		out[i] = op + " " + t
	}
	return out
}

func sorted(parts ...[]string) []string {
	out := slices.Concat(parts...)
	slices.Sort(out)
	return slices.Compact(out)
}

// TestBalancedRunsTheRunbookInOrder checks that the twelve steps run in the
// runbook's order and that each touches exactly the servers the runbook
// names.
func TestBalancedRunsTheRunbookInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ff := fakefarm.New(names(6)...)
		// The strict order: the fake counts each call in the step running.
		f, p := build(t, ff, ff, func(c *steps.Config) { c.Plan.StrictOrder = true })
		rep, err := p.Run(t.Context())
		require.NoError(t, err)
		assert.Equal(t, farm.Succeeded, rep.Outcome)

		var ran []string
		for _, s := range rep.Steps {
			assert.Equal(t, farm.StepDone, s.Status, s.ID)
			ran = append(ran, s.ID)
		}
		assert.Equal(t, steps.IDs(), ran)

		z := f.Zones()[0]
		up, lo := z.Updating.Names(), z.Loaded.Names()
		all := slices.Concat(up, lo)
		assert.Equal(t, []string{"fe01", "fe02", "fe03"}, up)
		assert.Equal(t, []string{"fe04", "fe05", "fe06"}, lo)

		mutating := func(step string) []string {
			var out []string
			for _, c := range ff.CallsIn(step) {
				if !strings.HasPrefix(c, "read-") && !strings.HasPrefix(c, "probe") && !strings.HasPrefix(c, "lb-status") && !strings.HasPrefix(c, "deploy-status") {
					out = append(out, c)
				}
			}
			return out
		}
		// Probes only: each step's boundary also reads the states the
		// guards watch (services, members).
		probes := func(step string) []string {
			var out []string
			for _, c := range ff.CallsIn(step) {
				if strings.HasPrefix(c, "probe") {
					out = append(out, c)
				}
			}
			return out
		}
		assert.Empty(t, mutating(steps.Preflight))
		assert.Equal(t, sorted(ops("read-scheduler", all...), ops("read-deployment", all...), ops("read-deployment-controller", "fe01"), ops("probe", all...), []string{"lb-status "}), ff.CallsIn(steps.Preflight))
		assert.Equal(t, sorted(ops("stop-scheduler", all...)), mutating(steps.StopSchedulers))
		assert.Equal(t, sorted(ops("lb-draining", up...), ops("lb-out", up...)), mutating(steps.DrainUpdating))
		assert.Equal(t, sorted(ops("stop-deployment", lo...)), mutating(steps.BlockLoaded))
		assert.Equal(t, []string{"deploy v2"}, mutating(steps.Publish))
		assert.Equal(t, sorted(ops("probe", up...)), probes(steps.VerifyUpdating))
		assert.Equal(t, sorted(ops("lb-draining", up...), ops("lb-serving", up...), ops("lb-draining", lo...), ops("lb-out", lo...)), mutating(steps.SwitchTraffic))
		assert.Equal(t, sorted(ops("restore-scheduler", up...)), mutating(steps.StartSchedulersUpdating))
		assert.Equal(t, sorted(ops("restore-deployment", lo...)), mutating(steps.UnblockLoaded))
		assert.Equal(t, sorted(ops("probe", lo...)), probes(steps.AwaitLoaded))
		assert.Equal(t, sorted(ops("lb-draining", lo...), ops("lb-serving", lo...)), mutating(steps.RestoreTraffic))
		assert.Equal(t, sorted(ops("restore-scheduler", lo...)), mutating(steps.StartSchedulersLoaded))

		// The end state is the start state, on the release.
		for _, n := range all {
			assert.Equal(t, release, ff.Version(n), n)
			assert.Equal(t, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}, ff.Service(n, drivers.SchedulerService), n)
			assert.Equal(t, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}, ff.Service(n, drivers.DeploymentService), n)
			assert.Equal(t, drivers.Serving, ff.MemberState(n), n)
		}
	})
}

// TestSwitchUsesOneTransactionWhereOffered checks the Switcher path.
func TestSwitchUsesOneTransactionWhereOffered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ff := fakefarm.New(names(4)...)
		_, p := build(t, ff, fakefarm.Switching{Farm: ff}, nil)
		_, err := p.Run(t.Context())
		require.NoError(t, err)
		sw := ff.CallsIn(steps.SwitchTraffic)
		assert.Contains(t, sw, "lb-switch [fe01 fe02] [fe03 fe04]")
		assert.NotContains(t, sw, "lb-serving fe01", "with a Switcher, Updating goes in only through the transaction")
	})
}

// TestTwoZones checks that every step acts on every zone with that zone's
// load balancer.
func TestTwoZones(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ff := fakefarm.New(names(8)...)
		// The strict order: the fake names each call's step by the step
		// that started last.
		f, p := build(t, ff, ff, func(c *steps.Config) { c.Plan.StrictOrder = true }, "east", "west")
		_, err := p.Run(t.Context())
		require.NoError(t, err)
		require.Len(t, f.Zones(), 2)
		for _, z := range f.Zones() {
			for _, n := range z.Updating.Names() {
				assert.Contains(t, ff.CallsIn(steps.DrainUpdating), "lb-out "+n)
			}
			for _, n := range z.Loaded.Names() {
				assert.Contains(t, ff.CallsIn(steps.BlockLoaded), "stop-deployment "+n)
				assert.NotContains(t, ff.CallsIn(steps.DrainUpdating), "lb-out "+n)
			}
		}
	})
}

// TestConcurrencyLimit measures the most server actions in flight.
func TestConcurrencyLimit(t *testing.T) {
	for _, limit := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ff := fakefarm.New(names(20)...)
				var mu sync.Mutex
				inFlight, most := 0, 0
				ff.OnCall(func(c fakefarm.Call) error {
					if !strings.HasPrefix(c.Op, "stop-") && !strings.HasPrefix(c.Op, "restore-") && c.Op != "probe" {
						return nil
					}
					mu.Lock()
					inFlight++
					most = max(most, inFlight)
					mu.Unlock()
					time.Sleep(100 * time.Millisecond)
					mu.Lock()
					inFlight--
					mu.Unlock()
					return nil
				})
				// One step at a time: the calls in flight are one fan-out's.
				_, p := build(t, ff, ff, func(c *steps.Config) { c.Plan.Concurrency, c.Plan.StrictOrder = limit, true })
				_, err := p.Run(t.Context())
				require.NoError(t, err)
				assert.Equal(t, limit, most, "most server actions in flight")
			})
		})
	}
}

// TestOnlyUnavailableIsRetried checks retry counts and backoff waits.
func TestOnlyUnavailableIsRetried(t *testing.T) {
	tests := []struct {
		name      string
		class     error
		failures  int
		wantCalls int
		wantErr   bool
	}{
		{"unavailable twice then fine", drivers.ErrUnavailable, 2, 3, false},
		{"unavailable beyond max attempts", drivers.ErrUnavailable, 10, 4, true},
		{"permission denied", drivers.ErrPermissionDenied, 1, 1, true},
		{"not found", drivers.ErrNotFound, 1, 1, true},
		{"invalid argument", drivers.ErrInvalidArgument, 1, 1, true},
		{"unimplemented", drivers.ErrUnimplemented, 1, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ff := fakefarm.New(names(4)...)
				var times []time.Time
				ff.OnCall(func(c fakefarm.Call) error {
					if c.Op == "stop-scheduler" && c.Target == "fe03" {
						times = append(times, time.Now())
						if len(times) <= tc.failures {
							return fmt.Errorf("winrm: %w", tc.class)
						}
					}
					return nil
				})
				_, p := build(t, ff, ff, func(c *steps.Config) {
					c.Plan.Retry = farm.RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Second, Multiplier: 3, MaxBackoff: 5 * time.Second, Jitter: -1}
				})
				rep, err := p.Run(t.Context())
				assert.Len(t, times, tc.wantCalls)
				want := []time.Duration{time.Second, 3 * time.Second, 5 * time.Second}
				for i := 1; i < len(times); i++ {
					assert.Equal(t, want[i-1], times[i].Sub(times[i-1]), "wait before attempt %d", i+1)
				}
				if !tc.wantErr {
					require.NoError(t, err)
					return
				}
				require.Error(t, err)
				assert.ErrorIs(t, err, farm.ErrHalted)
				assert.ErrorIs(t, err, tc.class)
				var se *farm.StepError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, steps.StopSchedulers, se.Step)
				assert.Equal(t, "fe03", se.Server)
				assert.Equal(t, tc.wantCalls, se.Attempts)
				assert.Equal(t, steps.StopSchedulers, rep.FailedStep)
				assert.Equal(t, steps.StopSchedulers, rep.ResumeFrom)
				assertSafe(t, ff, nil)
			})
		})
	}
}

// assertSafe checks the farm is in a safe state: every Loaded member serving
// unless the switch completed, no Updating member serving unless verified,
// and no member serving while its server does not run what its group should.
func assertSafe(t *testing.T, ff *fakefarm.Farm, z *farm.Zone) {
	t.Helper()
	serving, versions := ff.Serving()
	assert.Positive(t, serving, "some member serving")
	assert.Len(t, versions, 1, "serving members all run one version: %v", versions)
}

// TestDrainWaitsForConnections checks the drain waits for active connections
// to reach zero, and its timeout.
func TestDrainWaitsForConnections(t *testing.T) {
	t.Run("waits until zero", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ff := fakefarm.New(names(4)...)
			ff.SetActive("fe01", 3)
			go func() {
				time.Sleep(45 * time.Second)
				ff.SetActive("fe01", 0)
			}()
			_, p := build(t, ff, ff, nil)
			start := time.Now()
			rep, err := p.Run(t.Context())
			require.NoError(t, err)
			s, _ := rep.Step(steps.DrainUpdating)
			d := s.Finished.Sub(s.Started)
			assert.GreaterOrEqual(t, d+s.Started.Sub(start), 45*time.Second)
			assert.Less(t, s.Finished.Sub(start), 45*time.Second+steps.DefaultPollInterval+time.Millisecond, "drain ends within one poll of the last connection")
		})
	})
	t.Run("timeout takes members out with a warning", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ff := fakefarm.New(names(4)...)
			ff.SetActive("fe02", 1)
			var warnings []string
			_, p := build(t, ff, ff, func(c *steps.Config) {
				c.DrainTimeout = time.Minute
				c.Plan.Observer = event.Observers(ff, event.ObserverFunc(func(e event.Event) {
					if e.Kind == event.Warning {
						warnings = append(warnings, e.Message)
					}
				}))
			})
			rep, err := p.Run(t.Context())
			require.NoError(t, err)
			s, _ := rep.Step(steps.DrainUpdating)
			assert.Equal(t, time.Minute, s.Finished.Sub(s.Started).Truncate(time.Second))
			require.NotEmpty(t, warnings)
			assert.Contains(t, warnings[0], "fe02 (1 active)")
		})
	})
	t.Run("timeout fails when asked", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ff := fakefarm.New(names(4)...)
			ff.SetActive("fe02", 1)
			_, p := build(t, ff, ff, func(c *steps.Config) { c.DrainTimeout = time.Minute; c.FailOnDrainTimeout = true })
			rep, err := p.Run(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "drain timed out after 1m0s: still held: fe02 (1 active)")
			assert.Equal(t, steps.DrainUpdating, rep.FailedStep)
			assert.Equal(t, drivers.Draining, ff.MemberState("fe02"), "left draining: no new requests, held ones finish")
			assert.Equal(t, drivers.Serving, ff.MemberState("fe03"))
			assert.Empty(t, ff.CallsIn(steps.Publish), "nothing published")
		})
	})
}

// TestTimeoutAndCancellationLeaveTheFarmSafe checks a step timeout and a
// context cancellation each stop the run in the safe state.
func TestTimeoutAndCancellationLeaveTheFarmSafe(t *testing.T) {
	t.Run("publish timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ff := fakefarm.New(names(4)...)
			ff.SetPolls(1 << 30) // the deployment never finishes
			_, p := build(t, ff, ff, func(c *steps.Config) { c.PublishTimeout = 10 * time.Minute })
			rep, err := p.Run(t.Context())
			require.Error(t, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Contains(t, err.Error(), "did not finish within 10m0s")
			assert.Equal(t, steps.Publish, rep.FailedStep)
			assert.Equal(t, drivers.Out, ff.MemberState("fe01"))
			assert.Equal(t, drivers.Serving, ff.MemberState("fe03"))
			assertSafe(t, ff, nil)
		})
	})
	t.Run("plan step timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ff := fakefarm.New(names(4)...)
			ff.SetActive("fe01", 5) // the drain would outlast the step
			_, p := build(t, ff, ff, func(c *steps.Config) { c.Plan.StepTimeout = 30 * time.Second })
			rep, err := p.Run(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "step drain-updating timed out after 30s")
			assert.Equal(t, steps.DrainUpdating, rep.FailedStep)
			assertSafe(t, ff, nil)
		})
	})
	for _, at := range []string{steps.DrainUpdating, steps.Publish, steps.SwitchTraffic, steps.AwaitLoaded} {
		t.Run("cancel during "+at, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ff := fakefarm.New(names(4)...)
				ctx, cancel := context.WithCancel(t.Context())
				ff.OnCall(func(c fakefarm.Call) error {
					// During the switch: at its first change of the
					// load balancer (its boundary reads come first).
					if c.Step == at && (at != steps.SwitchTraffic || (strings.HasPrefix(c.Op, "lb-") && c.Op != "lb-status")) {
						cancel()
					}
					return nil
				})
				// The strict order: the fake names each call's step by the
				// step that started last.
				_, p := build(t, ff, ff, func(c *steps.Config) { c.Plan.StrictOrder = true })
				rep, err := p.Run(ctx)
				require.Error(t, err)
				assert.ErrorIs(t, err, farm.ErrHalted)
				assert.ErrorIs(t, err, context.Canceled)
				assert.Equal(t, farm.Halted, rep.Outcome)
				assert.NotEmpty(t, rep.ResumeFrom)
				assertSafe(t, ff, nil)
				if at == steps.SwitchTraffic {
					// The switch is not interrupted halfway.
					assert.Equal(t, drivers.Serving, ff.MemberState("fe01"))
					assert.Equal(t, drivers.Out, ff.MemberState("fe03"))
				}
			})
		})
	}
}

// TestHooks checks hooks run in order around their step and a failing hook
// halts the run.
func TestHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ff := fakefarm.New(names(4)...)
		_, p := build(t, ff, ff, nil)
		var order []string
		hook := func(name string, err error) farm.Hook {
			return farm.Hook{Name: name, Func: func(ctx context.Context, r *farm.Run) error {
				order = append(order, name+"@"+r.StepID())
				return err
			}}
		}
		require.NoError(t, p.Before(steps.SwitchTraffic, hook("b1", nil)))
		require.NoError(t, p.Before(steps.SwitchTraffic, hook("b2", nil)))
		require.NoError(t, p.After(steps.VerifyUpdating, hook("smoke", nil)))
		require.NoError(t, p.After(steps.SwitchTraffic, hook("notify", errors.New("chat is down"))))
		assert.ErrorIs(t, p.After("no-such-step", hook("x", nil)), farm.ErrUnknownStep)

		rep, err := p.Run(t.Context())
		require.Error(t, err)
		assert.ErrorIs(t, err, farm.ErrHookFailed)
		assert.Contains(t, err.Error(), `after hook "notify": chat is down`)
		assert.Equal(t, []string{"smoke@verify-updating", "b1@switch-traffic", "b2@switch-traffic", "notify@switch-traffic"}, order)
		assert.Equal(t, steps.SwitchTraffic, rep.FailedStep)
		s, _ := rep.Step(steps.StartSchedulersUpdating)
		assert.Equal(t, farm.StepPending, s.Status)
		assert.Empty(t, ff.CallsIn(steps.StartSchedulersUpdating))
	})
}

// TestApprovalAndWait checks the extra steps.
func TestApprovalAndWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ff := fakefarm.New(names(4)...)
		_, p := build(t, ff, ff, nil)
		asked := make(chan steps.ApprovalRequest, 1)
		answer := make(chan bool)
		require.NoError(t, p.InsertBefore(steps.SwitchTraffic, steps.Approval("approve-switch", "switch to v2?", func(ctx context.Context, req steps.ApprovalRequest) (bool, error) {
			asked <- req
			select {
			case ok := <-answer:
				return ok, nil
			case <-ctx.Done():
				return false, ctx.Err()
			}
		})))
		require.NoError(t, p.InsertAfter(steps.SwitchTraffic, steps.Wait("soak", 10*time.Minute)))
		assert.Equal(t, steps.SwitchTraffic, p.StepIDs()[7])
		assert.Equal(t, "soak", p.StepIDs()[8])

		done := make(chan error)
		var rep *farm.Report
		go func() {
			var err error
			rep, err = p.Run(t.Context())
			done <- err
		}()
		req := <-asked
		assert.Equal(t, "switch to v2?", req.Message)
		time.Sleep(time.Hour) // nobody answers for an hour: the run waits
		synctest.Wait()
		assert.Empty(t, ff.CallsIn(steps.SwitchTraffic))
		answer <- false
		err := <-done
		assert.ErrorIs(t, err, steps.ErrNotApproved)
		assert.Equal(t, "approve-switch", rep.FailedStep)
		assert.Equal(t, drivers.Serving, ff.MemberState("fe03"), "Loaded still serving")
	})
}

// TestInvalidInputTouchesNothing checks bad farms and configs are refused,
// naming the bad value, before any driver is called.
func TestInvalidInputTouchesNothing(t *testing.T) {
	ff := fakefarm.New(names(4)...)
	srv := func(name string, mod ...func(*farm.Server)) farm.Server {
		s := farm.Server{Name: name}
		for _, m := range mod {
			m(&s)
		}
		return s
	}
	controller := func(s *farm.Server) { s.DeploymentController = true }
	tests := []struct {
		name string
		cfg  farm.Config
		want string
	}{
		{"no zones", farm.Config{LoadBalancer: ff}, "no zones"},
		{"duplicate names", farm.Config{LoadBalancer: ff, Zones: []farm.ZoneSpec{{Updating: []farm.Server{srv("fe1")}, Loaded: []farm.Server{srv("fe1")}}}}, "server name fe1 is used twice"},
		{"empty updating", farm.Config{LoadBalancer: ff, Zones: []farm.ZoneSpec{{Name: "eu", Loaded: []farm.Server{srv("fe1")}}}}, "zone eu: Updating group is empty"},
		{"empty loaded", farm.Config{LoadBalancer: ff, Zones: []farm.ZoneSpec{{Name: "eu", Updating: []farm.Server{srv("fe1")}}}}, "zone eu: Loaded group is empty"},
		{"controller in loaded", farm.Config{LoadBalancer: ff, Zones: []farm.ZoneSpec{{Updating: []farm.Server{srv("fe1")}, Loaded: []farm.Server{srv("fe2", controller)}}}}, "server fe2 has the Deployment Controller role but is in the Loaded group"},
		{"two controllers", farm.Config{LoadBalancer: ff, Zones: []farm.ZoneSpec{{Updating: []farm.Server{srv("fe1", controller), srv("fe3", controller)}, Loaded: []farm.Server{srv("fe2"), srv("fe4")}}}}, "2 servers have the Deployment Controller role"},
		{"capacity floor", farm.Config{LoadBalancer: ff, CapacityFloor: 0.5, Zones: []farm.ZoneSpec{{Name: "eu", Updating: []farm.Server{srv("fe1"), srv("fe2"), srv("fe3")}, Loaded: []farm.Server{srv("fe4")}}}}, "zone eu: Loaded group holds 1 of 4 servers (25%): want at least 50%"},
		{"bad floor", farm.Config{LoadBalancer: ff, CapacityFloor: 1.5, Zones: farm.AutoSplit([]farm.Server{srv("a"), srv("b")})}, "capacity floor 1.5"},
		{"no load balancer", farm.Config{Zones: farm.AutoSplit([]farm.Server{srv("a"), srv("b")})}, "zone default: no load balancer"},
		{"hostile name", farm.Config{LoadBalancer: ff, Zones: farm.AutoSplit([]farm.Server{srv("a; rm -rf /"), srv("b")})}, `server name "a; rm -rf /"`},
		{"hostile member", farm.Config{LoadBalancer: ff, Zones: farm.AutoSplit([]farm.Server{srv("a", func(s *farm.Server) { s.Member = "be/a;disable server be/b" }), srv("b")})}, `load-balancer member "be/a;disable server be/b"`},
		{"duplicate member", farm.Config{LoadBalancer: ff, Zones: farm.AutoSplit([]farm.Server{srv("a", func(s *farm.Server) { s.Member = "m1" }), srv("b", func(s *farm.Server) { s.Member = "m1" })})}, `member "m1" is used by both a and b`},
		{"credentials in probe URL", farm.Config{LoadBalancer: ff, Zones: farm.AutoSplit([]farm.Server{srv("a", func(s *farm.Server) { s.ProbeURL = "https://ops:hunter2@a.internal/" }), srv("b")})}, "probe URL https://[redacted]@a.internal/ holds credentials"},
		{"zone mismatch", farm.Config{LoadBalancer: ff, Zones: []farm.ZoneSpec{{Name: "eu", Updating: []farm.Server{srv("a", func(s *farm.Server) { s.Zone = "us" })}, Loaded: []farm.Server{srv("b")}}}}, `server a says zone "us" but is listed in zone eu`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := farm.New(tc.cfg)
			require.Error(t, err)
			assert.ErrorIs(t, err, farm.ErrInvalidFarm)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	f, err := farm.New(farm.Config{LoadBalancer: ff, Zones: farm.AutoSplit(ff.Servers())})
	require.NoError(t, err)
	for name, cfg := range map[string]steps.Config{
		"no drivers": {Release: drivers.Release{Version: "v2"}},
		"no version": {Services: ff, Platform: ff, Prober: ff},
		"negative":   {Services: ff, Platform: ff, Prober: ff, Release: drivers.Release{Version: "v2"}, DrainTimeout: -time.Second},
	} {
		_, err := steps.Balanced(f, cfg)
		assert.ErrorIs(t, err, steps.ErrInvalidConfig, name)
	}
	// The release is printed in the runbook: no control character in it.
	for _, tc := range []struct {
		rel  drivers.Release
		want string
	}{
		{drivers.Release{Version: "v2\x1b[2J"}, `release version "v2\x1b[2J": holds U+001B`},
		{drivers.Release{Version: "v2\nstep 12: done"}, `release version "v2\nstep 12: done": holds U+000A`},
		{drivers.Release{Version: "v2", Notes: "CHG1\r\nok"}, `release notes "CHG1\r\nok": holds U+000D`},
		{drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "Orders\u202e", Version: "2"}}}, "release application 1 name"},
	} {
		_, err := steps.Balanced(f, steps.Config{Services: ff, Platform: ff, Prober: ff, Release: tc.rel})
		assert.ErrorIs(t, err, steps.ErrInvalidConfig, tc.want)
		assert.ErrorContains(t, err, tc.want)
	}
	assert.Empty(t, ff.Calls(), "no driver was called")
}

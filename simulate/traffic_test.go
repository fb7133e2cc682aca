package simulate_test

import (
	"context"
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/simulate"
)

func TestTrafficRoundRobinAndRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}, {Servers: 2, Rate: 10}}, Seed: 9,
			Traffic: simulate.Traffic{Rate: 100}})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		assert.Error(t, sim.Start(t.Context()), "Start twice")
		time.Sleep(100 * time.Second)
		sim.Stop()
		sim.Stop() // idempotent
		r := sim.Report()
		assert.InDelta(t, 10000, r.Zones[0].Served, 400, "Poisson arrivals at 100/s")
		assert.InDelta(t, 1000, r.Zones[1].Served, 130)
		for _, s := range []string{"fe01", "fe02", "fe03", "fe04"} {
			assert.InDelta(t, r.Zones[0].Served/4, r.Zones[0].ByServer[s], 2, "round robin: %s", s)
		}
		assert.Equal(t, r.Requests, r.Served)
		assert.Equal(t, map[string]int{"v1": r.Served}, r.ServedByVersion)
		assert.Zero(t, r.TotalViolations())
		assert.Equal(t, []int{1, 2, 3, 4, 5}, r.Checked)
		assert.Regexp(t, `\nserved=\d+ failed=0 violations=0$`, r.String())
		samples := r.Zones[1].Traffic
		assert.InDelta(t, 100, len(samples), 1, "one sample per second")
		total := 0
		for i, sm := range samples {
			assert.Equal(t, time.Duration(i)*time.Second, sm.Elapsed)
			assert.Zero(t, sm.Failed)
			total += sm.Served["v1"]
		}
		assert.Equal(t, r.Zones[1].Served, total)
	})
}

func TestTrafficDrainingMemberGetsNoNewRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 3}},
			Traffic: simulate.Traffic{Rate: 30, Duration: time.Second, MaxDuration: 4 * time.Second}})
		require.NoError(t, err)
		lb := sim.LoadBalancer("")
		require.NoError(t, sim.Start(t.Context()))
		time.Sleep(20 * time.Second)
		require.NoError(t, lb.SetState(t.Context(), drivers.Draining, "fe01"))
		st, err := lb.Status(t.Context(), "fe01")
		require.NoError(t, err)
		held := st[0].ActiveConnections
		require.Positive(t, held)
		assert.True(t, st[0].ConnectionsKnown)
		before := sim.Report().Zones[0].ByServer["fe01"]
		time.Sleep(4 * time.Second)
		st, err = lb.Status(t.Context(), "fe01")
		require.NoError(t, err)
		assert.Zero(t, st[0].ActiveConnections, "drained within the longest request")
		after := sim.Report().Zones[0].ByServer["fe01"]
		assert.Equal(t, before+held, after, "only the requests it held completed")
		time.Sleep(20 * time.Second)
		assert.Equal(t, after, sim.Report().Zones[0].ByServer["fe01"], "no new request")
		sim.Stop()
		assert.Zero(t, sim.Report().Failed)
	})
}

func TestTrafficNoServingMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, HealthCheckDelay: -1})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		require.NoError(t, sim.LoadBalancer("").SetState(t.Context(), drivers.Draining, "fe01", "fe02"))
		time.Sleep(10 * time.Second)
		sim.Stop()
		r := sim.Report()
		assert.InDelta(t, 200, r.FailureCauses[simulate.CauseNoServingMember], 50)
		assert.Equal(t, r.Failed, r.FailureCauses[simulate.CauseNoServingMember])
		assert.Equal(t, r.Failed+1, r.ViolationCounts[1]+r.ViolationCounts[4], "one violation per failed request, one for the capacity")
		assert.Len(t, r.Violations, simulate.DefaultMaxViolations+1, "kept violations are capped per invariant")
	})
}

func TestTrafficTimeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, HealthCheckDelay: 3 * time.Second, InstallDuration: time.Minute})
		require.NoError(t, err)
		stopAll(t, sim, drivers.SchedulerService, "fe01", "fe02")
		require.NoError(t, sim.LoadBalancer("").SetState(t.Context(), drivers.Out, "fe02"))
		_, err = sim.Platform().StartDeployment(t.Context(), rel2)
		require.NoError(t, err)
		time.Sleep(5 * time.Minute)
		tl := sim.Report().Zones[0].Timeline
		require.NotEmpty(t, tl)
		assert.Equal(t, simulate.TimelinePoint{Serving: 2, Capacity: 2, Versions: map[string]int{"v1": 2}}, tl[0])
		var installing, v2 bool
		for _, p := range tl {
			installing = installing || p.Installing > 0
			v2 = v2 || p.Versions["v2"] == 1
		}
		assert.True(t, installing)
		assert.True(t, v2)
		last := tl[len(tl)-1]
		assert.Equal(t, map[string]int{"v2": 1}, last.Versions)
		assert.Equal(t, 1, last.Serving)
	})
}

func TestHold(t *testing.T) {
	sim, err := simulate.New(simulate.Config{})
	require.NoError(t, err)
	release, err := sim.Hold("fe01")
	require.NoError(t, err)
	st, err := sim.LoadBalancer("").Status(t.Context(), "fe01")
	require.NoError(t, err)
	assert.Equal(t, 1, st[0].ActiveConnections)
	release()
	release()
	st, err = sim.LoadBalancer("").Status(t.Context(), "fe01")
	require.NoError(t, err)
	assert.Zero(t, st[0].ActiveConnections)
	assert.Equal(t, 1, sim.Report().Served)
	_, err = sim.Hold("fe99")
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	require.NoError(t, sim.LoadBalancer("").SetState(t.Context(), drivers.Out, "fe02"))
	_, err = sim.Hold("fe02")
	assert.ErrorIs(t, err, drivers.ErrUnavailable)
}

func TestTrafficEndsWithStartContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Traffic: simulate.Traffic{Rate: 10, Duration: time.Second}})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		require.NoError(t, sim.Start(ctx))
		time.Sleep(time.Minute)
		cancel()
		time.Sleep(time.Second)
		synctest.Wait()
		before := sim.Report()
		assert.InDelta(t, 600, before.Requests, 100)
		time.Sleep(time.Minute)
		after := sim.Report()
		assert.Equal(t, before.Requests, after.Requests, "no arrivals once the context is done")
		assert.Equal(t, after.Requests, after.Served, "requests in flight at the end completed")
		sim.Stop()
	})
}

func TestStopKeepsArrivalsUpToNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A tick far longer than the run: Stop must still count every
		// arrival up to the moment it is called.
		sim, err := simulate.New(simulate.Config{Tick: time.Hour, Traffic: simulate.Traffic{Rate: 100}})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		time.Sleep(100 * time.Second)
		sim.Stop()
		assert.InDelta(t, 10000, sim.Report().Requests, 400)
	})
}

func TestReportJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, HealthCheckDelay: -1})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		sim.Mark("drain")
		require.NoError(t, sim.LoadBalancer("").SetState(t.Context(), drivers.Out, "fe01", "fe02"))
		time.Sleep(2 * time.Second)
		sim.Stop()
		r := sim.Report()
		b, err := json.Marshal(r)
		require.NoError(t, err)
		var back simulate.Report
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, r.String(), back.String())
		assert.Equal(t, r.Zones[0].Timeline, back.Zones[0].Timeline)
		assert.Equal(t, []simulate.Mark{{Label: "drain"}}, back.Marks)
		assert.Positive(t, back.ViolationCounts[4])
	})
}

package simulate

import (
	"context"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
)

// RunPlan runs plan under the simulated traffic and checks its outcome: it
// starts the traffic, lets it run for settle, runs the plan, lets the farm
// run for settle again, stops the traffic, and checks invariant 7 (the safe
// state) and, when the run succeeded, invariant 6 (the exact end state on
// rel). It returns the run's report and error; the simulator's Report then
// holds every request and violation. It is the whole of a test of a plan or
// a driver on a simulated farm:
//
//	rep, err := sim.RunPlan(t.Context(), plan, rel, 10*time.Second)
//	// require.NoError(t, err); assert.Zero(t, sim.Report().TotalViolations())
//
// Start must not have been called. Under testing/synctest, the settle waits
// take no wall time.
func (s *Sim) RunPlan(ctx context.Context, plan *farm.Plan, rel drivers.Release, settle time.Duration) (*farm.Report, error) {
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	time.Sleep(settle)
	rep, err := plan.Run(ctx)
	time.Sleep(settle)
	s.Stop()
	s.CheckSafeState()
	if err == nil {
		s.CheckEndState(rel)
	}
	return rep, err
}

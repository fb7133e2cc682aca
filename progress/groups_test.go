package progress_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/drivermock"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/progress"
)

func members(state drivers.MemberState, names ...string) []drivers.MemberStatus {
	out := make([]drivers.MemberStatus, len(names))
	for i, n := range names {
		out[i] = drivers.MemberStatus{Member: n, State: state, Health: drivers.Healthy}
	}
	return out
}

// TestTerminalRowsPerZoneAndGroup checks the status block's rows per zone
// and group (members, their states as last seen, the step's progress over
// them), N/N at the end of a wait, a width of 100 columns, and the last
// frame saying where the run ended.
func TestTerminalRowsPerZoneAndGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
		f, err := farm.New(farm.Config{LoadBalancer: lb, Zones: []farm.ZoneSpec{
			{Name: "east", Updating: []farm.Server{{Name: "fe01"}, {Name: "fe02"}}, Loaded: []farm.Server{{Name: "fe03"}, {Name: "fe04"}}},
			{Name: "west-long-name", Updating: []farm.Server{{Name: "fe05"}, {Name: "fe06"}}, Loaded: []farm.Server{{Name: "fe07"}}},
		}})
		require.NoError(t, err)
		scr := &screen{}
		term := progress.NewTerminal(scr, progress.TerminalConfig{ForceTTY: true, Width: 100})
		term.SetFarm(f)
		s := newSeq()
		s.emit(event.Event{Kind: event.RunStarted, Total: 12, Message: "12 steps over 7 servers in 2 zones"})
		s.emit(event.Event{Kind: event.MembersSeen, Zone: "east", Members: members(drivers.Serving, "fe01", "fe02", "fe03", "fe04")})
		s.emit(event.Event{Kind: event.MembersSeen, Zone: "west-long-name", Members: members(drivers.Serving, "fe05", "fe06", "fe07")})
		s.start(3, 12, "drain-updating", "Take the Updating servers out of the load balancer")
		s.emit(event.Event{Kind: event.MembersSeen, Zone: "east", Members: members(drivers.Draining, "fe01", "fe02")})
		s.emit(event.Event{Kind: event.Progress, Zone: "east", Done: 1, Total: 2, Message: "draining fe02 (2 active)"})
		s.emit(event.Event{Kind: event.MembersSeen, Zone: "east", Members: members(drivers.Out, "fe01")})
		for _, e := range s.events {
			term.Observe(e)
		}
		time.Sleep(progress.DefaultRefreshInterval)
		synctest.Wait()
		golden(t, "tty-groups-during-drain", join(scr.frame()))

		s.events = nil
		s.wait(2 * time.Second)
		s.emit(event.Event{Kind: event.MembersSeen, Zone: "east", Members: members(drivers.Out, "fe02")})
		s.finish(3, 12, "Take the Updating servers out", nil)
		s.start(4, 12, "block-loaded", "Stop and disable the Deployment service on the Loaded servers")
		s.emit(event.Event{Kind: event.ActionStarted, Zone: "east", Server: "fe03"})
		s.emit(event.Event{Kind: event.ActionFinished, Zone: "east", Server: "fe03", Attempt: 1})
		s.emit(event.Event{Kind: event.ActionStarted, Zone: "east", Server: "fe04"})
		err = stepErr("block-loaded", "east", "fe04", 1, drivers.ErrPermissionDenied)
		s.emit(event.Event{Kind: event.ActionFinished, Zone: "east", Server: "fe04", Attempt: 1, Err: err})
		s.finish(4, 12, "Stop and disable", err)
		s.emit(event.Event{Kind: event.RunFinished, Step: "block-loaded", Err: err, Message: "run halted"})
		for _, e := range s.events {
			term.Observe(e)
		}
		out := scr.text()
		assert.Contains(t, out, "drain-updating zone east: 2/2 done\n", "the wait's end says N/N")
		golden(t, "tty-groups-halted-screen", out)
		frame := scr.frame()
		assert.Equal(t, "run halted at step 4/12 block-loaded", frame[0])
	})
}

func join(lines []string) string {
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}

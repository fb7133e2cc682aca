package simulate

import (
	"slices"
	"sort"
	"time"
)

// Action is the record of one driver call the simulated farm received, so
// that tests can assert what a procedure touched and in which order.
type Action struct {
	// Time is the simulated instant the call took effect (or failed);
	// Elapsed is the same instant measured from [New].
	Time    time.Time     `json:"time"`
	Elapsed time.Duration `json:"elapsed"`
	Op      Op            `json:"op"`
	// Zone is the zone of the load balancer called, if any.
	Zone string `json:"zone,omitempty"`
	// Servers names the target server or the members named by the call.
	Servers []string `json:"servers,omitempty"`
	// Detail holds the call's arguments in short ("state=draining",
	// "svc=scheduler", "version=v2").
	Detail string `json:"detail,omitempty"`
	// Err is the error the call returned, nil on success.
	Err error `json:"-"`
}

// record appends an action. The caller holds s.mu.
func (s *Sim) record(op Op, zone string, servers []string, detail string, err error) {
	s.actions = append(s.actions, Action{
		Time: s.clock, Elapsed: s.elapsed(), Op: op, Zone: zone,
		Servers: slices.Clone(servers), Detail: detail, Err: err,
	})
}

// Actions returns the recorded driver calls in time order; with ops, only
// the calls of those operations.
func (s *Sim) Actions(ops ...Op) []Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Action
	for _, a := range s.actions {
		if len(ops) == 0 || slices.Contains(ops, a.Op) {
			a.Servers = slices.Clone(a.Servers)
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Elapsed < out[j].Elapsed })
	return out
}

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

// Bounds of the call log ([Sim.Actions]): the simulator keeps the most
// recent driver calls only, so that its memory grows with the farm and not
// with the number of calls (a poll of a 5000-member load balancer names
// every member, every 250 ms, for as long as the run lasts). [Sim.Calls]
// counts every call, kept or not.
const (
	// ActionLogSize is the most calls the log keeps.
	ActionLogSize = 100_000
	// ActionLogServers is the most server names the kept calls hold
	// together (Action.Servers); older calls go first past it.
	ActionLogServers = 1_000_000
)

// actionLog is the bounded log of driver calls: a queue of the most recent
// ones (buf[head:]) and a count of every call by operation.
type actionLog struct {
	buf    []Action
	head   int
	names  int // len(Servers) summed over buf[head:]
	counts map[Op]int
}

// record appends an action, dropping the oldest past the log's bounds.
// The caller holds s.mu.
func (s *Sim) record(op Op, zone string, servers []string, detail string, err error) {
	l := &s.actions
	if l.counts == nil {
		l.counts = map[Op]int{}
	}
	l.counts[op]++
	l.buf = append(l.buf, Action{
		Time: s.clock, Elapsed: s.elapsed(), Op: op, Zone: zone,
		Servers: slices.Clone(servers), Detail: detail, Err: err,
	})
	l.names += len(servers)
	for len(l.buf)-l.head > ActionLogSize || (l.names > ActionLogServers && len(l.buf)-l.head > 1) {
		l.names -= len(l.buf[l.head].Servers)
		l.buf[l.head] = Action{}
		l.head++
	}
	if l.head > 1024 && l.head > len(l.buf)/2 {
		n := copy(l.buf, l.buf[l.head:])
		clear(l.buf[n:])
		l.buf, l.head = l.buf[:n], 0
	}
}

// Actions returns the recorded driver calls in time order; with ops, only
// the calls of those operations. The log keeps the most recent
// [ActionLogSize] calls (fewer when they name more than [ActionLogServers]
// servers together): every call of a run on a farm of a few hundred servers,
// the last ones of a longer run. [Sim.Calls] counts them all.
func (s *Sim) Actions(ops ...Op) []Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Action
	for _, a := range s.actions.buf[s.actions.head:] {
		if len(ops) == 0 || slices.Contains(ops, a.Op) {
			a.Servers = slices.Clone(a.Servers)
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Elapsed < out[j].Elapsed })
	return out
}

// Calls returns how many driver calls the farm received since [New]; with
// ops, only the calls of those operations. Unlike [Sim.Actions] it counts
// calls the bounded log no longer holds.
func (s *Sim) Calls(ops ...Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for op, c := range s.actions.counts {
		if len(ops) == 0 || slices.Contains(ops, op) {
			n += c
		}
	}
	return n
}

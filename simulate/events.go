package simulate

import (
	"container/heap"
	"time"
)

// Event priorities: at equal times, lower runs first. Requests complete
// before health checks update, before installs and timers, before new
// arrivals, so that one instant is always processed in the same order.
const (
	prioComplete = iota
	prioHealth
	prioDeploy
	prioInstall
	prioScheduler
	prioArrival
)

// event is one thing scheduled to happen at a simulated instant.
type event struct {
	at   time.Time
	prio int
	key  string // tie-break independent of insertion order (a server or zone name)
	seq  uint64
	fn   func()
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.prio != b.prio {
		return a.prio < b.prio
	}
	if a.key != b.key {
		return a.key < b.key
	}
	return a.seq < b.seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// schedule queues fn to run at at. The caller holds s.mu.
func (s *Sim) schedule(at time.Time, prio int, key string, fn func()) {
	if at.Before(s.clock) {
		at = s.clock
	}
	s.seq++
	heap.Push(&s.queue, &event{at: at, prio: prio, key: key, seq: s.seq, fn: fn})
}

// advance runs every event due at or before now, in time order, then sets
// the simulated clock to now. Events carry their own time, so the result
// does not depend on when advance is called. The caller holds s.mu.
func (s *Sim) advance(now time.Time) {
	for len(s.queue) > 0 && !s.queue[0].at.After(now) {
		e := heap.Pop(&s.queue).(*event)
		if e.at.After(s.clock) {
			s.clock = e.at
		}
		e.fn()
	}
	if now.After(s.clock) {
		s.clock = now
	}
}

package simulate

import (
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
	ns   int64 // at as Unix nanoseconds: the heap compares integers
	prio int
	key  string // tie-break independent of insertion order (a server or zone name)
	seq  uint64
	fn   func()
}

// eventQueue is a binary min-heap of events, typed so that no comparison
// goes through an interface or compares time.Time values.
type eventQueue []*event

func (q eventQueue) less(i, j int) bool {
	a, b := q[i], q[j]
	if a.ns != b.ns {
		return a.ns < b.ns
	}
	if a.prio != b.prio {
		return a.prio < b.prio
	}
	if a.key != b.key {
		return a.key < b.key
	}
	return a.seq < b.seq
}

func (q *eventQueue) push(e *event) {
	*q = append(*q, e)
	h := *q
	for j := len(h) - 1; j > 0; {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h[i], h[j] = h[j], h[i]
		j = i
	}
}

func (q *eventQueue) pop() *event {
	h := *q
	n := len(h) - 1
	e := h[0]
	h[0] = h[n]
	h[n] = nil
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
	*q = h
	return e
}

// schedule queues fn to run at at. The caller holds s.mu.
func (s *Sim) schedule(at time.Time, prio int, key string, fn func()) {
	if at.Before(s.clock) {
		at = s.clock
	}
	s.seq++
	var e *event
	if n := len(s.free); n > 0 {
		e, s.free = s.free[n-1], s.free[:n-1]
	} else {
		e = new(event)
	}
	*e = event{at: at, ns: at.UnixNano(), prio: prio, key: key, seq: s.seq, fn: fn}
	s.queue.push(e)
}

// advance runs every event due at or before now, in time order, then sets
// the simulated clock to now. Events carry their own time, so the result
// does not depend on when advance is called. The caller holds s.mu.
func (s *Sim) advance(now time.Time) {
	limit := now.UnixNano()
	for len(s.queue) > 0 && s.queue[0].ns <= limit {
		e := s.queue.pop()
		if e.at.After(s.clock) {
			s.clock = e.at
		}
		fn := e.fn
		e.fn = nil
		s.free = append(s.free, e)
		fn()
	}
	if now.After(s.clock) {
		s.clock = now
	}
}

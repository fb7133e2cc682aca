// Package fault is the one vocabulary in which tests make the simulator and
// the fakes misbehave: the simulator's Sim.Inject and the Inject method of
// every fake (winrmtest, lifetimetest, f5test, albtest, nginxplustest) take
// a [Fault], and every field of it means the same thing everywhere.
//
// A Fault says which calls it concerns ([Fault.Op], [Fault.Target]), which
// of those it hits ([Fault.After], [Fault.Times], [Fault.Probability]) and
// how a hit call misbehaves ([Fault.Latency], [Fault.Err], [Fault.Status],
// [Fault.Code], [Fault.Message], [Fault.AfterEffect]). Each fake documents
// the names its calls have (its operations and targets), the fields it reads
// and how it puts a hit on its wire (an HTTP status with the vendor's error
// body, a WS-Management fault, a failed command). A fault that sets a field
// the fake does not read is refused rather than silently ignored.
//
// A [Set] holds the faults of one fake and decides, call by call, which one
// hits; it is safe for concurrent use. Fakes embed one.
//
// The package uses only the standard library.
package fault

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault is a misbehaviour injected into the calls it matches.
//
// A call matches when Op is empty or equal to the call's operation, and
// Target is empty or names what the call concerns. Among the matching
// calls, the fault lets the first After through, then hits the next Times
// (every one when Times is 0), each with chance Probability (certainly
// when Probability is 0).
//
// Times 0 means every matching call, because the zero value should be the
// fault a reader expects from a literal that names no count:
// Fault{Op: "Status", Err: e} reads as "Status fails", not "Status fails
// once"; a test that wants a transient failure says Times: 1. (Before this
// package, three fakes read 0 as "every call", two as "once" and one as
// "never".) A negative Times or After is refused.
type Fault struct {
	// Op is the operation the fault concerns; empty means every
	// operation. Each fake documents its operation names: the simulator's
	// Op constants, the request method for HTTP fakes (GET, PUT...), the
	// WS-Management action URI for winrmtest, the API Action for albtest.
	Op string
	// Target narrows the fault to calls concerning one thing; empty means
	// any. A fake whose calls concern named things (servers, members,
	// targets) matches Target against those names exactly ([Set.Match]);
	// a fake that answers HTTP requests matches it against any part of
	// the request path ([Set.MatchPath]). Each fake documents which.
	Target string
	// After lets the first After matching calls through before the fault
	// starts hitting.
	After int
	// Times is how many matching calls (after the first After) the fault
	// hits: 0 means every one, n > 0 exactly n.
	Times int
	// Probability, between 0 and 1, hits each matching call with that
	// chance, drawn deterministically from [Set.Seed], the fault's rank in
	// its set, the call and how many times the same call came before; 0
	// means every matching call. A call it spares does not count
	// towards Times.
	Probability float64
	// Latency is added to a hit call's duration before it answers (in
	// simulated time under the simulator or testing/synctest).
	Latency time.Duration
	// Err is the failure a hit call reports, for calls that report a Go
	// error or a command's failure: the simulator returns it wrapped (wrap
	// a drivers error class, such as drivers.ErrUnavailable, to test the
	// caller's handling); winrmtest runs no command and reports a
	// winrmtest.CommandFailed as the command's stderr and exit code.
	Err error
	// Status is the HTTP status a hit request is answered with instead of
	// the real answer, with the vendor's error body (see Code and
	// Message); 0 answers normally (after Latency).
	Status int
	// Code is the vendor's error code in that body (an AWS error code
	// such as Throttling, an NGINX Plus error code, a WS-Management fault
	// subcode); empty means the fake's documented default.
	Code string
	// Message is the error text in that body; empty means the fake's
	// default ("injected fault"). Tests use it to check that drivers scrub
	// secrets a device might echo.
	Message string
	// AfterEffect makes a hit call take effect and still fail (with Err or
	// Status): an ambiguous failure, such as a proxy timing out after the
	// device committed the change. Without it a hit call has no effect.
	AfterEffect bool
}

// Field names, as [Set.Add] takes them to say which fields a fake reads.
const (
	FieldOp          = "Op"
	FieldTarget      = "Target"
	FieldAfter       = "After"
	FieldTimes       = "Times"
	FieldProbability = "Probability"
	FieldLatency     = "Latency"
	FieldErr         = "Err"
	FieldStatus      = "Status"
	FieldCode        = "Code"
	FieldMessage     = "Message"
	FieldAfterEffect = "AfterEffect"
)

// Matching lists the fields every [Set] reads itself: which calls a fault
// concerns and which of them it hits.
var Matching = []string{FieldOp, FieldTarget, FieldAfter, FieldTimes, FieldProbability}

// ErrInvalid is wrapped by the error of [Set.Add] for a fault that cannot
// mean anything, or that sets a field the fake does not read.
var ErrInvalid = errors.New("invalid fault")

// set returns the names of f's fields that are not zero.
func (f Fault) set() []string {
	var out []string
	for _, c := range []struct {
		name string
		on   bool
	}{
		{FieldOp, f.Op != ""}, {FieldTarget, f.Target != ""}, {FieldAfter, f.After != 0},
		{FieldTimes, f.Times != 0}, {FieldProbability, f.Probability != 0}, {FieldLatency, f.Latency != 0},
		{FieldErr, f.Err != nil}, {FieldStatus, f.Status != 0}, {FieldCode, f.Code != ""},
		{FieldMessage, f.Message != ""}, {FieldAfterEffect, f.AfterEffect},
	} {
		if c.on {
			out = append(out, c.name)
		}
	}
	return out
}

// check reports what makes f unusable by a fake that reads the fields
// named in reads (every field when reads is empty).
func (f Fault) check(reads []string) error {
	switch {
	case f.Times < 0:
		return fmt.Errorf("%w: Times %d: want 0 (every matching call) or a positive count", ErrInvalid, f.Times)
	case f.After < 0:
		return fmt.Errorf("%w: After %d: want 0 or a positive count of calls to let through", ErrInvalid, f.After)
	case f.Probability < 0 || f.Probability > 1 || math.IsNaN(f.Probability):
		return fmt.Errorf("%w: Probability %v: want a number between 0 and 1", ErrInvalid, f.Probability)
	case f.Latency < 0:
		return fmt.Errorf("%w: Latency %v: want 0 or a positive duration", ErrInvalid, f.Latency)
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return fmt.Errorf("%w: Status %d: want an HTTP status between 100 and 599", ErrInvalid, f.Status)
	}
	if len(reads) == 0 {
		return nil
	}
	for _, name := range f.set() {
		if !slices.Contains(reads, name) && !slices.Contains(Matching, name) {
			return fmt.Errorf("%w: field %s is set but this fake does not read it: want only %s", ErrInvalid, name,
				strings.Join(append(slices.Clone(Matching), reads...), ", "))
		}
	}
	return nil
}

// Set is the list of faults of one fake or simulator, tried in the order
// they were added: the first that hits a call decides its misbehaviour.
// The zero value is an empty set ready to use; a Set must not be copied
// after first use. It is safe for concurrent use.
type Set struct {
	// Seed drives the draws of faults with a Probability: the same seed
	// and the same sequence of calls hit the same calls.
	Seed uint64

	mu     sync.Mutex
	faults []*state
	next   int
	hits   int
}

type state struct {
	Fault
	index   int
	matched int
	hits    int
	ranks   map[string]int
}

// Add appends f. reads names the fields, beyond [Matching], that the fake
// reads ([FieldLatency], [FieldStatus]...); a fault setting any other field
// is refused, so that no fault is silently ignored. With no reads every
// field is accepted. The error wraps [ErrInvalid] and names the bad value.
func (s *Set) Add(f Fault, reads ...string) error {
	if err := f.check(reads); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &state{Fault: f, index: s.next, ranks: map[string]int{}})
	s.next++
	return nil
}

// MustAdd is [Set.Add] for a fake's Inject method, which has no error to
// return: a fault the fake cannot honour means the test is wrong, so it
// panics with the fake's name and the error.
func (s *Set) MustAdd(fake string, f Fault, reads ...string) {
	if err := s.Add(f, reads...); err != nil {
		panic(fake + ": " + err.Error())
	}
}

// Clear removes every fault and forgets the hits counted so far: the set is
// as new (the same Seed draws the same calls again).
func (s *Set) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.hits, s.next = nil, 0, 0
}

// Count returns how many calls the set's faults have hit since it was made
// or last cleared.
func (s *Set) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// Len returns how many faults the set holds, spent ones included.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults)
}

// Match decides a call of op concerning the named targets (servers,
// members...; none for a call that concerns no particular thing): a fault's
// Target matches when it is empty or equal to one of them. It returns the
// fault that hits the call, and counts the call against every fault it
// matched up to that one.
func (s *Set) Match(op string, targets ...string) (Fault, bool) {
	return s.match(op, strings.Join(targets, ","), func(t string) bool { return slices.Contains(targets, t) })
}

// MatchPath decides an HTTP request with method op for path: a fault's
// Target matches when it is empty or a part of path (a substring, such as
// "/members/" or "/stats"). Otherwise it is [Set.Match].
func (s *Set) MatchPath(op, path string) (Fault, bool) {
	return s.match(op, path, func(t string) bool { return strings.Contains(path, t) })
}

func (s *Set) match(op, key string, concerns func(string) bool) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key = op + "/" + key
	for _, f := range s.faults {
		if (f.Op != "" && f.Op != op) || (f.Target != "" && !concerns(f.Target)) {
			continue
		}
		f.matched++
		if f.matched <= f.After || (f.Times > 0 && f.hits >= f.Times) {
			continue
		}
		if f.Probability > 0 {
			f.ranks[key]++
			h := fnv.New64a()
			fmt.Fprintf(h, "%d/%d/%s/%d", s.Seed, f.index, key, f.ranks[key])
			if float64(mix(h.Sum64())>>11)/float64(1<<53) >= f.Probability {
				continue
			}
		}
		f.hits++
		s.hits++
		return f.Fault, true
	}
	return Fault{}, false
}

// mix is the splitmix64 finalizer: FNV alone barely changes its high bits
// when only the last byte of the input differs.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Wait waits f.Latency, or until ctx is done (then it returns ctx's
// error). Fakes call it before answering a hit request.
func (f Fault) Wait(ctx context.Context) error {
	if f.Latency <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(f.Latency)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package fault_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/fault"
)

// hits runs n calls of op on target through s and returns which of them
// (0-based) were hit.
func hits(s *fault.Set, n int, op string, targets ...string) []int {
	var out []int
	for i := range n {
		if _, ok := s.Match(op, targets...); ok {
			out = append(out, i)
		}
	}
	return out
}

func TestTimesAndAfter(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    fault.Fault
		want []int
	}{
		{"Times 0 hits every call", fault.Fault{Op: "Status"}, []int{0, 1, 2, 3, 4, 5}},
		{"Times 1 hits once", fault.Fault{Op: "Status", Times: 1}, []int{0}},
		{"Times 3 hits three", fault.Fault{Op: "Status", Times: 3}, []int{0, 1, 2}},
		{"After skips the first", fault.Fault{Op: "Status", After: 2, Times: 3}, []int{2, 3, 4}},
		{"After alone hits every later call", fault.Fault{Op: "Status", After: 4}, []int{4, 5}},
		{"empty Op matches every op", fault.Fault{Times: 2}, []int{0, 1}},
		{"other op never", fault.Fault{Op: "SetState"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s fault.Set
			require.NoError(t, s.Add(tc.f))
			assert.Equal(t, tc.want, hits(&s, 6, "Status", "fe01"))
			assert.Equal(t, len(tc.want), s.Count())
		})
	}
}

func TestTarget(t *testing.T) {
	var s fault.Set
	require.NoError(t, s.Add(fault.Fault{Op: "Status", Target: "fe02", Err: errors.New("down")}))
	_, ok := s.Match("Status", "fe01")
	assert.False(t, ok, "another server")
	_, ok = s.Match("Status", "fe10", "fe20")
	assert.False(t, ok, "Match compares names exactly, fe02 is not part of fe20")
	_, ok = s.Match("Status")
	assert.False(t, ok, "a call concerning nothing in particular")
	f, ok := s.Match("Status", "fe01", "fe02")
	require.True(t, ok, "one of the call's targets")
	assert.EqualError(t, f.Err, "down")

	var p fault.Set
	require.NoError(t, p.Add(fault.Fault{Op: "GET", Target: "/stats", Status: 503}))
	_, ok = p.MatchPath("GET", "/mgmt/tm/ltm/pool/p/members")
	assert.False(t, ok)
	_, ok = p.MatchPath("PUT", "/mgmt/tm/ltm/pool/p/members/m/stats")
	assert.False(t, ok, "another method")
	f, ok = p.MatchPath("GET", "/mgmt/tm/ltm/pool/p/members/m/stats")
	require.True(t, ok, "a part of the path")
	assert.Equal(t, 503, f.Status)
}

func TestOrderFirstHitDecides(t *testing.T) {
	var s fault.Set
	require.NoError(t, s.Add(fault.Fault{Op: "Status", Times: 1, Code: "first"}))
	require.NoError(t, s.Add(fault.Fault{Op: "Status", Code: "second"}))
	var codes []string
	for range 3 {
		f, ok := s.Match("Status")
		require.True(t, ok)
		codes = append(codes, f.Code)
	}
	assert.Equal(t, []string{"first", "second", "second"}, codes)
	s.Clear()
	assert.Zero(t, s.Count())
	assert.Zero(t, s.Len())
	_, ok := s.Match("Status")
	assert.False(t, ok, "cleared")
}

func TestProbabilityIsDeterministic(t *testing.T) {
	draw := func(seed uint64) []int {
		s := fault.Set{Seed: seed}
		require.NoError(t, s.Add(fault.Fault{Op: "Status", Probability: 0.3}))
		return hits(&s, 1000, "Status", "fe01")
	}
	a := draw(7)
	assert.Equal(t, a, draw(7), "same seed, same calls hit")
	assert.NotEqual(t, a, draw(8), "another seed, other calls")
	assert.InDelta(t, 300, len(a), 60, "about 30%% of 1000 calls")

	s := fault.Set{Seed: 7}
	require.NoError(t, s.Add(fault.Fault{Op: "Status", Probability: 0.5, Times: 2}))
	assert.Len(t, hits(&s, 100, "Status"), 2, "Times bounds the hits a probability draws")
}

func TestAddRefuses(t *testing.T) {
	for _, tc := range []struct {
		f     fault.Fault
		reads []string
		want  string
	}{
		{fault.Fault{Times: -1}, nil, "Times -1"},
		{fault.Fault{After: -2}, nil, "After -2"},
		{fault.Fault{Probability: 1.5}, nil, "Probability 1.5"},
		{fault.Fault{Latency: -time.Second}, nil, "Latency -1s"},
		{fault.Fault{Status: 42}, nil, "Status 42"},
		{fault.Fault{Op: "GET", Err: errors.New("x")}, []string{fault.FieldStatus}, "field Err is set but this fake does not read it"},
		{fault.Fault{AfterEffect: true, Status: 504}, []string{fault.FieldStatus}, "field AfterEffect"},
	} {
		var s fault.Set
		err := s.Add(tc.f, tc.reads...)
		require.ErrorIs(t, err, fault.ErrInvalid, "%+v", tc.f)
		assert.ErrorContains(t, err, tc.want)
		assert.Zero(t, s.Len())
	}
	var s fault.Set
	require.NoError(t, s.Add(fault.Fault{Op: "GET", Target: "/x", After: 1, Times: 2, Probability: 0.5, Status: 503}, fault.FieldStatus),
		"the matching fields are always read")
}

func TestConcurrentUse(t *testing.T) {
	var s fault.Set
	require.NoError(t, s.Add(fault.Fault{Op: "Status", After: 10, Times: 100}))
	const workers, calls = 8, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	hit := 0
	for range workers {
		wg.Go(func() {
			for range calls {
				if _, ok := s.Match("Status", "fe01"); ok {
					mu.Lock()
					hit++
					mu.Unlock()
				}
				_ = s.Count()
			}
		})
	}
	wg.Go(func() { _ = s.Add(fault.Fault{Op: "Other"}) })
	wg.Wait()
	assert.Equal(t, 100, hit, "exactly Times hits among %d concurrent calls", workers*calls)
	assert.Equal(t, 100, s.Count())
}

func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		require.NoError(t, fault.Fault{Latency: 3 * time.Second}.Wait(context.Background()))
		assert.Equal(t, 3*time.Second, time.Since(start))

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		require.ErrorIs(t, fault.Fault{Latency: time.Hour}.Wait(ctx), context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start), "the wait ends with the context")
	})
}

// TestMustAdd checks that a fake's Inject panics naming the fake and the bad
// field, and adds a fault it can honour.
func TestMustAdd(t *testing.T) {
	var s fault.Set
	assert.PanicsWithValue(t, "examplefake: invalid fault: field Err is set but this fake does not read it: want only Op, Target, After, Times, Probability, Status",
		func() { s.MustAdd("examplefake", fault.Fault{Err: errors.New("x")}, fault.FieldStatus) })
	assert.Zero(t, s.Len())
	s.MustAdd("examplefake", fault.Fault{Op: "GET", Status: 503}, fault.FieldStatus)
	f, hit := s.Match("GET")
	require.True(t, hit)
	assert.Equal(t, 503, f.Status)
}

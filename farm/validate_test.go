package farm_test

import (
	"context"
	"math"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sliceLB is a load balancer whose dynamic type is not comparable.
type sliceLB []string

func (sliceLB) SetState(context.Context, drivers.MemberState, ...string) error { return nil }
func (sliceLB) Status(context.Context, ...string) ([]drivers.MemberStatus, error) {
	return nil, nil
}

// mapFieldLB is a struct value with a map field: not comparable either.
type mapFieldLB struct {
	members map[string]drivers.MemberState
}

func (mapFieldLB) SetState(context.Context, drivers.MemberState, ...string) error { return nil }
func (mapFieldLB) Status(context.Context, ...string) ([]drivers.MemberStatus, error) {
	return nil, nil
}

// anyFieldLB has a comparable type, but a value holding a slice in its
// interface field is not comparable (hashing it panics).
type anyFieldLB struct{ opts any }

func (anyFieldLB) SetState(context.Context, drivers.MemberState, ...string) error { return nil }
func (anyFieldLB) Status(context.Context, ...string) ([]drivers.MemberStatus, error) {
	return nil, nil
}

// ptrLB is the usual shape: a pointer, comparable.
type ptrLB struct{ members []string }

func (*ptrLB) SetState(context.Context, drivers.MemberState, ...string) error { return nil }
func (*ptrLB) Status(context.Context, ...string) ([]drivers.MemberStatus, error) {
	return nil, nil
}

// funcLB is a load balancer written as a function type.
type funcLB func()

func (funcLB) SetState(context.Context, drivers.MemberState, ...string) error { return nil }
func (funcLB) Status(context.Context, ...string) ([]drivers.MemberStatus, error) {
	return nil, nil
}

// TestNewRefusesUnusableLoadBalancer checks that farm.New returns
// ErrInvalidFarm, naming the type, for a load balancer it cannot use, instead
// of panicking ("hash of unhashable type") or accepting a nil driver whose
// first call would panic.
func TestNewRefusesUnusableLoadBalancer(t *testing.T) {
	tests := []struct {
		name string
		lb   drivers.LoadBalancer
		want string
	}{
		{"slice type", sliceLB{"fe01"}, "load balancer of type farm_test.sliceLB is not comparable"},
		{"struct with a map", mapFieldLB{members: map[string]drivers.MemberState{}}, "load balancer of type farm_test.mapFieldLB is not comparable"},
		{"struct holding a slice in an interface", anyFieldLB{opts: []int{1}}, "load balancer of type farm_test.anyFieldLB is not comparable"},
		{"func type", funcLB(func() {}), "load balancer of type farm_test.funcLB is not comparable"},
		{"nil pointer", (*ptrLB)(nil), "load balancer is a nil *farm_test.ptrLB"},
		{"nil slice", sliceLB(nil), "load balancer is a nil farm_test.sliceLB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, cfg := range []farm.Config{
				{Zones: farm.AutoSplit(servers(4)), LoadBalancer: tt.lb},
				{Zones: []farm.ZoneSpec{{Name: "z", Updating: servers(2), Loaded: servers(4)[2:], LoadBalancer: tt.lb}}},
			} {
				var err error
				require.NotPanics(t, func() { _, err = farm.New(cfg) })
				require.ErrorIs(t, err, farm.ErrInvalidFarm)
				assert.ErrorContains(t, err, tt.want)
			}
		})
	}
	_, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(4)), LoadBalancer: &ptrLB{members: []string{"fe01"}}})
	assert.NoError(t, err, "a pointer to a struct with a slice is comparable and usable")
	_, err = farm.New(farm.Config{Zones: farm.AutoSplit(servers(4)), LoadBalancer: anyFieldLB{opts: "x"}})
	assert.NoError(t, err, "a comparable value is usable")
}

// TestNewRedactsProbeURL checks that no refusal of a probe URL quotes its
// user info, even when the URL does not parse.
func TestNewRedactsProbeURL(t *testing.T) {
	for _, raw := range []string{
		"https://TOKEN-s3cr3t@fe01.internal/",
		"https://ops:s3cr3t@fe01.internal/",
		"https://ops:s3cr3t%zz@fe01.internal/",
		"https://ops:s3cr3t@fe01.internal:bad/",
		"https://ops:s3cr3t\n@fe01.internal/",
		"ops:s3cr3t@fe01.internal",
	} {
		t.Run(raw, func(t *testing.T) {
			list := servers(4)
			list[0].ProbeURL = raw
			_, err := farm.New(farm.Config{Zones: farm.AutoSplit(list), LoadBalancer: &ptrLB{}})
			require.ErrorIs(t, err, farm.ErrInvalidFarm)
			assert.NotContains(t, err.Error(), "s3cr3t")
			assert.NotContains(t, err.Error(), "TOKEN")
			assert.Contains(t, err.Error(), "[redacted]")
			assert.Contains(t, err.Error(), "server fe01")
		})
	}
}

// TestNewPlanRefusesUnusableRetryPolicy checks the retry values a plan
// cannot use: a NaN or infinite multiplier (NaN backoffs retry at once,
// forever), one below 1 (backoffs that shrink), a NaN jitter or one above 1
// (a negative jitter disables it).
func TestNewPlanRefusesUnusableRetryPolicy(t *testing.T) {
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(4)), LoadBalancer: &ptrLB{}})
	require.NoError(t, err)
	for _, tt := range []struct {
		p    farm.RetryPolicy
		want string
	}{
		{farm.RetryPolicy{Multiplier: math.NaN()}, "multiplier NaN"},
		{farm.RetryPolicy{Multiplier: math.Inf(1)}, "multiplier +Inf"},
		{farm.RetryPolicy{Multiplier: 0.5}, "multiplier 0.5"},
		{farm.RetryPolicy{Jitter: math.NaN()}, "jitter NaN"},
		{farm.RetryPolicy{Jitter: 1.5}, "jitter 1.5"},
	} {
		_, err := farm.NewPlan(f, farm.PlanConfig{Retry: tt.p})
		assert.ErrorContains(t, err, tt.want)
	}
	for _, ok := range []farm.RetryPolicy{{Multiplier: 1, Jitter: 1}, {Jitter: -1}} {
		_, err = farm.NewPlan(f, farm.PlanConfig{Retry: ok})
		assert.NoError(t, err, "%+v", ok)
	}
}

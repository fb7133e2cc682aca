package f5test_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func call(t *testing.T, c *http.Client, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "https://bigip.test"+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("X-F5-Auth-Token", token)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestFakeTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := f5test.New(f5test.Config{TokenLifetime: time.Minute, Store: f5test.NewMemStore("n:80")})
		c := s.Client()
		const members = "/mgmt/tm/ltm/pool/~Common~pool/members"
		code, _ := call(t, c, "GET", members, "", "")
		assert.Equal(t, 401, code, "no token")
		code, _ = call(t, c, "POST", "/mgmt/shared/authn/login", "", `{"username":"admin","password":"nope","loginProviderName":"tmos"}`)
		assert.Equal(t, 401, code, "bad password")
		code, body := call(t, c, "POST", "/mgmt/shared/authn/login", "", `{"username":"admin","password":"admin","loginProviderName":"tmos"}`)
		require.Equal(t, 200, code)
		tok := s.IssuedTokens()[0]
		assert.Contains(t, body, `"token":"`+tok+`"`)
		assert.Contains(t, body, `"timeout":60`)
		code, _ = call(t, c, "GET", members, tok, "")
		assert.Equal(t, 200, code)
		time.Sleep(time.Minute)
		code, _ = call(t, c, "GET", members, tok, "")
		assert.Equal(t, 401, code, "expired")

		_, _ = call(t, c, "POST", "/mgmt/shared/authn/login", "", `{"username":"admin","password":"admin","loginProviderName":"tmos"}`)
		tok = s.IssuedTokens()[1]
		code, _ = call(t, c, "PATCH", "/mgmt/shared/authz/tokens/"+tok, tok, `{"timeout":36001}`)
		assert.Equal(t, 400, code, "over the maximum")
		code, _ = call(t, c, "PATCH", "/mgmt/shared/authz/tokens/"+tok, tok, `{"timeout":600}`)
		assert.Equal(t, 200, code)
		time.Sleep(5 * time.Minute)
		code, _ = call(t, c, "GET", members, tok, "")
		assert.Equal(t, 200, code, "extended")
		s.RevokeTokens()
		code, _ = call(t, c, "GET", members, tok, "")
		assert.Equal(t, 401, code, "revoked")
		for _, r := range s.Requests() {
			assert.NotContains(t, r.Body, `"password":"admin"`, "recorded login bodies hide the password")
		}
	})
}

func TestFakeMembers(t *testing.T) {
	store := f5test.NewMemStore("n:80")
	s := f5test.New(f5test.Config{Store: store})
	c := s.Client()
	_, _ = call(t, c, "POST", "/mgmt/shared/authn/login", "", `{"username":"admin","password":"admin","loginProviderName":"tmos"}`)
	tok := s.IssuedTokens()[0]
	const m = "/mgmt/tm/ltm/pool/~Common~pool/members/~Common~n:80"
	code, body := call(t, c, "GET", m, tok, "")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `"session":"monitor-enabled"`)
	assert.Contains(t, body, `"state":"up"`)
	code, _ = call(t, c, "PUT", m, tok, `{"state":"user-down","session":"user-disabled"}`)
	require.Equal(t, 200, code)
	got, _ := store.Member("n:80")
	assert.True(t, got.Disabled && got.ForcedOffline)
	code, _ = call(t, c, "PATCH", m, tok, `{"state":"unchecked","session":"user-enabled"}`)
	require.Equal(t, 200, code)
	got, _ = store.Member("n:80")
	assert.False(t, got.Disabled || got.ForcedOffline)
	code, _ = call(t, c, "PUT", m, tok, `{"state":"sideways"}`)
	assert.Equal(t, 400, code)
	code, _ = call(t, c, "GET", "/mgmt/tm/ltm/pool/~Common~pool/members/~Common~x:80", tok, "")
	assert.Equal(t, 404, code)
	code, _ = call(t, c, "GET", "/mgmt/tm/ltm/pool/~Common~other/members", tok, "")
	assert.Equal(t, 404, code)
	store.SetConns("n:80", 4)
	code, body = call(t, c, "GET", m+"/stats", tok, "")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `"serverside.curConns":{"value":4}`)

	s.Inject(fault.Fault{Op: "GET", Target: "/stats", Status: 429, Times: 2})
	for range 2 {
		code, _ = call(t, c, "GET", m+"/stats", tok, "")
		assert.Equal(t, 429, code)
	}
	code, _ = call(t, c, "GET", m+"/stats", tok, "")
	assert.Equal(t, 200, code, "the fault is used up")
	s.Inject(fault.Fault{Op: "PUT", Status: 502, AfterEffect: true, Times: 1})
	code, _ = call(t, c, "PUT", m, tok, `{"session":"user-disabled"}`)
	assert.Equal(t, 502, code)
	got, _ = store.Member("n:80")
	assert.True(t, got.Disabled, "an After fault applies the change")
}

// memLB is a minimal drivers.LoadBalancer to back the fake with.
type memLB struct {
	st map[string]drivers.MemberState
}

func (l *memLB) SetState(_ context.Context, s drivers.MemberState, ms ...string) error {
	for _, m := range ms {
		l.st[m] = s
	}
	return nil
}

func (l *memLB) Status(_ context.Context, ms ...string) ([]drivers.MemberStatus, error) {
	if len(ms) == 0 {
		ms = []string{"a"}
	}
	var out []drivers.MemberStatus
	for _, m := range ms {
		st, ok := l.st[m]
		if !ok {
			return nil, fmt.Errorf("member %q: %w", m, drivers.ErrNotFound)
		}
		out = append(out, drivers.MemberStatus{Member: m, State: st, Health: drivers.Healthy, ActiveConnections: 3, ConnectionsKnown: true})
	}
	return out, nil
}

func TestLoadBalancerStore(t *testing.T) {
	lb := &memLB{st: map[string]drivers.MemberState{"a": drivers.Serving}}
	store := f5test.LoadBalancerStore(lb, 80) // the backing member "a" is the pool member "a:80"
	ctx := context.Background()
	for _, tc := range []struct {
		disabled, forced bool
		want             drivers.MemberState
	}{{true, false, drivers.Draining}, {true, true, drivers.Out}, {false, false, drivers.Serving}} {
		require.NoError(t, store.Set(ctx, "a:80", tc.disabled, tc.forced))
		assert.Equal(t, tc.want, lb.st["a"])
		m, ok, err := store.Get(ctx, "a:80")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, f5test.Member{Name: "a:80", Disabled: tc.disabled, ForcedOffline: tc.forced, Healthy: true, CurConns: 3}, m)
	}
	for _, name := range []string{"b:80", "a", "a:81"} {
		_, ok, err := store.Get(ctx, name)
		require.NoError(t, err)
		assert.False(t, ok, name)
	}
	all, err := store.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, "a:80", all[0].Name)
}

// switchLB records how a batch reached it.
type switchLB struct {
	memLB
	calls []string
}

func (l *switchLB) SetState(ctx context.Context, s drivers.MemberState, ms ...string) error {
	l.calls = append(l.calls, fmt.Sprintf("set %s %v", s, ms))
	return l.memLB.SetState(ctx, s, ms...)
}

func (l *switchLB) Switch(_ context.Context, serve, drain []string) error {
	l.calls = append(l.calls, fmt.Sprintf("switch %v %v", serve, drain))
	return nil
}

func TestLoadBalancerStoreBatches(t *testing.T) {
	lb := &switchLB{memLB: memLB{st: map[string]drivers.MemberState{"a": drivers.Serving, "b": drivers.Serving, "c": drivers.Serving}}}
	b := f5test.LoadBalancerStore(lb, 80).(f5test.Batcher)
	ctx := context.Background()
	require.NoError(t, b.SetAll(ctx, []f5test.Change{{Name: "a:80"}, {Name: "b:80", Disabled: true}}))
	require.NoError(t, b.SetAll(ctx, []f5test.Change{{Name: "a:80", Disabled: true, ForcedOffline: true}, {Name: "c:80", Disabled: true, ForcedOffline: true}}))
	require.NoError(t, b.SetAll(ctx, []f5test.Change{{Name: "a:80"}, {Name: "c:80", Disabled: true, ForcedOffline: true}}))
	assert.Equal(t, []string{"switch [a] [b]", "set out [a c]", "set serving [a]", "set out [c]"}, lb.calls)
}

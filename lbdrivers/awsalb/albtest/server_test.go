package albtest_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
)

func post(t *testing.T, url string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestWireFormat(t *testing.T) {
	store := albtest.NewMemStore(albtest.MemConfig{Targets: []string{"i-1"}})
	fake := albtest.New(albtest.Config{Store: store})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	base := url.Values{"Version": {"2015-12-01"}, "TargetGroupArn": {albtest.DefaultTargetGroupARN}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range base {
			f[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}

	code, body := post(t, srv.URL, with("Action", "RegisterTargets", "Targets.member.1.Id", "i-1", "Targets.member.1.Port", "8080"))
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `<RegisterTargetsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><RegisterTargetsResult></RegisterTargetsResult><ResponseMetadata><RequestId>`)

	code, body = post(t, srv.URL, with("Action", "DescribeTargetHealth"))
	require.Equal(t, 200, code)
	assert.Contains(t, body, `<TargetHealthDescriptions><member><Target><Id>i-1</Id><Port>8080</Port></Target><HealthCheckPort>8080</HealthCheckPort><TargetHealth><State>healthy</State></TargetHealth></member></TargetHealthDescriptions>`)

	code, body = post(t, srv.URL, with("Action", "DescribeTargetGroupAttributes"))
	require.Equal(t, 200, code)
	assert.Contains(t, body, `<member><Key>deregistration_delay.timeout_seconds</Key><Value>300</Value></member>`)

	var e struct {
		Type string `xml:"Error>Type"`
		Code string `xml:"Error>Code"`
	}
	for _, tc := range []struct {
		form url.Values
		code string
	}{
		{with("Action", "DescribeTargetHealth", "Targets.member.1.Id", "i-404"), "InvalidTarget"},
		{with("Action", "DescribeTargetHealth", "TargetGroupArn", "arn:x"), "TargetGroupNotFound"},
		{with("Action", "DescribeTargetHealth", "Version", "2012-06-01"), "InvalidParameterValue"},
		{with("Action", "DeleteTargetGroup"), "InvalidAction"},
		{with("Action", "RegisterTargets"), "ValidationError"},
	} {
		code, body = post(t, srv.URL, tc.form)
		assert.Equal(t, 400, code)
		assert.Contains(t, body, `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>`+tc.code+`</Code>`)
		require.NoError(t, xml.Unmarshal([]byte(strings.TrimPrefix(body, xml.Header)), &e))
		assert.Equal(t, tc.code, e.Code)
		assert.Equal(t, "Sender", e.Type)
		assert.Contains(t, body, "<RequestId>")
	}

	fake.Inject(fault.Fault{Op: "DescribeTargetHealth", Code: "Throttling", Times: 2, Status: 400})
	for range 2 {
		code, body = post(t, srv.URL, with("Action", "DescribeTargetHealth"))
		assert.Equal(t, 400, code)
		assert.Contains(t, body, "<Code>Throttling</Code>")
	}
	code, _ = post(t, srv.URL, with("Action", "DescribeTargetHealth"))
	assert.Equal(t, 200, code, "the fault is used up")
	fake.Inject(fault.Fault{Code: "ServiceUnavailable", Status: 503, Times: 1})
	code, body = post(t, srv.URL, with("Action", "DeregisterTargets", "Targets.member.1.Id", "i-1", "Targets.member.1.Port", "8080"))
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "<Type>Receiver</Type>")
	h, err := store.Describe(context.Background(), []albtest.Target{{ID: "i-1", Port: 8080}})
	require.NoError(t, err)
	assert.Equal(t, "healthy", h[0].State, "a faulted call changes nothing")
	reqs := fake.Requests()
	assert.Equal(t, "ServiceUnavailable", reqs[len(reqs)-1].Code)
}

func TestMemStoreTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := albtest.NewMemStore(albtest.MemConfig{Targets: []string{"a"}, DeregistrationDelay: time.Minute, HealthCheckDelay: 10 * time.Second})
		ctx := context.Background()
		state := func() string {
			h, err := s.Describe(ctx, []albtest.Target{{ID: "a"}})
			require.NoError(t, err)
			return h[0].State
		}
		assert.Equal(t, "unused", state())
		require.NoError(t, s.Register(ctx, []albtest.Target{{ID: "a"}}))
		assert.Equal(t, "initial", state())
		time.Sleep(10 * time.Second)
		assert.Equal(t, "healthy", state())
		require.NoError(t, s.Deregister(ctx, []albtest.Target{{ID: "a"}}))
		assert.Equal(t, "draining", state())
		time.Sleep(time.Minute)
		assert.Equal(t, "unused", state())
		all, err := s.Describe(ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, all)
		var ae *albtest.APIError
		require.ErrorAs(t, s.Register(ctx, []albtest.Target{{ID: "b"}}), &ae)
		assert.Equal(t, "InvalidTarget", ae.Code)
	})
}

// memLB is a minimal drivers.LoadBalancer to back the fake with.
type memLB struct {
	mu sync.Mutex
	st map[string]drivers.MemberState
}

func (l *memLB) state(m string) drivers.MemberState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st[m]
}

func (l *memLB) SetState(_ context.Context, s drivers.MemberState, ms ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range ms {
		if _, ok := l.st[m]; !ok {
			return drivers.ErrNotFound
		}
		l.st[m] = s
	}
	return nil
}

func (l *memLB) Status(_ context.Context, ms ...string) ([]drivers.MemberStatus, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(ms) == 0 {
		ms = []string{"a"}
	}
	var out []drivers.MemberStatus
	for _, m := range ms {
		st, ok := l.st[m]
		if !ok {
			return nil, drivers.ErrNotFound
		}
		out = append(out, drivers.MemberStatus{Member: m, State: st, Health: drivers.Healthy})
	}
	return out, nil
}

func TestLoadBalancerStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lb := &memLB{st: map[string]drivers.MemberState{"a": drivers.Out}}
		s := albtest.LoadBalancerStoreLag(lb, time.Minute, 0)
		ctx := context.Background()
		a := []albtest.Target{{ID: "a"}}
		require.NoError(t, s.Register(ctx, a))
		assert.Equal(t, drivers.Serving, lb.state("a"))
		h, err := s.Describe(ctx, a)
		require.NoError(t, err)
		assert.Equal(t, "healthy", h[0].State)
		require.NoError(t, s.Deregister(ctx, a))
		assert.Equal(t, drivers.Draining, lb.state("a"), "no lag: draining at once")
		time.Sleep(59 * time.Second)
		h, _ = s.Describe(ctx, a)
		assert.Equal(t, "draining", h[0].State)
		time.Sleep(time.Second)
		h, _ = s.Describe(ctx, a)
		assert.Equal(t, "unused", h[0].State)
		assert.Equal(t, drivers.Out, lb.state("a"), "after the delay the member is taken out")
		var ae *albtest.APIError
		require.ErrorAs(t, s.Register(ctx, []albtest.Target{{ID: "zz"}}), &ae)
		assert.Equal(t, "InvalidTarget", ae.Code)
	})
}

// TestLoadBalancerStoreRoutingLag: the default store keeps the member
// serving (new requests reach it) for DefaultRoutingLag after the
// deregistration while reporting it draining, as ALB does.
func TestLoadBalancerStoreRoutingLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lb := &memLB{st: map[string]drivers.MemberState{"a": drivers.Serving}}
		s := albtest.LoadBalancerStore(lb, 5*time.Second)
		ctx := context.Background()
		a := []albtest.Target{{ID: "a"}}
		require.NoError(t, s.Deregister(ctx, a))
		h, err := s.Describe(ctx, a)
		require.NoError(t, err)
		assert.Equal(t, "draining", h[0].State, "DescribeTargetHealth reads draining at once")
		assert.Equal(t, drivers.Serving, lb.state("a"), "but the member still takes new requests")
		time.Sleep(albtest.DefaultRoutingLag - time.Millisecond)
		synctest.Wait()
		assert.Equal(t, drivers.Serving, lb.state("a"), "within the lag")
		h, _ = s.Describe(ctx, a)
		assert.Equal(t, "draining", h[0].State, "not unused while still routed to, although the 5 s delay passed")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		assert.Equal(t, drivers.Draining, lb.state("a"), "the lag is over")
		time.Sleep(5*time.Second - time.Millisecond)
		h, _ = s.Describe(ctx, a)
		assert.Equal(t, "draining", h[0].State, "requests accepted during the lag get the delay to finish")
		time.Sleep(time.Millisecond)
		h, _ = s.Describe(ctx, a)
		assert.Equal(t, "unused", h[0].State)
		assert.Equal(t, drivers.Out, lb.state("a"))

		// Registering again within the lag cancels it.
		require.NoError(t, s.Register(ctx, a))
		require.NoError(t, s.Deregister(ctx, a))
		time.Sleep(time.Second)
		require.NoError(t, s.Register(ctx, a))
		time.Sleep(albtest.DefaultRoutingLag)
		synctest.Wait()
		assert.Equal(t, drivers.Serving, lb.state("a"), "the lag's end does not drain a re-registered member")
	})
}

// TestMemStoreRoutingLag: MemStore.Routes keeps reporting a deregistered
// target routed to for RoutingLag while DescribeTargetHealth reads draining
// (asynchronous deregistration; see DefaultRoutingLag for the sources).
func TestMemStoreRoutingLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			lag, want time.Duration
		}{{0, albtest.DefaultRoutingLag}, {3 * time.Second, 3 * time.Second}, {-1, 0}} {
			s := albtest.NewMemStore(albtest.MemConfig{Targets: []string{"a"}, RoutingLag: tc.lag, DeregistrationDelay: time.Minute})
			ctx := context.Background()
			a := albtest.Target{ID: "a"}
			assert.False(t, s.Routes(a), "not registered")
			require.NoError(t, s.Register(ctx, []albtest.Target{a}))
			assert.True(t, s.Routes(a))
			require.NoError(t, s.Deregister(ctx, []albtest.Target{a}))
			h, err := s.Describe(ctx, []albtest.Target{a})
			require.NoError(t, err)
			assert.Equal(t, "draining", h[0].State)
			if tc.want > 0 {
				assert.True(t, s.Routes(a), "lag %v: still routed just after the deregistration", tc.lag)
				time.Sleep(tc.want - time.Millisecond)
				assert.True(t, s.Routes(a), "lag %v: still routed", tc.lag)
				time.Sleep(time.Millisecond)
			}
			assert.False(t, s.Routes(a), "lag %v: no longer routed", tc.lag)
		}
	})
}

// TestSigV4WithTheSDK: with Credentials set, the fake verifies the SDK's
// Signature Version 4 signatures and refuses wrong ones as ELBv2 does.
func TestSigV4WithTheSDK(t *testing.T) {
	store := albtest.NewMemStore(albtest.MemConfig{Targets: []string{"i-1"}})
	fake := albtest.New(albtest.Config{Store: store, Credentials: map[string]string{"AKIAIOSFODNN7EXAMPLE": "right-secret"}})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	call := func(creds aws.CredentialsProvider) error {
		c := elbv2.New(elbv2.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1})
		_, err := c.RegisterTargets(t.Context(), &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(albtest.DefaultTargetGroupARN), Targets: []types.TargetDescription{{Id: aws.String("i-1")}}})
		return err
	}
	require.NoError(t, call(credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "right-secret", "")))
	for _, tc := range []struct {
		creds aws.CredentialsProvider
		code  string
	}{
		{credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wrong-secret", ""), "SignatureDoesNotMatch"},
		{credentials.NewStaticCredentialsProvider("AKIAUNKNOWN", "right-secret", ""), "InvalidClientTokenId"},
		{aws.AnonymousCredentials{}, "MissingAuthenticationToken"},
	} {
		err := call(tc.creds)
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, tc.code, ae.ErrorCode())
	}
}

package awsalb

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/balanced-deploy/balanced/drivers"
)

// Driver is a [drivers.LoadBalancer] for the targets of one ALB target
// group. It is safe for concurrent use.
type Driver struct {
	cfg Config // without Client, which api holds
	// api returns the ELBv2 client. It is behind a function so that
	// printing a Driver, even with a verb fmt cannot apply to it (%s, %q),
	// shows a function's address, never the client's options: a client
	// built with static credentials holds the secret access key there.
	api func() API

	mu sync.Mutex
	// asked remembers the state last requested for deregistered targets
	// (Draining or Out), which ALB does not store.
	asked map[target]request
	// out is when each target known not to be registered left: the
	// DeregisterTargets call that deregistered it, or this driver's first
	// reading of it deregistered. The settle period counts from there.
	out map[target]time.Time
	// delay caches the deregistration delay once read (0: not read yet).
	delay time.Duration
	// names remembers how the caller named each target, for listings.
	names map[target]string
}

var _ drivers.LoadBalancer = (*Driver)(nil)

// request is a state requested for a deregistered target. For Draining,
// until is when the drain ends: now plus the deregistration delay, the time
// ALB itself keeps a freshly deregistered target draining.
type request struct {
	state drivers.MemberState
	until time.Time
}

// registered reports whether an ALB target state means "registered"
// (receiving traffic when healthy).
func registered(s types.TargetHealthStateEnum) bool {
	switch s {
	case types.TargetHealthStateEnumDraining, types.TargetHealthStateEnumUnhealthyDraining, types.TargetHealthStateEnumUnused:
		return false
	}
	return true
}

// SetState puts every named member in state with one API call: Serving
// registers the targets that are not registered (RegisterTargets); Draining
// and Out deregister the ones that are (DeregisterTargets), which starts
// ALB's deregistration delay. The driver first reads every target
// (DescribeTargetHealth): an unknown target fails the call with
// [drivers.ErrNotFound] before anything changes.
func (d *Driver) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("awsalb: set state: %w", err)
	}
	if !state.Valid() {
		return fmt.Errorf("%w: awsalb: state %q: want serving, draining or out", drivers.ErrInvalidArgument, state)
	}
	targets, err := d.parse(members)
	if err != nil || len(targets) == 0 {
		return err
	}
	health, err := d.describe(ctx, targets, members)
	if err != nil {
		return fmt.Errorf("awsalb: set %s to %s: %w", strings.Join(members, ", "), state, err)
	}
	var change []types.TargetDescription
	var changed []string
	for i, t := range targets {
		if registered(health[i].State) != (state == drivers.Serving) && !slices.Contains(changed, members[i]) {
			change = append(change, t.description())
			changed = append(changed, members[i])
		}
	}
	var until time.Time
	if state == drivers.Draining {
		delay, err := d.cachedDelay(ctx)
		if err != nil {
			return fmt.Errorf("awsalb: set %s to %s: %w", strings.Join(members, ", "), state, err)
		}
		until = time.Now().Add(delay)
	}
	op := "DeregisterTargets"
	if state == drivers.Serving {
		op = "RegisterTargets"
	}
	sent := time.Now()
	if len(change) > 0 {
		arn := aws.String(d.cfg.TargetGroupARN)
		if state == drivers.Serving {
			_, err = d.api().RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: arn, Targets: change})
		} else {
			_, err = d.api().DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: arn, Targets: change})
		}
		if err != nil {
			return classify(ctx, fmt.Sprintf("set %s to %s: %s", strings.Join(changed, ", "), state, op), true, err)
		}
		d.cfg.Logger.Info("awsalb: targets "+strings.TrimSuffix(strings.ToLower(op), "targets")+"ed", "target_group", d.cfg.TargetGroupARN, "members", changed, "state", state)
	}
	d.mu.Lock()
	for i, t := range targets {
		d.names[t] = members[i]
		switch {
		case state == drivers.Serving:
			delete(d.out, t)
		case registered(health[i].State):
			d.out[t] = sent // deregistered now: the settle period starts
		default:
			if _, ok := d.out[t]; !ok {
				d.out[t] = sent // already out, since when unknown: from now
			}
		}
		switch {
		case state == drivers.Serving:
			delete(d.asked, t)
		case state == drivers.Draining && registered(health[i].State):
			d.asked[t] = request{state: state, until: until}
		case state == drivers.Draining:
			// Already deregistered: a drain under way keeps its end;
			// otherwise the target drains for a delay from now.
			if prev, ok := d.asked[t]; !ok || prev.state != drivers.Draining || !time.Now().Before(prev.until) {
				d.asked[t] = request{state: state, until: until}
			}
		default:
			d.asked[t] = request{state: state}
		}
	}
	d.mu.Unlock()
	return nil
}

// cachedDelay returns the deregistration delay, reading it once.
func (d *Driver) cachedDelay(ctx context.Context) (time.Duration, error) {
	d.mu.Lock()
	delay := d.delay
	d.mu.Unlock()
	if delay > 0 {
		return delay, nil
	}
	delay, err := d.DeregistrationDelay(ctx)
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.delay = delay
	d.mu.Unlock()
	return delay, nil
}

// Status reads the named members in the order given, or every registered
// target (and every target this driver deregistered) when none is named.
// ALB counts no connections per target: ConnectionsKnown is false.
func (d *Driver) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("awsalb: status: %w", err)
	}
	if len(members) == 0 {
		return d.statusAll(ctx)
	}
	targets, err := d.parse(members)
	if err != nil {
		return nil, err
	}
	health, err := d.describe(ctx, targets, members)
	if err != nil {
		return nil, fmt.Errorf("awsalb: status of %s: %w", strings.Join(members, ", "), err)
	}
	out := make([]drivers.MemberStatus, len(members))
	for i, t := range targets {
		out[i] = d.status(members[i], t, health[i])
	}
	return out, nil
}

// statusAll lists the target group.
func (d *Driver) statusAll(ctx context.Context) ([]drivers.MemberStatus, error) {
	res, err := d.api().DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(d.cfg.TargetGroupARN)})
	if err != nil {
		return nil, classify(ctx, "list targets: DescribeTargetHealth", false, err)
	}
	var out []drivers.MemberStatus
	seen := map[target]bool{}
	for _, desc := range res.TargetHealthDescriptions {
		if desc.Target == nil || desc.TargetHealth == nil {
			continue
		}
		t := target{id: aws.ToString(desc.Target.Id), port: aws.ToInt32(desc.Target.Port)}
		name := d.nameOf(t)
		seen[t], seen[target{id: t.id}] = true, true
		out = append(out, d.status(name, t, *desc.TargetHealth))
	}
	d.mu.Lock()
	var gone []target
	for t := range d.asked {
		if !seen[t] {
			gone = append(gone, t)
		}
	}
	d.mu.Unlock()
	slices.SortFunc(gone, func(a, b target) int { return strings.Compare(a.String(), b.String()) })
	for _, t := range gone {
		out = append(out, d.status(d.nameOf(t), t, types.TargetHealth{State: types.TargetHealthStateEnumUnused}))
	}
	return out, nil
}

// nameOf returns the caller's name for t, or t in member form.
func (d *Driver) nameOf(t target) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n, ok := d.names[t]; ok {
		return n
	}
	if n, ok := d.names[target{id: t.id}]; ok {
		return n
	}
	return t.String()
}

// status maps a target's health to a MemberStatus. A deregistered target
// reads Draining until the settle period has passed since it left (see
// Config.SettlePeriod): ALB may still route new requests to it. After that,
// it reads Out if this driver was asked for Out; if it was asked for
// Draining, it reads Draining while ALB drains it or until the
// deregistration delay has passed since the request, then Out; without a
// request, draining is Draining and unused is Out.
func (d *Driver) status(member string, t target, h types.TargetHealth) drivers.MemberStatus {
	st := drivers.MemberStatus{Member: member, State: drivers.Serving, Health: drivers.HealthUnknown}
	switch h.State {
	case types.TargetHealthStateEnumHealthy:
		st.Health = drivers.Healthy
	case types.TargetHealthStateEnumUnhealthy, types.TargetHealthStateEnumUnhealthyDraining:
		st.Health = drivers.Unhealthy
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if registered(h.State) {
		delete(d.out, t)
		return st
	}
	left, ok := d.out[t]
	if !ok {
		left = now // first seen deregistered: it may have just left
		d.out[t] = left
	}
	st.State = drivers.Out
	if h.State != types.TargetHealthStateEnumUnused {
		st.State = drivers.Draining
	}
	asked, ok := d.asked[t]
	switch {
	case now.Sub(left) < d.cfg.SettlePeriod:
		st.State = drivers.Draining // ALB may still route new requests to it
	case ok && asked.state == drivers.Out:
		st.State = drivers.Out
	case ok && asked.state == drivers.Draining && now.Before(asked.until):
		st.State = drivers.Draining
	}
	return st
}

// describe reads the health of targets, in order. members names them for
// errors.
func (d *Driver) describe(ctx context.Context, targets []target, members []string) ([]types.TargetHealth, error) {
	in := &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(d.cfg.TargetGroupARN)}
	for _, t := range targets {
		in.Targets = append(in.Targets, t.description())
	}
	res, err := d.api().DescribeTargetHealth(ctx, in)
	if err != nil {
		return nil, classify(ctx, "DescribeTargetHealth", false, err)
	}
	out := make([]types.TargetHealth, len(targets))
	for i, t := range targets {
		j := slices.IndexFunc(res.TargetHealthDescriptions, func(desc types.TargetHealthDescription) bool {
			return desc.Target != nil && desc.TargetHealth != nil && aws.ToString(desc.Target.Id) == t.id &&
				(t.port == 0 || aws.ToInt32(desc.Target.Port) == t.port)
		})
		if j < 0 {
			return nil, fmt.Errorf("awsalb: DescribeTargetHealth did not report member %q", members[i])
		}
		out[i] = *res.TargetHealthDescriptions[j].TargetHealth
	}
	return out, nil
}

// parse validates members.
func (d *Driver) parse(members []string) ([]target, error) {
	out := make([]target, len(members))
	for i, m := range members {
		t, err := parseMember(m)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// DeregistrationDelay reads the target group's deregistration delay
// (attribute deregistration_delay.timeout_seconds): how long a deregistered
// target stays draining. Configure the engine's drain period from it,
// since ALB reports no connection counts.
func (d *Driver) DeregistrationDelay(ctx context.Context) (time.Duration, error) {
	res, err := d.api().DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(d.cfg.TargetGroupARN)})
	if err != nil {
		return 0, classify(ctx, "DescribeTargetGroupAttributes", false, err)
	}
	for _, a := range res.Attributes {
		if aws.ToString(a.Key) != "deregistration_delay.timeout_seconds" {
			continue
		}
		n, err := strconv.Atoi(aws.ToString(a.Value))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("awsalb: deregistration_delay.timeout_seconds %q: want a non-negative integer", aws.ToString(a.Value))
		}
		return time.Duration(n) * time.Second, nil
	}
	return 0, fmt.Errorf("awsalb: target group has no deregistration_delay.timeout_seconds attribute")
}

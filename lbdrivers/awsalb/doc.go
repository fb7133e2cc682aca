// Package awsalb is a [drivers.LoadBalancer] for the targets of one AWS
// Application Load Balancer target group, built on aws-sdk-go-v2's
// elasticloadbalancingv2 client.
//
// It is for the balanced engine (or any tool) that must take targets out of
// traffic and put them back. It does not create or modify target groups,
// listeners or health checks.
//
// # States
//
//	Serving   the target is registered (RegisterTargets); its health is
//	          TargetHealth.State: healthy, unhealthy, or unknown while
//	          initial/unavailable
//	Draining  the target is deregistered (DeregisterTargets) and ALB
//	          reports it draining: no new requests, in-flight ones finish
//	          within the target group's deregistration delay
//	Out       the target is deregistered and ALB reports it unused (the
//	          delay has passed) or does not list it
//
// # Deregistration is asynchronous: the settle period
//
// DeregisterTargets returns before every load balancer node has stopped
// routing to the target: new requests can still reach it for seconds,
// although DescribeTargetHealth already reads it draining. AWS documents no
// figure; users measure about 10 s and more
// (kubernetes-sigs/aws-load-balancer-controller issues #1064 and #1719).
// So a deregistered target counts as out only once DescribeTargetHealth
// reads it draining or unused AND [Config.SettlePeriod] (default
// [DefaultSettlePeriod], 30 s) has passed since the DeregisterTargets call;
// until then it reads Draining, never Out. A target this driver did not
// deregister (a new process, someone else) is timed from the driver's
// first reading of it deregistered.
//
// ALB stores no difference between "draining" and "out" requested by a
// caller: both are a deregistration. Once the settle period has passed, the
// driver reports the state last requested for each deregistered target:
//
//   - asked for Out, the target reads Out, even while ALB still lets its
//     in-flight requests finish (as a BIG-IP "forced offline" member does);
//   - asked for Draining, it reads Draining while ALB drains it and, for a
//     target that was already unused, for one deregistration delay after
//     the request (what ALB would do had it been registered); then Out. So
//     a drain ends by itself, and the engine, which waits for a member that
//     cannot count connections to read Out, moves on after the delay.
//
// A new Driver (a new process) has no memory of requests: after the settle
// period it reports ALB's draining as Draining and unused as Out.
//
// # Protocol facts relied on
//
// From the ELBv2 API reference (RegisterTargets, DeregisterTargets,
// DescribeTargetHealth, DescribeTargetGroupAttributes) and the ALB User
// Guide (Target groups, Deregistration delay):
//
//   - TargetHealth.State is initial, healthy, unhealthy, unhealthy.draining,
//     unused, draining or unavailable. A registered target reads initial
//     until its health checks pass, and takes no traffic until then.
//   - A deregistered target reads draining for the target group's
//     deregistration_delay.timeout_seconds (0-3600 s, default 300 s), then
//     unused; an unused target is not listed by DescribeTargetHealth
//     without Targets. "If the specified target does not exist, the action
//     returns successfully" (DeregisterTargets).
//   - The wire protocol is awsQuery (form POST, XML answers, API version
//     2015-12-01), which the SDK speaks.
//
// # IAM permissions
//
// The credentials need elasticloadbalancing:DescribeTargetHealth,
// elasticloadbalancing:RegisterTargets, elasticloadbalancing:DeregisterTargets
// and elasticloadbalancing:DescribeTargetGroupAttributes on the target group.
//
// ALB counts no connections per target, so ConnectionsKnown is false and
// the engine waits a drain period instead: set it from
// [Driver.DeregistrationDelay] (deregistration_delay.timeout_seconds).
//
// Members are target ids: an instance id ("i-0123456789abcdef0") or an IP
// address, optionally with a port ("10.0.0.1:8080", "[2001:db8::1]:80");
// without a port the target group's port applies. Ids are validated
// (letters, digits, '.', '-', '_') before they reach the API.
//
// SetState first reads every named target with DescribeTargetHealth: an
// unknown target (InvalidTarget) fails the call with [drivers.ErrNotFound]
// before anything changes. For a target group of type ip, ALB may not tell
// an unknown address from an unregistered one (both unused,
// Target.NotRegistered): such a member reads Out, not ErrNotFound. Then it changes all targets that need it with
// one RegisterTargets or DeregisterTargets call.
//
// # Not offered: Switcher
//
// The driver does not implement [drivers.Switcher]. Registering one set of
// targets and deregistering another are two API calls; ALB has no
// transaction, so no two-group swap is atomic. The engine serves the new
// group, then drains the old one, and measures the mixed-version window.
//
// # Errors
//
// Throttling (Throttling, RequestLimitExceeded, ...) and ServiceUnavailable
// are [drivers.ErrUnavailable]: AWS refused the call before handling it.
// For reads, any 5xx answer or network failure is ErrUnavailable too; for
// RegisterTargets and DeregisterTargets only failures to connect are,
// since a 500 or a lost connection may follow a change that happened.
// TargetGroupNotFound and InvalidTarget are [drivers.ErrNotFound],
// ValidationError [drivers.ErrInvalidArgument], AccessDenied and
// credential errors [drivers.ErrPermissionDenied]. The SDK's own retryer
// still runs underneath (configure it with Config.LoadOptions).
//
// # Configuration
//
// [New] loads the SDK's standard configuration (config.LoadDefaultConfig:
// environment, shared files, IAM roles) for the target group's region
// unless Config.Client is set. Package albtest provides a fake ELBv2
// endpoint for tests.
package awsalb

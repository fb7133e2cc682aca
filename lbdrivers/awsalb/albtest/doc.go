// Package albtest is a fake AWS Elastic Load Balancing v2 endpoint for
// testing the awsalb driver and code built on it, the way
// net/http/httptest fakes a server.
//
// It speaks the awsQuery protocol the SDK uses: form-encoded POST / with
// Action and Version=2015-12-01, XML answers in the namespace
// http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/, and error
// documents <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
// Element names follow the SDK's (v1.64.0) response snapshots. It serves
// RegisterTargets, DeregisterTargets, DescribeTargetHealth and
// DescribeTargetGroupAttributes (deregistration_delay.timeout_seconds) for
// one target group.
//
// Point a client at it:
//
//	srv := httptest.NewServer(albtest.New(albtest.Config{Store: store}))
//	client := elasticloadbalancingv2.New(elasticloadbalancingv2.Options{
//		Region: "us-east-1", Credentials: aws.AnonymousCredentials{},
//		BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
//	})
//
// or, inside a testing/synctest bubble, set Options.HTTPClient to
// [Server.Client], which calls the fake in process.
//
// Targets live in a [Store]. [MemStore] models ALB's timing with time.Now
// (the bubble's virtual clock under synctest): a registered target is
// initial for MemConfig.HealthCheckDelay, then healthy (or unhealthy, see
// [MemStore.SetHealthy]); a deregistered one is draining for the
// deregistration delay (deregistration_delay.timeout_seconds, default 300 s
// per the ELBv2 reference), then unused. Deregistration is asynchronous, as
// on real ALB: for MemConfig.RoutingLag after DeregisterTargets (default
// [DefaultRoutingLag], 10 s, from users' measurements: AWS documents no
// figure) the target still receives new requests although it already reads
// draining; [MemStore.Routes] tells whether a new request would reach a
// target now. Ids not in MemConfig.Targets get
// InvalidTarget. [LoadBalancerStore] backs the fake with any
// drivers.LoadBalancer, such as the farm simulator's.
// [Server.Inject] answers calls with error codes (Throttling,
// ServiceUnavailable, AccessDenied...), and [Server.Requests] records them.
//
// The wire format is checked by a client nobody here wrote: the package's
// tests drive the fake with the AWS CLI (Debian package awscli,
// /usr/bin/aws), which parses the answers with AWS's own ELBv2 service
// model and signs its requests (verified with Config.Credentials).
//
// # Scope and limitations
//
// One target group; no load balancers, listeners, rules or other
// attributes; request signatures (SigV4) are checked only when
// Config.Credentials is set (otherwise use anonymous credentials), and
// their date is not checked against the clock;
// Lambda targets, AvailabilityZone and the Include parameter are ignored.
// Whether real ELBv2 refuses to deregister an unregistered target is not
// confirmed; the fake treats it as a no-op.
package albtest

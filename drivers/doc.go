// Package drivers defines the contracts that connect the balanced engine to
// the systems of a real farm: Windows services ([ServiceController]), the load
// balancer ([LoadBalancer]), the deployment platform ([PlatformClient]) and
// direct application probes ([Prober]).
//
// Application code should use package farm and package steps; this package is
// for people who write drivers. It imports only the standard library, so a
// driver never depends on the engine.
//
// # Rules every driver follows
//
//   - Every method that may block takes a [context.Context] first and returns
//     promptly once it is done, with an error wrapping ctx.Err().
//   - Every method is safe for concurrent use by several goroutines.
//   - Every mutating method is idempotent: setting a state that already holds
//     succeeds and changes nothing.
//   - Errors are classified by wrapping exactly one of [ErrNotFound],
//     [ErrPermissionDenied], [ErrInvalidArgument], [ErrUnimplemented] or
//     [ErrUnavailable] where one applies. The engine retries only
//     [ErrUnavailable], and a driver must use it only when the change certainly
//     did not take effect (as database/sql/driver.ErrBadConn).
//   - Secrets (passwords, tokens) never appear in an error or a log line.
//     A URL is echoed through [RedactURL], which hides its user info (user
//     name included) and query values even when it does not parse; check a
//     URL with [CheckHTTPURL] or [ParseURL], whose errors never quote user
//     info.
//   - Names that reach a shell, a socket command or a configuration file are
//     validated or quoted so they cannot inject anything.
//
// Optional capabilities are separate interfaces found by type assertion, the
// way io.WriterTo is: [Switcher] and [Identifier] of a load balancer,
// [IdleReporter] and [FarmLeaser] of a service controller,
// [DeployedReleaseReader], [DeploymentAborter], [DeploymentContinuer],
// [DeploymentFinder], [DeploymentPreparer] (and [IdleReporter]) of a
// platform client,
// [ApplicationProber] of a prober.
// [Capabilities] lists those a value has.
//
// # Checking a driver
//
// Every contract has a conformance suite that a driver runs from its own
// TestConformance: lbdrivers/lbtest for a [LoadBalancer], and
// drivers/drivertest (RunServiceController, RunPlatformClient, RunProber) for
// the others. Each checks the rules above against the driver and the system
// (or a faithful fake) behind it, and skips, by name, the optional
// capabilities the driver does not have.
//
// # Wrapping a driver
//
// A wrapper around a driver (logging, metrics, a rate limit, a circuit
// breaker) must keep the driver's optional capabilities, or the engine
// silently takes another path: a load balancer whose [Switcher] is hidden is
// switched in two moves instead of one transaction, a service controller
// whose [FarmLeaser] is hidden holds no farm lease, a platform whose
// [DeploymentAborter] is hidden cannot abort its deployment on rollback. The
// engine sees only the methods of the value it is given: a struct that holds
// (or embeds) the driver as a contract interface has only that interface's
// methods.
//
// Do not give the wrapper every capability's method and answer
// [ErrUnimplemented] when the driver lacks it: the engine takes a type
// assertion that succeeds as a promise. Instead, build the wrapper with a
// constructor that returns exactly the combination the driver has, each
// capability's method forwarding by type assertion, as package farm's own
// limits do:
//
//	func Wrap(lb drivers.LoadBalancer) drivers.LoadBalancer {
//		w := &logged{lb: lb}                        // SetState, Status
//		if sw, ok := lb.(drivers.Switcher); ok {
//			return &loggedSwitcher{logged: w, sw: sw} // adds Switch
//		}
//		return w
//	}
//
// (with two capabilities, four combinations: struct types that embed the
// base wrapper and the capability wrappers make them short). Test it with
// [HiddenCapabilities], which must be empty for each kind of driver the
// wrapper may wrap, and run the contract's conformance suite through the
// wrapper.
package drivers

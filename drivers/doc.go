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
//   - Names that reach a shell, a socket command or a configuration file are
//     validated or quoted so they cannot inject anything.
//
// Optional capabilities are separate interfaces found by type assertion, the
// way io.WriterTo is: [Switcher], [DeployedReleaseReader], [DeploymentAborter],
// [DeploymentContinuer], [DeploymentFinder] and [IdleReporter].
package drivers

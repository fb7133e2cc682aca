// Package drivertest is the conformance suite for [drivers.ServiceController],
// [drivers.PlatformClient] and [drivers.Prober] implementations (the
// load-balancer suite is lbdrivers/lbtest). Every driver runs it from its own
// TestConformance, the way every gocloud.dev driver runs drivertest: the suite
// checks the rules of the drivers contract against the real system (or a
// faithful fake) behind the driver.
//
// It is not a fake and not a benchmark; application code never imports it.
//
// # Using it
//
// Write a harness that gives the suite a fresh driver and the names it may
// use, then call the Run function of the contract:
//
//	func TestConformance(t *testing.T) {
//		drivertest.RunServiceController(t, drivertest.ServiceControllerHarness{
//			New: func(t *testing.T) drivers.ServiceController {
//				return myssh.New(myssh.Config{...}) // every service on every target present
//			},
//			Targets: []drivers.Target{{Name: "fe01", Address: ...}, {Name: "fe02", Address: ...}},
//		})
//		drivertest.RunPlatformClient(t, drivertest.PlatformClientHarness{New: ..., Release: rel})
//		drivertest.RunProber(t, drivertest.ProberHarness{New: ..., Healthy: targets, Version: "2.0"})
//	}
//
// A driver over a simulated clock (package simulate) sets Options.Bubble to
// synctest.Test: each subtest's body then runs in its own bubble, so waits
// take no real time.
//
// # What it checks
//
// Named subtests cover each method's effect read back through the contract
// (a stopped service reads stopped and Disabled, a restored one reads what
// was asked, a deployment ends in a succeeded state and stays there, a healthy
// server reads healthy with its version), idempotency, isolation (one call
// changes one service on one server), refusals (invalid states with
// [drivers.ErrInvalidArgument], unknown services, deployments and hostile
// names with an error, [drivers.ErrNotFound] where the contract asks for it),
// cancelled and expired contexts (an error wrapping ctx.Err(), returned
// promptly), the optional capabilities ([drivers.IdleReporter],
// [drivers.FarmLeaser], [drivers.DeployedReleaseReader],
// [drivers.DeploymentAborter], [drivers.DeploymentContinuer],
// [drivers.DeploymentFinder]) and concurrent
// use (run the tests with -race).
//
// A capability the driver or harness cannot offer is never skipped silently:
// its subtest calls t.Skip with a message that starts "unimplemented:" and
// names what is missing, so `go test -v` lists it.
package drivertest

// Package steps holds the balanced application deployment as a [farm.Plan]:
// [Balanced] assembles the twelve steps (preflight and the eleven steps of
// the OutSystems runbook for self-managed farms) over every zone of a farm,
// and [Approval] and [Wait] are extra steps users insert where they want
// them.
//
// Every step is idempotent and confirms its postcondition by reading state
// back: a stopped service is read back as stopped and disabled, a drained
// member as out, a published release as what the front-ends serve.
//
// The step IDs, in order:
//
//	preflight                  every driver reachable; state captured for exact restore
//	stop-schedulers            Scheduler stopped and disabled on every server
//	drain-updating             Updating members drained (no new requests), then out
//	block-loaded               Deployment service stopped and disabled on Loaded servers
//	publish                    the platform deploys the release; Updating servers run it
//	verify-updating            the application probed directly on each Updating server
//	switch-traffic             Updating in, Loaded drained and out
//	start-schedulers-updating  Scheduler restored on Updating servers
//	unblock-loaded             Deployment service restored on Loaded servers
//	await-loaded               every Loaded server runs the release, deployment idle
//	restore-traffic            Loaded back in; every member serving and healthy
//	start-schedulers-loaded    Scheduler restored on Loaded servers
package steps

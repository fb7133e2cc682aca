// Package steps holds the balanced application deployment as a [farm.Plan]:
// [Balanced] assembles the twelve steps (preflight and the eleven steps of
// the OutSystems runbook for self-managed farms; thirteen with prepare) over
// every zone of a farm,
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
//	prepare                    (two-stage platforms) first stage while every server serves
//	stop-schedulers            Scheduler stopped and disabled on every server
//	drain-updating             Updating members drained (no new requests), then out
//	block-loaded               Deployment service stopped and disabled on Loaded servers
//	publish                    the platform deploys the release; Updating servers run it
//	verify-updating            every application probed directly on each Updating server
//	switch-traffic             Updating in, Loaded drained and out
//	start-schedulers-updating  Scheduler restored on Updating servers
//	unblock-loaded             Deployment service restored on Loaded servers
//	await-loaded               every application on every Loaded server at its version
//	restore-traffic            Loaded back in; every member serving and healthy
//	start-schedulers-loaded    Scheduler restored on Loaded servers
//
// prepare is in the plan only when it prepares the release at full
// capacity ([PrepareMode], Config.PrepareAtFullCapacity): the platform runs
// deployments in two stages (drivers.DeploymentPreparer), and the first,
// which changes nothing that runs, is done before stop-schedulers while
// the whole farm serves; publish then continues the prepared deployment,
// so the farm runs on part of its servers only for the second stage and
// the catch-up. Otherwise publish runs the whole deployment, and the
// runbook's publish title says why.
//
// # Probing a release of several applications
//
// Each application of a release is hot-deployed on each front-end and keeps
// answering its old version until its own deployment there ends, so one
// probe stands for one application only. [Config].Probes lists every
// application with its own path and expected version
// (drivers.ApplicationProbe, with a Prober that is a
// drivers.ApplicationProber); preflight, publish's wait for the Updating
// servers, verify-updating, await-loaded and a rollback's checks probe each
// one on every server. No documented OutSystems API reports a front-end's
// Deployment service work (the runbook reads its threads, Idle or
// Sleeping, on Service Center's Environment Health page; the LifeTime API
// v2 has no such endpoint), so the per-application probes are the readiness
// signal, with [Config].QuietPeriod on top (a server's probes must keep the
// same answer that long once they all agree) and a drivers.IdleReporter's
// answer where a driver has one. Without Probes, one probe of the Prober's
// own path expects Release.Version.
//
// # Safety checks that are not a step
//
// farm.New refuses a zone whose Updating or Loaded group holds less than
// the capacity floor, since each group carries its zone alone once. Before
// a one-transaction switch (drivers.Switcher), every Updating member that
// read healthy before the run must read healthy, not merely "not
// unhealthy" (a member back from out reads unknown until its first check
// passes); a switch in two moves waits the same way once the members serve,
// before the Loaded group is drained.
//
// # The watch
//
// What the steps establish is watched until the step that restores it
// (farm.Guard; the Guard... constants name them):
//
//	scheduler-stopped/updating  stop-schedulers to start-schedulers-updating
//	scheduler-stopped/loaded    stop-schedulers to start-schedulers-loaded
//	deployment-stopped/loaded   block-loaded to unblock-loaded
//	updating-out                drain-updating to switch-traffic
//	loaded-carries              drain-updating to switch-traffic
//	loaded-out                  switch-traffic to restore-traffic
//	updating-carries            switch-traffic to restore-traffic
//
// A service found running again (a recovery action, a colleague, a group
// policy) is stopped and disabled again; a member found back in traffic (a
// load-balancer reload that forgot its runtime state) is drained and taken
// out again; each is a warning and an entry of farm.Report.Drifts. A group
// carrying its zone alone with fewer members serving and healthy than the
// capacity floor cannot be put right by the run: the step fails
// (farm.ErrDrift) and the failure policy decides. The publish step checks
// every guard once more immediately before it starts the platform
// deployment, so that no Scheduler runs when the schema changes.
package steps

// Package simulate is an in-memory OutSystems front-end farm for tests: it
// implements every contract of package drivers, carries simulated user
// traffic, injects faults, and checks the safety invariants of a balanced
// deployment (docs/safety.md in this repository) continuously while anything
// runs against it.
//
// Use it to test deployment tooling without machines, and to prove a
// procedure safe: the simulator is built to catch an unsafe procedure (a
// member put out while it holds requests, a scheduler left running across a
// schema change, an install on a serving member, a zone left without
// capacity), not only to bless a safe one.
//
// It is not a load generator for real systems, nor a model of OutSystems
// internals beyond what the balanced procedure depends on.
//
// # Using it
//
//	sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 6}}, Seed: 1})
//	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
//	sim.Start(ctx)                       // user traffic
//	... run the procedure with sim.Services(), sim.Platform(), sim.Prober() ...
//	sim.Stop()
//	sim.CheckEndState(release)           // invariant 6
//	report := sim.Report()               // requests, failures, violations, timeline
//
// Everything uses only package time, so under testing/synctest minutes of
// simulated deployment run in milliseconds, and the same Config.Seed gives
// the same [Report]. Without synctest it runs in real time; scale the
// durations down with [Config.Scaled].
//
// The report ([Sim.Report]) counts requests served and failed (by cause),
// served per version and per server, the mixed-version window, every
// violation, and per zone a timeline of change points (members serving,
// versions they run, installs) and traffic samples, with the annotations
// added by [Sim.Mark]: enough to draw the run. Its String form ends with the
// line "served=<n> failed=<n> violations=<n>".
//
// # The model
//
// Each server has a Scheduler and a Deployment service (and the controller
// a Deployment Controller service), Running/Automatic at the start unless
// Config.InitialServices says otherwise, and
// runs Config.InitialVersion, as does the database schema. A deployment
// ([Platform.StartDeployment]) publishes for Config.PublishDuration, then
// moves the schema to the release, reports finished_successful, and every
// server whose Deployment service runs installs the release; a server whose
// Deployment service is stopped installs it when the service starts again.
// An install takes Config.InstallDuration, during which the application
// answers 503. Each application of the release (drivers.Release.
// Applications) then answers its version, except one delayed with
// [Sim.DelayApplication], which keeps answering its old version, healthy,
// until its own deployment ends; [Prober.ProbeApplication] reads one
// application, Probe the server's release. A running Scheduler fires timers
// every Config.SchedulerInterval.
//
// Each zone has a load balancer ([LoadBalancer]) whose members are
// serving, draining or out; health checks follow the application (down
// while crashed, installing or after a failed install) with
// Config.HealthCheckDelay of lag, and a verdict is dropped if the state it
// judged ended before the delay was over (an install shorter than the delay
// is never seen, as a real load balancer's consecutive-failure count is
// reset by the first check that passes). With Config.InstallPassesChecksFor
// an installing server still passes the checks for a while (a check of a
// static page does) although its application answers 503. Requests arrive
// open-loop (Poisson, per zone, from client identities) and go round robin
// to serving, healthy members.
//
// # Invariants
//
// Checked continuously and recorded as [Violation]s: (1) a request failed
// because of the deployment (no serving member, 503 from an installing
// server, a reset by an install or by a member put out); (2) a new request
// reached an installing server, or an install started on a member that was
// serving or held requests; (3) a timer ran on code that does not match the
// schema, a Scheduler was running when a deployment started, or one ran or
// was started on a server not yet on the release being deployed; (4) a
// zone had fewer serving, healthy, answering members than the capacity
// floor (at least one); (5) a client that had been served the new version
// got the old one on a request that arrived later (in a zone driven
// through [Sim.PlainLoadBalancer], which cannot switch in one transaction,
// such requests are only counted); the mixed-version window per zone is
// measured. On demand: (6) [Sim.CheckEndState] and (7)
// [Sim.CheckSafeState]. Failures caused by injected crashes are counted but
// are not violations of invariant 1.
//
// Every driver call is counted ([Sim.Calls]) and the most recent ones are
// kept ([Sim.Actions], a bounded log: memory linear in the farm); faults are injected per
// operation and server ([Sim.Inject], [Sim.Crash]); [Sim.Hold] keeps a
// request open on a member. Drift, a change behind the procedure's back:
// [Sim.SetServiceState] restarts or stops a service (a watchdog, a
// colleague), [Sim.ResetLoadBalancer] puts every member back to serving (a
// load-balancer reload that forgets its runtime state), [Sim.Crash] takes a
// server down for a while. [Sim.ServerState] shows one front-end.
//
// # Scope and limitations
//
//   - Services change state instantly after Config.ServiceLatency; pending
//     states (start-pending, stop-pending) are never reported, and a
//     stopped service never starts by itself (unless a test calls
//     [Sim.SetServiceState]).
//   - Only the services' run states and startup types are modelled, and
//     every server starts with the same ones (Config.InitialServices).
//   - Stopping a Deployment service does not interrupt an install already
//     running; it only keeps new installs from starting.
//   - The platform has one environment and deploys one release at a time;
//     applications inside a release are not modelled separately.
//   - A failed install (Fault{Op: OpInstall}) leaves the server on its old
//     version with its application answering 503 until a later install
//     succeeds.
//   - Requests are single request/response exchanges; there are no
//     persistent sessions, so a draining member ends with its last request.
//   - The load balancer routes round robin and counts connections exactly;
//     health checks lag by a fixed delay, not by a number of probes.
//   - Two driver calls at the same simulated instant from different
//     goroutines take effect in the order they take the lock; the
//     simulation stays deterministic when such calls touch different
//     servers, and a fault with no Server may hit either.
//   - The database schema moves at the end of the publish, in one instant.
//   - Invariant 3 cannot see the procedure's step 1: the start of a
//     deployment is taken as the latest moment every Scheduler must be
//     stopped. A timer run is only recorded; it has no effect on the farm.
//   - A probe's Healthy means status 200; no content is checked.
//   - The simulated clock is time.Now(): under testing/synctest it is
//     virtual; in real time, goroutine scheduling adds small jitter.
package simulate

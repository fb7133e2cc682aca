// Package farm is the API that deployment tooling holds: the [Server]s of a
// front-end farm, split per [Zone] into an Updating and a Loaded [Group], and
// the [Plan] of steps the engine runs over them with hooks, retries, timeouts,
// events and a [Report].
//
// Package steps builds the balanced-deployment plan; this package knows
// nothing of OutSystems and can run any plan of steps. It talks to the farm
// only through the contracts of package drivers.
//
// A farm is validated when it is built ([New]): every error names the bad
// value and what was expected, and nothing on the farm has been touched yet.
//
// # Concurrency
//
// A fan-out ([Run.ForEachServer], [Run.Each]) runs on a pool of at most
// PlanConfig.Concurrency goroutines. What the systems behind the drivers
// take is bounded per call, per system ([Limits]: per server host, per load
// balancer, per platform): a limit is held for one driver call only, never
// across a server's chain of calls or the waits between them, so a slow
// host holds up only its own calls. The engine limits the farm's load
// balancers itself; [Plan.LimitServices] and [Plan.LimitProber] limit the
// other drivers (steps.Balanced applies them), and [Run.Call] any other
// call.
//
// # The watch
//
// A step that establishes a state other steps rely on (a service stopped,
// members out of traffic, a group carrying its zone alone) declares it as a
// [Guard] (Step.Guards, or [Run.Watch]), until the step that restores it.
// The engine re-checks every registered guard at each step boundary, when a
// step asks ([Run.CheckGuards]), and every PlanConfig.WatchInterval
// (every 15 s by default) while a step runs. A guard puts back what
// it safely can and says so ([Run.Drifted]: a Warning event, and
// Report.Drifts lists every drift); a drift it cannot put back fails the
// step with an error wrapping [ErrDrift], and the failure policy decides
// (halt by default). Ask retries wait PlanConfig.Retry's backoff and count
// against its MaxAttempts.
//
// # Errors at scale
//
// The errors of a fan-out are aggregated once each: every server's error is
// its own, and the text lists [MaxListedErrors] of them before "and 1,990
// more servers" ([FormatErrors]); a failed step's report keeps every
// server's failure once, structured (StepReport.Failures).
package farm

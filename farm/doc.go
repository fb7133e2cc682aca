// Package farm is the API that deployment tooling holds: the [Server]s of a
// front-end farm, split per [Zone] into an Updating and a Loaded [Group], and
// the [Plan] of steps the engine runs over them with hooks, retries, timeouts,
// events and a [Report].
//
// Package steps builds the balanced-deployment plan; this package knows
// nothing of OutSystems and can run any plan of steps. It talks to the farm
// only through the contracts of package drivers.
//
// The package has two audiences: tooling that runs a plan (the application
// API, first below) and code that writes steps for one (the step-author
// API, after it). Three packages beside it hold what only some tooling
// needs: farm/journal (the journal's format, its file and its readers),
// farm/lock (the host lock) and farm/event (the events of a run and the
// observers that receive them).
//
// # Running a plan
//
// Describe the farm with [New] (a [Config] listing each zone's [ZoneSpec], or
// [AutoSplit] of a list of servers): it is validated when it is built, every error
// names the bad value and what was expected, and nothing on the farm has
// been touched yet. [NewPlan] binds a list of steps (package steps makes
// the balanced one) to the farm with a [PlanConfig]; [Plan.Describe] and
// [Plan.DescribeMarkdown] say what it would do, and [Plan.Before] and
// [Plan.After] add hooks (a smoke test, an approval) around a step; [Plan.InsertBefore], [Plan.InsertAfter],
// [Plan.Move] and [Plan.Remove] edit its steps.
//
// [Plan.Run] runs it and returns a [Report]. When a step fails,
// PlanConfig.OnFailure decides ([FailurePolicy]): [Halt], the default,
// leaves the farm safe and says where to resume; [Rollback] undoes the
// steps done, last first; [Ask] calls PlanConfig.Ask with the [Failure],
// which returns a [Decision] ([DecideRetry], [DecideExclude],
// [DecideRollback] or [DecideHalt]).
//
// A run given a journal (PlanConfig.Journal; package
// [github.com/balanced-deploy/balanced/farm/journal] keeps it in a file)
// records every change of state before it goes on; [Plan.Resume] continues
// a run that halted or crashed from the journal's records. With a journal,
// or PlanConfig.Lock.Dir set, a run holds the host lock (package
// [github.com/balanced-deploy/balanced/farm/lock]) and, when the drivers
// offer one, the farm lease, so two runs never work on one farm at once.
//
// Progress reaches PlanConfig.Observer as events (package
// [github.com/balanced-deploy/balanced/farm/event]; [SlogObserver] logs
// them, [ObserveMembers] adds what the load balancer reads).
//
// # Writing steps
//
// A [Step] is an ID, a title, a Run function and optionally an Undo (for
// Rollback), guards ([Guard]) and the flags Excludable and Irreversible; a [Hook]
// is user code around a step. Both are handed a [*Run]: the state of the
// run under way (the type Run is what [Plan.Run] hands out, not the
// method). Its methods are the step-author API:
//
//   - actions: [Run.ForEachServer] and [Run.ForEachZone] (a pool of
//     goroutines, retries on transient errors, each action in the report),
//     [Run.Do] (one action), [Run.Each] (a fan-out without retries, for
//     repeated reads), [Run.Poll] (a wait that reports progress);
//   - what the run knows: [Run.Farm], [Run.Captured] (the state read before
//     anything changed, restored on resume), [Run.Excluded],
//     [Run.Included] and [Run.IncludedMembers] (servers excluded by a
//     DecideExclude left out), [Run.StepID];
//   - telling: [Run.Emit], [Run.EmitContext], [Run.Warn], [Run.Drifted];
//   - limits and the watch: [Run.Call], [Run.Watch], [Run.CheckGuards].
//
// A server has one load-balancer identity, [Server.MemberID] (its Member
// field, or its Name when Member is empty); [Group.Members] lists those of
// all a group's servers, [Run.IncludedMembers] those still in the run.
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
// it safely can and says so ([Run.Drifted]: an [event.Warning] event, and
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

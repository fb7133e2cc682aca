// Package progress shows a run of a [farm.Plan] as it happens. It turns the
// engine's [event.Event]s into output for the people and the machines
// watching a deployment:
//
//   - [NewTerminal] renders for a person. On an interactive terminal it keeps
//     a small status block at the bottom of the screen up to date in place
//     (the step i/n and its title, the step's actions done, running and
//     failed, what the long waits are waiting for, retries, elapsed time and
//     the last warning; one line per step, each with its own counts and
//     waits, while several steps run at once), and prints step results,
//     retries, warnings and failures above it. Anywhere else (a CI log, a
//     file, a pipe) it writes plain lines, one per meaningful event, each
//     stamped with the time since the run started, so the log reads top to
//     bottom.
//
// The engine runs a step as soon as the steps it needs are done, so steps
// may overlap (unless farm.PlanConfig.StrictOrder): every event is counted
// for the step it names, each step's result line carries its own duration
// and counts, and while steps overlap, retries, warnings and hooks name
// their step too. With the strict order the output reads one step after
// the other.
//   - [NewJSONLines] writes one JSON object per event per line, for tools
//     and CI systems that parse logs.
//
// Both are [event.Observer]s: put them in farm.PlanConfig.Observer, or
// combine them (and farm.SlogObserver) with [event.Observers].
//
// The package only formats; it never acts on the farm, and it does not
// replace the [farm.Report], which remains the record of what happened.
// Times shown are taken from the events, not from the clock, so the output
// of a given event sequence is always the same.
package progress

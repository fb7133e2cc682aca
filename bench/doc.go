// Package bench holds the project's benchmarks: the orchestration overhead of
// the engine (farm.Plan.Run running steps.Balanced) against the critical
// path of the runbook, how wall time scales with the farm's size, how soon a
// drain through a real HAProxy is reported done, the simulator's throughput
// under testing/synctest, and the allocations of the engine's hot path.
//
// It has no API: everything is in _test.go files, run with
//
//	go test -run '^$' -bench . -benchtime=3x -count=6 ./bench | tee new.txt && benchstat new.txt
//
// BENCHMARKS.md at the repository root says what each benchmark measures,
// how the critical-path bound is computed, and the figures measured.
//
// Plain `go test ./bench` runs only a few fast tests (the critical-path
// computation on a tiny farm, a small simulated run); the benchmarks do
// their expensive setup only when -bench selects them.
package bench

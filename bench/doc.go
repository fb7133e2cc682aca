// Package bench holds the project's benchmarks. The figures that hold on a
// loaded machine are measured in simulated time (testing/synctest) and in
// CPU time and bytes per server:
//
//   - BenchmarkEngine runs the balanced plan on a fake farm in a synctest
//     bubble and reports its simulated duration against the critical path
//     of the plan's own steps (criticalPath, planBound), the CPU time, the
//     bytes allocated and the bytes retained per server, and the size of
//     the error of an install timeout over 2000 pending servers;
//   - BenchmarkTwoStageWindow runs the plan on a two-stage platform (a
//     first stage of 10 min, a second of 3 min, a catch-up of 3 min), with
//     the release prepared at full capacity and without, and reports the
//     reduced-capacity window against its critical path and the bound it
//     must keep (windowOf, windowAllowance);
//   - BenchmarkSimulator runs the simulator under traffic and reports its
//     simulated time, CPU time and peak memory.
//
// BenchmarkHAProxyRun and BenchmarkDrainLag are the real-time figures
// through a real haproxy; BenchmarkOverheadRatio, BenchmarkScaling and
// BenchmarkJournal are older real-time figures, kept as side notes.
//
// It has no API: everything is in _test.go files, run with
//
//	go test -run '^$' -bench Engine -benchtime=1x -count=5 ./bench
//
// BENCHMARKS.md at the repository root says what each benchmark measures,
// how the bounds are computed, the figures claimed and measured, and the
// command that reproduces each.
//
// Plain `go test ./bench` runs only fast tests (the critical-path
// arithmetic, a 10-server run in simulated time against its bound, a small
// simulated run; -short skips the 4000-server install timeout); the
// benchmarks do their expensive setup only when -bench selects them.
package bench

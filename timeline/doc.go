// Package timeline draws what happened during a simulated deployment as one
// self-contained SVG picture, for an operator to see at a glance how the two
// groups of each zone traded traffic.
//
// [Write] takes the report of a simulated farm (package simulate) and,
// optionally, the engine's report of the run (package farm), and draws:
//
//   - one band per zone, stacked top to bottom, with the number of members the
//     load balancer sends new requests to (serving and healthy) over time as a
//     step area, coloured by the version those members run, and the members
//     installing a version out of traffic stacked above them (hatched; a
//     member installing while still in traffic, which the plan must never
//     allow, is counted once, among the serving); what is left up to
//     the zone's size is out of traffic (drained, or out and waiting);
//   - a dashed red line where fewer serving members answer than the load
//     balancer believes (simulate.TimelinePoint.Capacity below Serving: a
//     crash its health checks have not noticed yet);
//   - failed requests, per traffic sample of the zone
//     (simulate.ZoneReport.Traffic, one per simulate.Config.SampleInterval):
//     the simulator counts failures per sample, not per request, so each
//     sample with failures gets a red strip over its width and a marker in
//     its middle whose tooltip says how many failed. Failures the deployment
//     caused are also violations of invariant 1, which carry their exact
//     instant: see the next item;
//   - an orange marker for each invariant violation the report kept
//     (simulate.Report.Violations), in its zone's band, or in every band when
//     the violation names no zone;
//   - the steps of the run: a lane of bars from each step's start to its end,
//     labelled with the step IDs, and a dashed vertical line across every band
//     where each step started (without a run report, the simulator's marks,
//     simulate.Sim.Mark, are drawn instead);
//   - a title, a summary line (with the reduced-capacity window,
//     simulate.Report.ReducedCapacity: how long some zone served with fewer
//     than all its members), a legend of the versions and their colours, and
//     a time axis in seconds or minutes since the simulation was built.
//
// The SVG needs nothing else: no scripts, no external images or style sheets,
// and only the generic "sans-serif" font family. The same reports give the
// same bytes (maps are iterated in sorted order), so the output suits golden
// tests. Elements carry ids, classes and data attributes for tools and tests:
// each zone is a group with id "zone-<name>" and data-zone; each version's
// area has class "serving <version>" and data-serving listing
// "<seconds>:<members>" at every change; step lines have class "step",
// data-step and data-elapsed (seconds).
//
// # Placing the run on the simulated timeline
//
// The simulate report measures time from simulate.New (Elapsed); the farm
// report gives times of day. Options.Start joins them: set it to the instant
// simulate.New was called, most simply with
//
//	start := time.Now().Add(-sim.Elapsed())
//
// taken at any moment (exact under testing/synctest; within microseconds in
// real time). Note that Elapsed counts from simulate.New, not from
// simulate.Sim.Start. When Options.Start is zero, Write derives it from a
// violation (Time minus Elapsed, exact) or from the simulator's marks
// labelled with the run's step IDs (made by an observer when each step
// starts, as simulate.Sim.Mark shows), and fails when neither exists.
//
// The package is for simulated runs: it reads what the simulator measured
// (members serving per version, requests failed) and does not observe a real
// farm.
package timeline

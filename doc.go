// Package balanced deploys a new application version across a farm of
// front-end servers behind a load balancer with zero downtime: the balanced
// application deployment of OutSystems 11 self-managed farms, automated.
//
// The farm is split, zone by zone, in two groups. The Updating group is taken
// out of traffic (drained, so no request is cut) and updated while the Loaded
// group keeps serving; traffic is switched to the Updating group once it has
// been verified; the Loaded group then catches up and comes back. Schedulers
// are kept stopped while code and database could disagree, every service is
// restored to the state it had, and every step confirms its result by reading
// state back.
//
// # The procedure
//
//	 0 preflight                  every driver reachable; state captured for exact restore
//	 1 stop-schedulers            Scheduler stopped and disabled everywhere
//	 2 drain-updating             Updating members drained, then out
//	 3 block-loaded               Deployment service stopped on Loaded servers
//	 4 publish                    the platform deploys; Updating servers run the release
//	 5 verify-updating            the application probed on each Updating server
//	 6 switch-traffic             Updating in, Loaded drained and out
//	 7 start-schedulers-updating  Scheduler restored on Updating servers
//	 8 unblock-loaded             Deployment service restored on Loaded servers
//	 9 await-loaded               Loaded servers run the release
//	10 restore-traffic            Loaded back in, every member healthy
//	11 start-schedulers-loaded    Scheduler restored on Loaded servers
//
// # Where things live
//
//   - package farm: servers, zones, groups and the engine that runs a plan
//     (fan-out, retries, timeouts, hooks, events, report); farm/journal,
//     farm/lock and farm/event: the run's journal (resume), the host lock,
//     and the events of a run and the observers that receive them.
//   - package steps: steps.Balanced builds the plan above; approval and
//     wait steps.
//   - package drivers: the contracts a driver implements (services, load
//     balancer, platform, probe); drivers/winrm, drivers/lifetime and
//     drivers/httpprobe implement them for Windows services, OutSystems
//     LifeTime and direct HTTP probes.
//   - lbdrivers/haproxy, lbdrivers/nginx, lbdrivers/f5, lbdrivers/awsalb:
//     load balancers; lbdrivers/lbtest: the conformance suite they pass.
//   - package simulate: an in-memory farm with live traffic and fault
//     injection that checks the safety invariants; use it in your own tests.
//
// A run in short:
//
//	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers), LoadBalancer: lb})
//	plan, err := steps.Balanced(f, steps.Config{
//		Services: svc, Platform: platform, Prober: prober,
//		Release:  drivers.Release{Version: "2.4.0"},
//	})
//	plan.Describe(os.Stdout) // the runbook with your machine names
//	report, err := plan.Run(ctx)
//
// This package holds documentation only.
package balanced

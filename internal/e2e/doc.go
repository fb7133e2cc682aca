// Package e2e holds the project's end-to-end test in which every driver is a
// real client talking to a real server over loopback, and nothing in the
// deployment path is an in-memory shortcut:
//
//   - services: package winrm (the WinRM client) against one winrmtest fake
//     WS-Management server per front-end, over HTTPS with Basic
//     authentication, whose service table is the httpfarm backends' own, so
//     a Deployment service stopped through WinRM really keeps that backend
//     from installing;
//   - platform: package lifetime (the LifeTime Deployment API v2 client)
//     against a lifetimetest fake served over HTTPS, whose deployments run on
//     the httpfarm platform, so a LifeTime deployment really installs on the
//     backends;
//   - probes: package httpprobe against the real HTTP backends directly;
//   - load balancer: package lbdrivers/haproxy against a real haproxy process
//     (its admin socket), which carries an open-loop load of at least 200
//     requests per second through the whole run.
//
// The tests prove that steps.Balanced over those drivers ends with zero
// failed requests, no request on a backend while it installs, no client going
// back from the new version to the old, and the exact end state read back
// through the drivers (every backend on the release, every member serving,
// every service back to its captured state), with the WinRM password and the
// LifeTime token in no log line and no error. A negative control (the same
// run without the drain step) shows the load checks do catch failures.
//
// The package holds tests only; it exports nothing. The tests need the
// haproxy binary: they fail when CI=true and it is missing, and skip
// otherwise.
package e2e

// Package canary holds only tests. They prove the project's secrets rule
// ("passwords and tokens never appear in a log line or an error") end to end,
// for every driver that takes a credential: the WinRM password, the LifeTime
// bearer token, the F5 BIG-IP password, the NGINX Plus API password, the AWS
// secret access key the ALB driver's SDK signs with, and a password in a
// probe URL.
//
// Each secret is a distinct, recognisable canary value. TestCanarySecretsNeverLeak
// threads them through a whole balanced deployment of a simulated farm
// (package simulate) in which every driver is the real client talking to its
// fake over the wire protocol (winrmtest, lifetimetest, f5test in front of
// one zone and albtest in front of the other), each fake backed by the
// simulator, with injected transient faults, refused
// credentials and a device echoing the password, and checks that no canary
// appears in any slog line (JSON and text), event.Event, returned error,
// journal record, farm.Report or simulator report. As a control it checks
// that each canary does reach the wire (for the AWS key, that the request
// signatures verify with it), so the test is known to see a secret where
// one is.
//
// TestCanaryFailurePaths points each driver at a fake that refuses the
// credential, a server that answers 5xx or garbage (echoing the credential
// back, as a misbehaving device or proxy might), and a closed loopback port,
// and checks the returned errors (Error, %v, %+v, %#v) and the logs.
// TestCanaryConfigsNeverPrint checks fmt and encoding/json renderings of
// every driver's Config and of the driver values themselves.
//
// The package is not for reuse: it exports nothing.
package canary

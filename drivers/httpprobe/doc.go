// Package httpprobe is a [drivers.Prober] that calls the application on one
// front-end server directly over HTTP(S), bypassing the load balancer: the
// runbook's "access the application directly through the front-end and
// confirm it is available and updated".
//
// A probe GETs Target.URL + Config.Path and is healthy when the answer has
// the expected status and the application's version can be read from it: a
// response header, a field of a JSON body, or the one group of a regular
// expression matched against the body. The engine compares that version with
// the release it deploys.
//
// # A release of several applications
//
// A release usually holds several applications, and the Deployment service
// of each front-end installs them one at a time: while one already answers
// the new version, another may still be deploying. [Prober.ProbeApplication]
// ([drivers.ApplicationProber]) probes one application at its own path
// (drivers.ApplicationProbe.Path, for example "/Orders/rest/Health/Version")
// with every other setting of the Config (Host, TLS, expected status, where
// the version is read), so one Prober checks every application of the
// release on every server; the engine compares each answer with that
// application's expected version.
//
// An answer that shows the application unhealthy (503, a wrong status, no
// version) is a result with Healthy false and a Detail, not an error.
// Errors are for probes that could not be made: a refused connection (wraps
// [drivers.ErrUnavailable]), a timeout (wraps context.DeadlineExceeded), a
// TLS certificate that does not verify.
//
// # What it is not for
//
// It does not follow redirects (a redirect to a login page is not the
// application answering: the probe reports the 3xx as unhealthy), never
// uses an HTTP proxy from the environment (the point is to reach the server
// itself), and does not run user journeys; write a smoke-test hook for
// those.
package httpprobe

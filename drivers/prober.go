package drivers

import "context"

// ProbeResult is what a [Prober] learned from calling the application on one
// server directly.
type ProbeResult struct {
	// Healthy is true when the application answered as configured (status,
	// content).
	Healthy bool `json:"healthy"`
	// StatusCode is the HTTP status, 0 when no answer came.
	StatusCode int `json:"status_code"`
	// Version is the version the application reports, empty when unknown.
	Version string `json:"version"`
	// Detail explains an unhealthy result.
	Detail string `json:"detail,omitempty"`
}

// Prober checks the application on one front-end directly, bypassing the load
// balancer: the runbook's "access the application directly through the
// front-end and confirm it is available and updated".
type Prober interface {
	// Probe calls the application on t. An answer that shows the
	// application unhealthy is a result, not an error; errors are for probes
	// that could not be made.
	Probe(ctx context.Context, t Target) (ProbeResult, error)
}

// ApplicationProbe says how to check one application of a release on a
// server: a release of several applications is installed on each front-end
// one application at a time, so one probe sees only one of them, and an
// application still deploying on a server goes unnoticed unless it is
// probed itself.
type ApplicationProbe struct {
	// Application is the application's name, as in Release.Applications;
	// messages name it.
	Application string `json:"application"`
	// Path is where the application answers on the server, relative to
	// Target.URL, for example "/Orders/rest/Health/Version". Empty means the
	// prober's own path.
	Path string `json:"path,omitempty"`
	// Version is the version the application reports once the release is
	// installed. The prober does not compare it (the engine does); a prober
	// may use it in messages.
	Version string `json:"version"`
}

// ApplicationProber is an optional capability of a [Prober]: it probes one
// application of a release at its own path ([ApplicationProbe].Path). The
// engine needs it to probe more than one application per server, and uses
// Probe otherwise.
type ApplicationProber interface {
	// ProbeApplication calls app on t, with the rules of Probe: an answer
	// that shows the application unhealthy is a result, not an error.
	ProbeApplication(ctx context.Context, t Target, app ApplicationProbe) (ProbeResult, error)
}

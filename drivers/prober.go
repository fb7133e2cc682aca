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

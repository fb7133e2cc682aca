// Package lifetime is a [drivers.PlatformClient] for the OutSystems LifeTime
// Deployment API v2: it creates a deployment plan that moves a set of
// application versions from a source environment to a target environment,
// starts it, follows its status and log, and continues or aborts it.
//
// Application code normally hands a [*Client] to steps.Balanced and never
// calls it directly. Call [Client.Wait] yourself only when you drive a
// deployment outside the engine.
//
// Besides [drivers.PlatformClient], a [*Client] implements the optional
// capabilities [drivers.DeployedReleaseReader], [drivers.DeploymentAborter]
// and [drivers.DeploymentContinuer].
//
// # What it is not for
//
// LifeTime reports the state of a deployment, not the state of each
// front-end: whether a given front-end already runs the new version must be
// learned by probing it (package httpprobe) or by reading its deployment
// service. This package does not manage LifeTime users, tokens, or mobile
// builds.
//
// # Errors
//
// Errors wrap the drivers error classes. LifeTime's error body
// {"Errors":[...],"StatusCode":n} is parsed into an [*APIError]. 401 and 403
// map to [drivers.ErrPermissionDenied], 404 to [drivers.ErrNotFound], 400 to
// [drivers.ErrInvalidArgument]. [drivers.ErrUnavailable] (the only class the
// engine retries) is used only when the request certainly had no effect:
// a connection that could not be opened, 429, or a 5xx to a GET (which
// changes nothing). A POST answered with 500, 502 or 504, or cut off after it
// was sent, may have taken effect (a deployment plan may exist, a deployment
// may have started): such errors are left unclassified so that nobody
// retries them blindly. A 503 to a POST is classified unavailable, because a
// server answers 503 before it handles a request.
//
// The bearer token is given as a [drivers.Secret], which never prints; the
// client keeps it where reflection cannot reach it, and scrubs it from any
// text the server sends back.
//
// # Protocol facts used
//
// From the project's protocols.md (LifeTime v2 Swagger): GET /environments/,
// GET /applications/{AppKey}/versions/, POST
// /environments/{EnvKey}/applications/{AppKey}/versions/ (tag), POST
// /deployments/ (the key comes back as a bare text/plain string, which is
// also accepted JSON-quoted), POST /deployments/{Key}/start|continue|abort/
// (202, empty body), DELETE /deployments/{Key}/, GET
// /deployments/{Key}/status/. Unconfirmed for v2: the shape of GET
// /environments/{EnvKey}/applications/?IncludeEnvStatus=true (each
// application with Key, Name and AppStatusInEnvs[] of EnvironmentKey,
// BaseApplicationVersionKey, IsModified) is taken from a LifeTime SDK
// generated from the API's Swagger file; it is isolated in resolve.go.
package lifetime

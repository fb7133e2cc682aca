// Package lifetime is a [drivers.PlatformClient] for the OutSystems LifeTime
// Deployment API v2: it creates a deployment plan that moves a set of
// application versions from a source environment to a target environment,
// starts it, follows its status and log, and continues or aborts it.
//
// Application code normally hands a [*Client] to steps.Balanced and never
// calls it directly: the balanced plan's publish step is the one place that
// polls a deployment, continues a prepared one and aborts one (package
// steps; its Config sets how often, and whether). The client itself never
// waits, and never aborts a deployment on its own.
//
// Besides [drivers.PlatformClient], a [*Client] implements the optional
// capabilities [drivers.DeployedReleaseReader], [drivers.DeploymentAborter],
// [drivers.DeploymentContinuer], [drivers.DeploymentFinder] and
// [drivers.DeploymentPreparer] (whether the target runs deployments in two
// stages, as Config.TwoStage declares).
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
// Sources: the LifeTime Deployment API v2 reference and its Swagger file
// (lifetime-api.json, downloadable with LifeTime Management Console 11.5.0
// and later), the OutSystems docs "LifeTime Deployment API use cases", and
// OutSystems' own client, github.com/OutSystems/outsystems-pipeline
// (package outsystems.lifetime).
//
//   - Every request sends "Authorization: Bearer <token>", the token of a
//     LifeTime service account (docs, "REST API Authentication"). Errors
//     come as {"Errors":[string],"StatusCode":int}.
//   - GET /environments/ lists Key and Name; 204 when there are none.
//   - GET /environments/{Key}/applications/?IncludeEnvStatus=true lists the
//     applications an environment runs, each with AppStatusInEnvs[]:
//     EnvironmentKey, BaseApplicationVersionKey (the version deployed when
//     IsModified is false), IsModified and DeploymentZoneKey (docs,
//     structure AppStatusInEnv).
//   - GET /applications/{Key}/versions/ returns only the 5 newest versions
//     unless MaximumVersionsToReturn is sent (Swagger: "The default value
//     is 5"; outsystems-pipeline always sends it). The client sends it
//     (10000) where it needs a list, and tags a missing version only when
//     the list came back shorter than that, so it never tags a version
//     that exists.
//   - GET /applications/{Key}/versions/{VersionKey}/ reads one version
//     however old (docs; IncludeModules is marked mandatory there and is
//     sent as false). DeployedRelease reads the deployed version this way.
//   - POST /environments/{Env}/applications/{App}/versions/ with
//     {ChangeLog, Version, MobileVersions:[]} tags the running version and
//     answers {ApplicationVersionKey}.
//   - POST /deployments/ with Notes, SourceEnvironmentKey,
//     TargetEnvironmentKey and ApplicationOperations[] of
//     {ApplicationVersionKey, DeploymentZoneKey}: both operation fields are
//     required (Swagger); an empty DeploymentZoneKey means the default zone
//     (docs: "provide an empty string in the DeploymentZoneKey
//     attribute"). Each application is sent with the zone it has in the
//     target (AppStatusInEnvs), so that none moves; one the target does not
//     run yet goes to Config.DeploymentZoneKey. The answer is the key as a
//     bare text/plain string (also accepted JSON-quoted).
//   - POST /deployments/{Key}/start/, continue/ and abort/ answer 202 with
//     an empty body, 400 when the command cannot run in the current state.
//     start takes RedeployOutdated (docs: "If True, outdated applications
//     in the target environment will be redeployed"); outsystems-pipeline
//     sends True by default, and so does this client unless
//     Config.KeepOutdated is set.
//   - DELETE /deployments/{Key}/ deletes a plan only while it is saved.
//   - GET /deployments/ lists deployment plans newest first, filtered by
//     TargetEnvironmentKey, MinDate (default: a week ago) and MaxDate; 204
//     when none. A record has Key, SourceEnvironmentKey,
//     TargetEnvironmentKey and ApplicationOperations, but no status (docs,
//     Deployments_List and structure Deployment). FindDeployment matches
//     plans on source, target and the exact set of ApplicationVersionKeys,
//     then reads their status.
//   - GET /deployments/{Key}/ validates the plan and may change it, so this
//     client never calls it.
//   - GET /deployments/{Key}/status/ answers DeploymentStatus (saved,
//     running, needs_user_intervention, aborting, aborted,
//     finished_successful, finished_with_warnings, finished_with_errors;
//     force_finished is accepted though undocumented), Info and
//     DeploymentLog[]. A log entry (DeploymentMessage) has only Instant
//     and Message: no type, so drivers.LogEntry.Type stays empty and a
//     failure is explained by the last messages, whatever they say.
//   - Info qualifies needs_user_intervention: business_process_impact,
//     needs_configuration_or_confirmation, deployment_suspended, or the
//     prepared state of a two-stage deployment, spelled deploy_prepared in
//     the docs and deployment_prepared in outsystems-pipeline; both are
//     accepted (drivers.DeploymentStatus.Prepared).
//   - Two-stage deployment is a setting of the target environment
//     ("Execute deployments in two stages"; docs, "Deploy in a Short
//     Deployment Window"), not of a deployment: POST /deployments/ and
//     start/ have no parameter for it, and the Environment structure of
//     GET /environments/ (as a LifeTime SDK generated from the Swagger file
//     lists it: Key, Name, OSVersion, Order, HostName, UseHTTPS,
//     EnvironmentType, NumberOfFrontEnds, ApplicationServerType,
//     ApplicationServer, DatabaseProvider, IsCloudEnvironment) does not
//     report it, so Config.TwoStage declares it. In such an environment
//     the first stage (compile, SQL scripts generated, binaries uploaded
//     to the front-ends: "no changes in the running versions") ends in
//     needs_user_intervention with the prepared Info; continue/ runs the
//     second (SQL scripts executed, running versions changed).
//     outsystems-pipeline treats the same state so: it continues it only
//     with --force_two_step_deployment, "in an environment where 2-stage
//     deployments are enabled", and otherwise exits after the first stage.
//
// Unconfirmed: the exact shape of AppStatusInEnvs in the environment
// listing is taken from the docs' structures and a LifeTime SDK generated
// from the Swagger file; it is isolated in resolve.go.
package lifetime

// Package lifetimetest is a fake OutSystems LifeTime Deployment API v2 for
// tests: the way net/http/httptest sits beside net/http, it sits beside
// package lifetime and speaks the same wire protocol, so the real client
// code is exercised end to end.
//
// A [Fake] is an http.Handler serving the API under /lifetimeapi/rest/v2.
// Serve it on loopback with [NewServer] or [NewTLSServer], or call it
// in-process through [Fake.Transport] (needed under testing/synctest, where
// real network I/O does not mix with virtual time).
//
// Deployments follow LifeTime's states: POST /deployments/ creates a plan in
// saved; start moves it to running and hands the release to a [Backend]
// that does the real work (the built-in [DelayBackend] just waits; a
// [PlatformBackend] drives any drivers.PlatformClient, such as a simulated
// farm's platform, so a deployment really installs on simulated servers,
// and mirrors its log, its needs_user_intervention pauses, continue and
// abort). Through its [Job] a backend writes the deployment log and can
// pause in needs_user_intervention. The deployment then ends
// finished_successful, finished_with_warnings (the backend logged a
// Warning), or finished_with_errors (the backend failed); abort moves it to
// aborting, cancels the backend and ends aborted.
// [Script] makes deployments pause in needs_user_intervention with a given
// Info or end in a chosen state; [Fake.SetStatus] forces a state;
// [Fake.Inject] makes chosen requests fail; [Fake.Requests] records
// what the client sent.
//
// # Documented behaviour it reproduces
//
// Each of these is what the LifeTime Deployment API v2 documents (its
// reference and Swagger file), and each is cited where it is coded:
//   - GET /applications/{Key}/versions/ lists the 5 newest versions, newest
//     first, unless MaximumVersionsToReturn asks for another number (400
//     when negative); GET /applications/{Key}/versions/{VersionKey}/ reads
//     any version.
//   - A deployment log entry carries only Instant and Message: the Type a
//     backend gives [Job.Log] is kept for [Fake.Deployment] but never sent.
//   - POST /deployments/ refuses an application operation without
//     DeploymentZoneKey (400); an empty one means the target's default
//     zone ([DefaultZone]); an unknown zone is refused. Each application
//     has its own zone per environment ([Application.Zones]), reported in
//     AppStatusInEnvs[].DeploymentZoneKey.
//   - start takes RedeployOutdated, recorded in [Deployment].
//   - GET /deployments/ lists plans newest first, filtered by
//     TargetEnvironmentKey, MinDate (default a week ago) and MaxDate; the
//     records carry no status.
//   - A deployment to an environment with two-stage deployment on
//     ([Environment.TwoStage], LifeTime's "Execute deployments in two
//     stages"; docs, "Deploy in a Short Deployment Window") runs its first
//     stage with no change in the running versions, then waits in
//     needs_user_intervention with the prepared Info until continue/ runs
//     the second stage (the [Backend]) or abort/ ends it. The Info is
//     deployment_prepared by default ([Config.PreparedInfo]), as
//     OutSystems' outsystems-pipeline checks it; the docs spell it
//     deploy_prepared. A [Script] can pause in either spelling too.
//
// # Scope and limitations
//
// Only what package lifetime uses is served: environments, applications of
// an environment (always with AppStatusInEnvs), application versions and
// tagging, deployment plans and their list, the start/continue/abort
// commands and status. Mobile builds, modules, conflicts, what
// RedeployOutdated redeploys, and the plan validation that GET
// /deployments/{Key}/ performs in the real product are not modelled. Keys
// are readable strings ("env-Production"), not GUIDs. Anything the vendor
// does not document is a guess written down in this package's code.
package lifetimetest

// Package farm is the API that deployment tooling holds: the [Server]s of a
// front-end farm, split per [Zone] into an Updating and a Loaded [Group], and
// the [Plan] of steps the engine runs over them with hooks, retries, timeouts,
// events and a [Report].
//
// Package steps builds the balanced-deployment plan; this package knows
// nothing of OutSystems and can run any plan of steps. It talks to the farm
// only through the contracts of package drivers.
//
// A farm is validated when it is built ([New]): every error names the bad
// value and what was expected, and nothing on the farm has been touched yet.
package farm

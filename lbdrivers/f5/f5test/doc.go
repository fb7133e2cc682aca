// Package f5test is a fake F5 BIG-IP iControl REST server for testing the
// f5 driver and code built on it, the way net/http/httptest fakes a server.
//
// It serves token login (POST /mgmt/shared/authn/login), token extension
// (PATCH /mgmt/shared/authz/tokens/<token>), the members of one LTM pool
// (list, GET, PUT/PATCH with "state"/"session", and /stats with
// serverside.curConns, availability and enabled state), and transactions:
// POST /mgmt/tm/transaction, member PUT/PATCH queued with the
// X-F5-REST-Coordination-Id header, and PATCH {"state":"VALIDATING"} to
// commit them all at once or none ([Batcher] stores apply them in one
// step). Every request but login needs a valid X-F5-Auth-Token.
//
// Tests can make tokens expire (Config.TokenLifetime, measured with
// time.Now so that testing/synctest's virtual clock drives it), revoke them
// ([Server.RevokeTokens]) to produce a 401 mid-run, hold connections open
// on a member ([MemStore.SetConns]), mark it unhealthy, inject error
// answers such as throttling ([Server.Inject]), and read back every request
// ([Server.Requests]).
//
// Serve it on loopback with httptest.NewTLSServer(srv), or call it in
// process with [Server.Client] (needed inside a synctest bubble, where
// sockets are not allowed).
//
// The members live in a [Store]: [MemStore] in memory, or
// [LoadBalancerStore] over any drivers.LoadBalancer, such as the farm
// simulator's, so that the real f5 driver can drive a simulated farm.
//
// # Scope and limitations
//
// One partition and one pool; no nodes, virtual servers or monitors.
// Transactions queue only member updates, never expire, and are not tied
// to the user who started them. Health and connection
// counts are whatever the store says; the fake does not model connections
// timing out after Forced Offline. Error bodies follow iControl REST's
// {"code","message"} shape, but their texts are approximations.
package f5test

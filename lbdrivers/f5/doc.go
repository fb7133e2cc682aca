// Package f5 is a [drivers.LoadBalancer] for F5 BIG-IP LTM pools over the
// iControl REST API.
//
// It is for the balanced engine (or any tool) that must drain, take out and
// put back the members of one pool. It is not a general iControl client:
// it touches only pool members, never nodes, virtual servers or monitors.
//
// # States
//
// The driver maps the three administrative states to BIG-IP's (F5 K13310):
//
//	Serving   Enabled         {"state":"unchecked","session":"user-enabled"}
//	Draining  Disabled        {"state":"unchecked","session":"user-disabled"}
//	Out       Forced Offline  {"state":"user-down","session":"user-disabled"}
//
// with PUT /mgmt/tm/ltm/pool/~<Partition>~<Pool>/members/~<Partition>~<node>:<port>.
// Disabled keeps active and persistent connections, so it is a drain;
// Status reports the member's serverside.curConns statistic as
// ActiveConnections (ConnectionsKnown is true). Health comes from the
// member's monitor state (up/down), or from the statistics' availability
// state when no monitor decides.
//
// Members are named "node:port", "ipv4:port" or "[ipv6]:port". Names are
// validated (letters, digits, '.', '-', '_'; no '/', '~', '?', '#', '%' or
// spaces) before they reach a URL; a bad name is [drivers.ErrInvalidArgument].
// A safe name without a port is passed to the device, which answers 404
// ([drivers.ErrNotFound]): no BIG-IP member has such a name.
//
// # Authentication
//
// The driver logs in with POST /mgmt/shared/authn/login (login provider
// "tmos") and sends the token in X-F5-Auth-Token. It tracks the token's
// lifetime (extended to Config.TokenTimeout when set) and logs in again
// shortly before it expires. When the device answers 401 (token revoked or
// expired early), the driver logs in once more and repeats the request; a
// second 401, or a 403, is [drivers.ErrPermissionDenied]. The password and
// tokens never appear in logs or errors; Config.Password is a
// [drivers.Secret], which redacts itself.
//
// # Account
//
// A local BIG-IP account (the driver logs in with login provider "tmos")
// with at least the Operator role on the pool's partition: F5 documents that
// role as allowed to enable, disable and force offline nodes and pool
// members (BIG-IP "User roles"; DevCentral "Using RBAC with iControl REST on
// BIG-IP" shows an operator account changing members over iControl REST).
// F5 does not document which roles may open an iControl REST transaction
// (Switch, multi-member SetState); if those calls are refused with 401/403
// under Operator, give the account write rights on the partition
// (Application Editor or Manager).
//
// # Errors
//
// 400 is [drivers.ErrInvalidArgument], 401/403 [drivers.ErrPermissionDenied],
// 404 [drivers.ErrNotFound]. [drivers.ErrUnavailable] (the only class the
// engine retries) is used only when the change certainly did not happen:
// for reads, any 429, 5xx or transport failure; for PUT, 429 and 503 (the
// device refused the request before handling it) and failures to connect.
// A 500, 502 or 504 answer to a PUT, or a connection lost after the request
// was sent, may follow a change that did happen: the driver reads the member
// back, succeeds if it reached the requested state, and otherwise returns an
// unclassified error.
//
// # Switcher: one transaction
//
// The driver implements [drivers.Switcher] with an iControl REST
// transaction: POST /mgmt/tm/transaction returns a transId; the member PUTs
// sent with the header X-F5-REST-Coordination-Id: <transId> are queued, not
// applied; PATCH /mgmt/tm/transaction/<transId> {"state":"VALIDATING"}
// validates and applies them all together (or none), and answers with
// state COMPLETED. A switch that fails before the commit changes nothing.
// SetState uses the same transaction when it changes more than one member,
// so a multi-member call is all or nothing too.
// These transaction semantics come from F5's iControl REST documentation
// and DevCentral; they are not listed in the project's protocol facts, and
// the fake in package f5test implements them as described here.
//
// Package f5test provides a fake iControl REST server for tests.
package f5

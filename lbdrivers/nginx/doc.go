// Package nginx is the [drivers.LoadBalancer] for NGINX, in two modes.
//
// # Open-source NGINX ([NewOSS])
//
// Open-source NGINX has no API to change an upstream at run time. The driver
// owns one include file that holds a single upstream block, and changes a
// member by rewriting that file and reloading NGINX gracefully:
//
//   - [drivers.Serving] is the plain server line, `server <addr>;`.
//   - [drivers.Out] is the same line with the `down` parameter.
//   - [drivers.Draining] is also written as `down`: NGINX 1.22 has no drain.
//     A graceful reload starts new workers with the new file and lets the old
//     workers finish the requests they already hold, which is the drain
//     (nginx.org "Controlling nginx", https://nginx.org/en/docs/control.html:
//     on HUP the master "starts new worker processes, and sends messages to
//     old worker processes requesting them to shut down gracefully"; old
//     workers close their listen sockets, keep serving their clients, and
//     exit once all of them are serviced). Until an old worker exits it keeps
//     proxying the requests it holds, retries included, with the old
//     upstream, where the drained member is still up. The driver therefore
//     reports such a member as Draining until [OSSConfig.DrainPeriod] has
//     passed since the reload took effect (not since the file was written:
//     on a busy host the test and reload take time) and, where it watches
//     the workers (a pid file on Linux), until every worker process that
//     existed before that reload has exited, then as Out. A worker is
//     recognised by its pid and its start time (/proc/<pid>/stat, field 22),
//     so a reused pid is not mistaken for it; a zombie counts as exited. A
//     member found draining that this driver did not drain (a resumed run)
//     stays Draining while any worker of the master is shutting down, since
//     any of them may be older than that drain. Without a pid file or /proc
//     the drain period alone decides.
//   - An old worker waits for its clients however long they take, unless
//     the main configuration sets `worker_shutdown_timeout` (nginx.org
//     ngx_core_module, https://nginx.org/en/docs/ngx_core_module.html#worker_shutdown_timeout,
//     NGINX 1.11.11 and later, main context, no default: "Configures a
//     timeout for a graceful shutdown of worker processes. When the time
//     expires, nginx will try to close all the connections currently open
//     to facilitate shutdown"). A shutting-down worker closes its idle
//     keep-alive connections at once (Maxim Dounin on the nginx mailing
//     list, quoted in https://medium.com/statuscode/nginxs-new-worker-shutdown-timeout-directive-d60f9c1142f8),
//     but a request still in progress (a
//     long poll, a WebSocket, a large download) holds the drain open until it
//     ends: set worker_shutdown_timeout to bound it, above the longest
//     request the application serves. Active connections are never known
//     (ConnectionsKnown is false); the engine waits its own drain period too.
//
// Every change renders the whole file, checks it with `nginx -t`, swaps it in
// atomically (temporary file and rename, the previous file kept as
// `<file>.prev`) and reloads NGINX (SIGHUP to the master process named by a
// pid file, or `nginx -s reload`). SetState returns once the reload took
// effect: with a pid file on Linux the driver watches the master's workers
// until every old one is "shutting down" (it no longer accepts connections)
// and a new one runs; otherwise it waits [OSSConfig.ReloadSettle]. A file
// NGINX refuses is rolled back and the error carries NGINX's message.
// Changes are serialized within one driver; two drivers (or processes) must
// not manage the same file at once. The state of each member, including when
// a drain began, is recorded in a comment on its server line, so a new driver
// (a resumed run) reads back exactly what the previous one wrote.
//
// # NGINX Plus ([NewPlus])
//
// NGINX Plus changes upstream servers through its REST API
// (/api/<version>/http/upstreams/<upstream>/servers/<id>). Protocol facts
// the driver relies on (nginx.org ngx_http_api_module and its nginx_api.yaml
// schema; nginx-plus-go-client):
//
//   - The upstream needs a `zone` directive (shared memory) to be changed at
//     run time, and the API location needs `api write=on;` (otherwise
//     PATCH is answered 405 MethodDisabled).
//   - GET /api/ lists the API versions served; the driver uses the highest
//     one between [MinAPIVersion] and [MaxAPIVersion] (the range
//     nginx-plus-go-client supports), and a request to a version not served
//     is answered 404 UnknownVersion.
//   - `drain` and `down` are independent fields of a server: Draining is
//     `{"drain":true,"down":false}`, Out is `{"down":true}` and Serving is
//     `{"drain":false,"down":false}` (`{"down":false}` alone would leave a
//     drained server draining).
//   - peers[].state (up, draining, down, unavail, checking, unhealthy)
//     reflects both fields; peers[].active counts the active connections.
//   - Errors are {"error":{"status","text","code"},"request_id","href"}.
//
// See [Plus] for details.
//
// # What this package is not
//
// Neither mode implements [drivers.Switcher]: the open-source file could be
// swapped in one reload, but old workers keep sending requests they already
// accepted on both sets, and NGINX Plus needs one PATCH per server, so no
// single transaction exists. The package does not manage the rest of the
// NGINX configuration: the main file must include the managed file inside its
// http block and proxy to the upstream.
//
// Package nginxplustest holds a fake NGINX Plus API for tests.
package nginx

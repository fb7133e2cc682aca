// Package nginxplustest is a fake NGINX Plus API for tests, the way
// net/http/httptest is a fake beside net/http.
//
// [NewServer] starts an HTTP server on loopback that answers the parts of the
// NGINX Plus REST API (ngx_http_api_module, nginx_api.yaml) that manage HTTP
// upstream servers:
//
//	GET    /api/                                     supported versions
//	GET    /api/<v>/http/upstreams                   every upstream with its peers
//	GET    /api/<v>/http/upstreams/<u>               one upstream: peers[], keepalive, zombies, zone
//	GET    /api/<v>/http/upstreams/<u>/servers       the servers' configuration
//	GET    /api/<v>/http/upstreams/<u>/servers/<id>  one server's configuration
//	POST   /api/<v>/http/upstreams/<u>/servers       add a server
//	PATCH  /api/<v>/http/upstreams/<u>/servers/<id>  change a server (down, drain, weight, ...)
//	DELETE /api/<v>/http/upstreams/<u>/servers/<id>  remove a server
//
// Errors use the documented body {"error":{"status","text","code"},
// "request_id","href"} and codes (UpstreamNotFound, UpstreamServerNotFound,
// UpstreamConfFormatError, MethodDisabled, UnknownVersion, ...).
//
// Tests can set a server's active connections ([Server.SetActive],
// [Server.Hold]) and health ([Server.SetHealth]), inject error answers
// ([Server.Inject]), read a server's state ([Server.Peer]) and the requests
// received ([Server.Requests]).
//
// # Scope and limitations
//
// No traffic flows through the fake: "active" counts only what a test sets.
// Peers are never resolved from names (one peer per server) and health checks
// never run.
//
// # Documented behaviour the fake reproduces
//
//   - drain and down are independent fields of an upstream server
//     (nginx_api.yaml, NginxHTTPUpstreamConfServer): a PATCH changes only the
//     fields it names, so {"down":false} on a draining server leaves it
//     draining; bringing it back takes {"drain":false,"down":false}.
//     nginx-plus-go-client's own test (TestUpstreamServerWithDrain) reads a
//     drained server back as down:false, drain:true. The peer's state
//     reflects both: "down" when down (drained or not), "draining" when only
//     drained.
//   - Only the configured API versions are served (Config.Versions):
//     GET /api/ lists them, and a request to another version is answered
//     404 {"error":{"status":404,"text":"unknown version",
//     "code":"UnknownVersion"},...} (ngx_http_api_module: "/api/" returns
//     the list of supported API versions; older NGINX Plus releases serve
//     fewer versions).
//
// Stream upstreams, keyvals and the other
// API sections are not served.
package nginxplustest

package nginx

import (
	"net/url"

	"github.com/balanced-deploy/balanced/drivers"
)

var (
	_ drivers.Identifier = (*OSS)(nil)
	_ drivers.Identifier = (*Plus)(nil)
)

// Identity names the load balancer for the farm's identity (the key of the
// lock that keeps two runs off one farm): the managed upstream file and the
// upstream, for example "nginx:/etc/nginx/conf.d/app-upstream.conf#app".
func (d *OSS) Identity() string {
	return "nginx:" + d.cfg.File + "#" + d.cfg.Upstream
}

// Identity names the load balancer for the farm's identity: the API
// endpoint's scheme, host and path (never its user info or query) and the
// upstream, for example "nginx-plus:https://lb.internal/api#app".
func (d *Plus) Identity() string {
	return "nginx-plus:" + endpointIdentity(d.cfg.Endpoint) + "#" + d.cfg.Upstream
}

// endpointIdentity is raw's scheme, host and path; a URL that does not parse
// (New refuses those) is reduced to what drivers.RedactURL shows.
func endpointIdentity(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return drivers.RedactURL(raw)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

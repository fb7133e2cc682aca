package f5

import (
	"net/url"

	"github.com/balanced-deploy/balanced/drivers"
)

var _ drivers.Identifier = (*Driver)(nil)

// Identity names the load balancer for the farm's identity (the key of the
// lock that keeps two runs off one farm): the device's scheme and host (never
// user info or a query) and the pool, for example
// "f5:https://bigip.internal/~Common~app_pool".
func (d *Driver) Identity() string {
	host := drivers.RedactURL(d.cfg.BaseURL)
	if u, err := url.Parse(d.cfg.BaseURL); err == nil {
		host = (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	}
	return "f5:" + host + "/~" + d.cfg.Partition + "~" + d.cfg.Pool
}

package haproxy

import "github.com/balanced-deploy/balanced/drivers"

var _ drivers.Identifier = (*Driver)(nil)

// Identity names the load balancer for the farm's identity (the key of the
// lock that keeps two runs off one farm): the Runtime API socket and the
// backend, for example "haproxy:unix:/run/haproxy/admin.sock#app". Two copies
// of one spec give the same string; it holds no secret.
func (d *Driver) Identity() string {
	return "haproxy:" + d.cfg.Network + ":" + d.cfg.Address + "#" + d.cfg.Backend
}

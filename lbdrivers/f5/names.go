package f5

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// objectNameRE is what this driver accepts as a partition, pool or node
// name: BIG-IP object names restricted to characters that need no escaping
// in a URL path and cannot change its meaning ('/', '~', '?', '#', '%',
// spaces and quotes are all refused).
var objectNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$`)

// validObjectName checks a partition, pool or node name.
func validObjectName(kind, name string) error {
	if !objectNameRE.MatchString(name) {
		return fmt.Errorf("%w: f5: %s name %q: want 1-255 letters, digits, '.', '-' or '_', starting with a letter, digit or '_'", drivers.ErrInvalidArgument, kind, name)
	}
	return nil
}

// memberName validates and turns a caller's member identity ("node:port", "10.0.0.1:80"
// or "[2001:db8::1]:80") into the BIG-IP member name ("node:port",
// "10.0.0.1:80", "2001:db8::1.80": BIG-IP separates an IPv6 address from
// its port with a dot).
func memberName(member string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: f5: member %q: %s: want \"node:port\", \"ipv4:port\" or \"[ipv6]:port\" with a port 0-65535", drivers.ErrInvalidArgument, member, why)
	}
	host, port, err := net.SplitHostPort(member)
	if err != nil {
		if objectNameRE.MatchString(member) {
			// A safe name without a port: no member can have it, but the
			// device, not the driver, says so (404, ErrNotFound).
			return member, nil
		}
		return "", bad("not a node:port pair")
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || strconv.FormatUint(p, 10) != port {
		return "", bad("bad port")
	}
	if addr, err := netip.ParseAddr(host); err == nil && addr.Zone() == "" {
		if addr.Is6() && !addr.Is4In6() {
			if !strings.HasPrefix(member, "[") {
				return "", bad("IPv6 address without brackets")
			}
			return addr.String() + "." + port, nil
		}
		return host + ":" + port, nil
	}
	if !objectNameRE.MatchString(host) {
		return "", bad("bad node name")
	}
	return host + ":" + port, nil
}

// poolPath is the URL path of the pool's member collection.
func poolPath(partition, pool string) string {
	return "/mgmt/tm/ltm/pool/" + url.PathEscape("~"+partition+"~"+pool) + "/members"
}

// memberPath is the URL path of one pool member; name is a validated
// BIG-IP member name.
func memberPath(partition, pool, name string) string {
	return poolPath(partition, pool) + "/" + url.PathEscape("~"+partition+"~"+name)
}

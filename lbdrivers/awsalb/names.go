package awsalb

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/balanced-deploy/balanced/drivers"
)

// target is a target's identity: id (instance id or IP address) and port
// (0 when the caller named none, meaning the target group's port).
type target struct {
	id   string
	port int32
}

// idRE is what the driver accepts as a target id that is not an IP
// address: an instance id ("i-0123456789abcdef0") or another name of safe
// characters, which the API then accepts or refuses (InvalidTarget).
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`)

// parseMember turns a member identity into a target: "i-0abc", "10.0.0.1",
// "2001:db8::1", with an optional port as "i-0abc:8080", "10.0.0.1:80" or
// "[2001:db8::1]:80".
func parseMember(member string) (target, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: awsalb: member %q: %s: want an instance id or IP address, optionally with :port (1-65535; IPv6 in brackets)", drivers.ErrInvalidArgument, member, why)
	}
	if a, err := netip.ParseAddr(member); err == nil && a.Zone() == "" {
		return target{id: a.String()}, nil
	}
	id := member
	var port int32
	if host, p, err := net.SplitHostPort(member); err == nil {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 || strconv.FormatUint(n, 10) != p {
			return target{}, bad("bad port")
		}
		id, port = host, int32(n)
		if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
			return target{id: a.String(), port: port}, nil
		}
	}
	if !idRE.MatchString(id) {
		return target{}, bad("bad target id")
	}
	return target{id: id, port: port}, nil
}

// String returns the target in member form.
func (t target) String() string {
	if t.port == 0 {
		return t.id
	}
	return net.JoinHostPort(t.id, strconv.Itoa(int(t.port)))
}

// description is the API's form of the target.
func (t target) description() types.TargetDescription {
	d := types.TargetDescription{Id: aws.String(t.id)}
	if t.port != 0 {
		d.Port = aws.Int32(t.port)
	}
	return d
}

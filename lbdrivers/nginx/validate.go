package nginx

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// Member maps a member identity, as the farm names it (farm.Server.Member),
// to the address NGINX connects to.
type Member struct {
	// Name is the member identity the engine uses. It may hold letters,
	// digits and . _ : / - [ ].
	Name string
	// Address is the server address in the upstream: "host:port",
	// "[ipv6]:port", a host without port (port 80), or "unix:/path".
	// Empty means Name.
	Address string
}

// address returns Address, or Name when Address is empty.
func (m Member) address() string {
	if m.Address != "" {
		return m.Address
	}
	return m.Name
}

var (
	// upstreamRE is what an upstream name may be: one config token with no
	// quoting or escaping needed.
	upstreamRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	// memberRE follows farm.Server.Member.
	memberRE = regexp.MustCompile(`^[A-Za-z0-9\[][A-Za-z0-9._:/\[\]-]{0,254}$`)
	// hostRE is a host name or IPv4 address; ipv6RE an IPv6 literal in brackets.
	hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)
	ipv6RE = regexp.MustCompile(`^\[[0-9A-Fa-f:.]{2,45}\]$`)
	// unixRE is a unix-domain socket path.
	unixRE = regexp.MustCompile(`^unix:/[A-Za-z0-9._/-]{1,200}$`)
	// paramRE is one server parameter ("max_fails=0", "backup") or one
	// directive argument.
	paramRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._:/=-]{0,127}$`)
	// directiveNameRE is the name of an upstream directive ("zone").
	directiveNameRE = regexp.MustCompile(`^[a-z][a-z_]{0,63}$`)
)

// ValidateUpstream reports whether name can be an upstream name in the
// managed file and in API paths. The error wraps drivers.ErrInvalidArgument.
func ValidateUpstream(name string) error {
	if !upstreamRE.MatchString(name) {
		return fmt.Errorf("%w: nginx upstream name %q: want 1-128 letters, digits, '.', '-' or '_'", drivers.ErrInvalidArgument, name)
	}
	return nil
}

// ValidateMemberName reports whether name can be a member identity.
func ValidateMemberName(name string) error {
	if !memberRE.MatchString(name) {
		return fmt.Errorf("%w: nginx member %q: want letters, digits and . _ : / - [ ] only", drivers.ErrInvalidArgument, name)
	}
	return nil
}

// ValidateAddress reports whether addr can be written as a server address:
// "host", "host:port", "[ipv6]", "[ipv6]:port" or "unix:/path". Nothing that
// could end the server line or open a block (';', '{', '}', '#', spaces,
// quotes, newlines) passes.
func ValidateAddress(addr string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: nginx server address %q: %s: want host:port, [ipv6]:port or unix:/path", drivers.ErrInvalidArgument, addr, why)
	}
	if strings.HasPrefix(addr, "unix:") {
		if !unixRE.MatchString(addr) {
			return bad("bad unix socket path")
		}
		return nil
	}
	host, port := addr, ""
	if i := strings.LastIndex(addr, ":"); i >= 0 && (!strings.HasPrefix(addr, "[") || strings.HasSuffix(addr[:i], "]")) {
		host, port = addr[:i], addr[i+1:]
		if port == "" {
			return bad("empty port")
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return bad("port is not a number from 1 to 65535")
		}
	}
	if !hostRE.MatchString(host) && !ipv6RE.MatchString(host) {
		return bad("bad host")
	}
	return nil
}

// validateMembers checks a member list: names and addresses valid and unique.
func validateMembers(members []Member) error {
	if len(members) == 0 {
		return fmt.Errorf("%w: no members: want at least one nginx upstream member", drivers.ErrInvalidArgument)
	}
	names := map[string]bool{}
	addrs := map[string]string{}
	for _, m := range members {
		if err := ValidateMemberName(m.Name); err != nil {
			return err
		}
		if err := ValidateAddress(m.address()); err != nil {
			return fmt.Errorf("member %s: %w", m.Name, err)
		}
		if names[m.Name] {
			return fmt.Errorf("%w: nginx member %s is listed twice: want each member once", drivers.ErrInvalidArgument, m.Name)
		}
		if other, dup := addrs[m.address()]; dup {
			return fmt.Errorf("%w: nginx members %s and %s share address %s: want one address per member", drivers.ErrInvalidArgument, other, m.Name, m.address())
		}
		names[m.Name] = true
		addrs[m.address()] = m.Name
	}
	return nil
}

// validateDirective checks one extra upstream directive such as
// "zone backend 64k" or "keepalive 16": a lower-case name, then arguments
// made of safe characters only. "server" and "upstream" are refused: the
// driver writes the server lines itself.
func validateDirective(d string) error {
	fields := strings.Split(d, " ")
	if !directiveNameRE.MatchString(fields[0]) || fields[0] == "server" || fields[0] == "upstream" || fields[0] == "include" {
		return fmt.Errorf("%w: nginx upstream directive %q: want a directive name (like zone, keepalive, least_conn) other than server, upstream or include", drivers.ErrInvalidArgument, d)
	}
	for _, a := range fields[1:] {
		if !paramRE.MatchString(a) {
			return fmt.Errorf("%w: nginx upstream directive %q: argument %q: want arguments of letters, digits and . _ : / = - separated by single spaces, without ';'", drivers.ErrInvalidArgument, d, a)
		}
	}
	return nil
}

// validateServerParam checks one parameter appended to every server line,
// such as "max_fails=0". "down" is refused: the driver writes it.
func validateServerParam(p string) error {
	if !paramRE.MatchString(p) || p == "down" || strings.HasPrefix(p, "#") {
		return fmt.Errorf("%w: nginx server parameter %q: want one token like max_fails=0 or fail_timeout=5s (not down)", drivers.ErrInvalidArgument, p)
	}
	return nil
}

package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// DefaultTimeout bounds one Runtime API exchange when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Config configures a [Driver]. The zero value of every optional field means a
// sensible default.
type Config struct {
	// Network is "unix" (the default), "tcp", "tcp4" or "tcp6".
	Network string
	// Address is the socket path ("/run/haproxy/admin.sock") or host:port
	// ("127.0.0.1:9999") of a stats socket at level admin. Required.
	Address string
	// Backend is the HAProxy backend whose servers are the members.
	// Required.
	Backend string
	// ServerName maps a member (the farm's Server.Member) to the HAProxy
	// server name; an empty result means the member is unknown. Nil means
	// the member is the server name. See [ServerMap].
	ServerName func(member string) string
	// Members lists the members Status reports when called with none. Empty
	// means every server of the backend, reported under its server name.
	Members []string
	// Timeout bounds each exchange with HAProxy, on top of the context's
	// deadline. Zero means [DefaultTimeout].
	Timeout time.Duration
	// Logger receives debug lines for each exchange. Nil discards them.
	Logger *slog.Logger
}

// ServerMap returns a Config.ServerName function that looks members up in m;
// members missing from m are unknown.
func ServerMap(m map[string]string) func(member string) string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return func(member string) string { return c[member] }
}

// Driver is a [drivers.LoadBalancer] and [drivers.Switcher] over the HAProxy
// Runtime API. It is safe for concurrent use; it holds no connection between
// calls.
type Driver struct {
	cfg     Config
	network string
	timeout time.Duration
	log     *slog.Logger
}

var (
	_ drivers.LoadBalancer = (*Driver)(nil)
	_ drivers.Switcher     = (*Driver)(nil)
)

// New checks cfg and returns a driver. It does not connect; the first call
// does. Errors wrap [drivers.ErrInvalidArgument].
func New(cfg Config) (*Driver, error) {
	d := &Driver{cfg: cfg, network: cfg.Network, timeout: cfg.Timeout, log: cfg.Logger}
	switch d.network {
	case "":
		d.network = "unix"
	case "unix", "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("%w: haproxy: network %q: want \"unix\", \"tcp\", \"tcp4\" or \"tcp6\"", drivers.ErrInvalidArgument, cfg.Network)
	}
	if cfg.Address == "" {
		return nil, fmt.Errorf("%w: haproxy: empty address: want a socket path or host:port", drivers.ErrInvalidArgument)
	}
	if err := validateName("backend", cfg.Backend); err != nil {
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: haproxy: timeout %v: want zero (default) or positive", drivers.ErrInvalidArgument, cfg.Timeout)
	}
	if d.timeout == 0 {
		d.timeout = DefaultTimeout
	}
	if d.log == nil {
		d.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d.cfg.Members = slices.Clone(cfg.Members)
	return d, nil
}

var commandFor = map[drivers.MemberState]string{
	drivers.Serving:  "ready",
	drivers.Draining: "drain",
	drivers.Out:      "maint",
}

// server maps and validates one member's server name.
func (d *Driver) server(member string) (string, error) {
	name := member
	if d.cfg.ServerName != nil {
		name = d.cfg.ServerName(member)
		if name == "" {
			if err := validateName("member", member); err != nil {
				return "", err
			}
			return "", fmt.Errorf("haproxy backend %s: member %q: %w (no server name for it)", d.cfg.Backend, member, drivers.ErrNotFound)
		}
	}
	if err := validateName("server", name); err != nil {
		return "", fmt.Errorf("member %q: %w", member, err)
	}
	return name, nil
}

// servers maps and validates members, in order.
func (d *Driver) servers(members []string) ([]string, error) {
	out := make([]string, len(members))
	for i, m := range members {
		s, err := d.server(m)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// SetState puts every member in state with one request line. It first reads
// the backend's servers so that an unknown member fails the call with
// [drivers.ErrNotFound] before anything changes.
func (d *Driver) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("haproxy set state: %w", err)
	}
	if !state.Valid() {
		return fmt.Errorf("%w: haproxy: state %q: want serving, draining or out", drivers.ErrInvalidArgument, state)
	}
	return d.apply(ctx, []change{{state, members}})
}

// Switch puts serve to Serving and drain to Draining in one request line,
// the "ready" commands first. A member in both lists is refused with
// [drivers.ErrInvalidArgument]; an unknown member with [drivers.ErrNotFound];
// in both cases nothing changes.
func (d *Driver) Switch(ctx context.Context, serve, drain []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("haproxy switch: %w", err)
	}
	for _, m := range serve {
		if slices.Contains(drain, m) {
			return fmt.Errorf("%w: haproxy switch: member %q is both to serve and to drain: want disjoint sets", drivers.ErrInvalidArgument, m)
		}
	}
	return d.apply(ctx, []change{{drivers.Serving, serve}, {drivers.Draining, drain}})
}

type change struct {
	state   drivers.MemberState
	members []string
}

func (d *Driver) apply(ctx context.Context, changes []change) error {
	var cmds, who, srvs []string
	for _, c := range changes {
		servers, err := d.servers(c.members)
		if err != nil {
			return err
		}
		for i, s := range servers {
			cmds = append(cmds, fmt.Sprintf("set server %s/%s state %s", d.cfg.Backend, s, commandFor[c.state]))
			who = append(who, c.members[i])
			srvs = append(srvs, s)
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	// Check every server exists first: HAProxy does not roll back a line.
	known, err := d.serversState(ctx)
	if err != nil {
		return err
	}
	for i, srv := range srvs {
		if _, ok := known[srv]; !ok {
			return fmt.Errorf("haproxy backend %s: member %q (server %s): %w; nothing changed", d.cfg.Backend, who[i], srv, drivers.ErrNotFound)
		}
	}
	replies, err := d.exchange(ctx, cmds)
	if err != nil {
		return err
	}
	var errs []error
	for i, r := range replies {
		if err := replyError(cmds[i], r); err != nil {
			errs = append(errs, fmt.Errorf("member %q: %w", who[i], err))
		}
	}
	switch len(errs) {
	case 0:
		d.log.InfoContext(ctx, "haproxy state set", "backend", d.cfg.Backend, "commands", len(cmds))
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("haproxy: %d of %d commands failed: %w", len(errs), len(cmds), errors.Join(errs...))
}

// serversState reads the backend's servers by name.
func (d *Driver) serversState(ctx context.Context) (map[string]serverState, error) {
	replies, err := d.exchange(ctx, []string{"show servers state " + d.cfg.Backend})
	if err != nil {
		return nil, err
	}
	states, err := d.parseServers(replies[0])
	if err != nil {
		return nil, err
	}
	out := make(map[string]serverState, len(states))
	for _, s := range states {
		out[s.Server] = s
	}
	return out, nil
}

func (d *Driver) parseServers(reply string) ([]serverState, error) {
	if !strings.HasPrefix(reply, "1") {
		if err := classifyReply(strings.TrimSpace(reply), fmt.Errorf("haproxy backend %s: %q", d.cfg.Backend, truncate(firstLine(reply), 200))); err != nil {
			return nil, err
		}
	}
	states, err := parseServersState(reply)
	if err != nil {
		return nil, fmt.Errorf("haproxy backend %s: %w", d.cfg.Backend, err)
	}
	return states, nil
}

// Status reads the members' state, health and current sessions with one
// request line ("show servers state" and "show stat" of the backend).
func (d *Driver) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("haproxy status: %w", err)
	}
	if len(members) == 0 {
		members = d.cfg.Members
	}
	servers, err := d.servers(members)
	if err != nil {
		return nil, err
	}
	replies, err := d.exchange(ctx, []string{"show servers state " + d.cfg.Backend, "show stat " + d.cfg.Backend + " 4 -1"})
	if err != nil {
		return nil, err
	}
	states, err := d.parseServers(replies[0])
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(strings.TrimLeft(replies[1], "\n"), "# ") {
		return nil, classifyReply(strings.TrimSpace(replies[1]), fmt.Errorf("haproxy backend %s: show stat: %q", d.cfg.Backend, truncate(firstLine(replies[1]), 200)))
	}
	rows, err := parseStat(replies[1])
	if err != nil {
		return nil, fmt.Errorf("haproxy backend %s: %w", d.cfg.Backend, err)
	}
	byName := map[string]serverState{}
	for _, s := range states {
		byName[s.Server] = s
	}
	scur := map[string]int{}
	for _, r := range rows {
		if r.Proxy == d.cfg.Backend {
			scur[r.Server] = r.Current
		}
	}
	if len(members) == 0 {
		for _, s := range states {
			members = append(members, s.Server)
			servers = append(servers, s.Server)
		}
	}
	out := make([]drivers.MemberStatus, len(members))
	for i, m := range members {
		s, ok := byName[servers[i]]
		if !ok {
			return nil, fmt.Errorf("haproxy backend %s: member %q (server %s): %w", d.cfg.Backend, m, servers[i], drivers.ErrNotFound)
		}
		out[i] = drivers.MemberStatus{
			Member:            m,
			State:             s.memberState(),
			Health:            s.health(),
			ActiveConnections: scur[s.Server],
			ConnectionsKnown:  true,
		}
	}
	return out, nil
}

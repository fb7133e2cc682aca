package f5

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// Driver is a [drivers.LoadBalancer] for the members of one BIG-IP LTM pool.
// It is safe for concurrent use.
type Driver struct {
	cfg  Config
	base *url.URL
	tok  tokenState
}

var _ drivers.LoadBalancer = (*Driver)(nil)

// New validates cfg and returns a driver. It does not contact the device;
// the first call logs in.
func New(cfg Config) (*Driver, error) {
	cfg, base, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	return &Driver{cfg: cfg, base: base, tok: tokenState{sem: make(chan struct{}, 1)}}, nil
}

// SetState puts every named member ("node:port") in state: Serving is
// Enabled, Draining is Disabled (active and persistent connections go on,
// no new ones) and Out is Forced Offline.
//
// The driver first reads every member: an unknown one fails the call with
// [drivers.ErrNotFound] before anything changes. Members already in state
// are left alone. One member is changed with one PUT; several are changed
// in one iControl REST transaction, all or none (see [Driver.Switch]). If
// the PUT or the commit fails ambiguously (500, 502, 504 or a connection
// lost after sending), the driver reads the members back and succeeds if
// they reached state; otherwise the error is left unclassified, because
// the change may still happen.
func (d *Driver) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("f5: set state: %w", err)
	}
	if !state.Valid() {
		return fmt.Errorf("%w: f5: state %q: want serving, draining or out", drivers.ErrInvalidArgument, state)
	}
	names, err := d.memberNames(members)
	if err != nil {
		return err
	}
	var todo []change
	seen := map[string]bool{}
	for i, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		m, err := d.getMember(ctx, name)
		if err != nil {
			return fmt.Errorf("f5: set %s to %s: %w", members[i], state, err)
		}
		if have, _ := m.adminState(); have != state {
			todo = append(todo, change{member: members[i], name: name, state: state})
		}
	}
	switch len(todo) {
	case 0:
		return nil
	case 1:
		c := todo[0]
		_, err := d.do(ctx, http.MethodPut, memberPath(d.cfg.Partition, d.cfg.Pool, c.name), updateFor(state))
		if err != nil && drivers.Class(err) == nil && ctx.Err() == nil && d.reached(ctx, todo) {
			d.cfg.Logger.Warn("f5: member update answered with an error but took effect", "member", c.member, "state", state, "error", err)
			err = nil
		}
		if err != nil {
			return fmt.Errorf("f5: set %s to %s: %w", c.member, state, err)
		}
	default:
		if err := d.transact(ctx, todo); err != nil {
			return fmt.Errorf("f5: set %s to %s: %w", strings.Join(changedMembers(todo), ", "), state, err)
		}
	}
	d.cfg.Logger.Info("f5: member state set", "pool", d.cfg.Pool, "members", changedMembers(todo), "state", state)
	return nil
}

// changedMembers returns the members of todo as the caller named them.
func changedMembers(todo []change) []string {
	out := make([]string, len(todo))
	for i, c := range todo {
		out[i] = c.member
	}
	return out
}

// Status reads the named members in the order given, or every member of
// the pool when none is named. ActiveConnections is the member's
// serverside.curConns statistic.
func (d *Driver) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("f5: status: %w", err)
	}
	var bodies []memberBody
	if len(members) == 0 {
		data, err := d.do(ctx, http.MethodGet, poolPath(d.cfg.Partition, d.cfg.Pool), nil)
		if err != nil {
			return nil, fmt.Errorf("f5: list pool %s: %w", d.cfg.Pool, err)
		}
		coll, err := parseCollection(data)
		if err != nil {
			return nil, err
		}
		for _, m := range coll.Items {
			members = append(members, callerName(m.Name))
			bodies = append(bodies, m)
		}
	} else {
		names, err := d.memberNames(members)
		if err != nil {
			return nil, err
		}
		for i, name := range names {
			m, err := d.getMember(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("f5: status of %s: %w", members[i], err)
			}
			bodies = append(bodies, m)
		}
	}
	out := make([]drivers.MemberStatus, len(members))
	for i, m := range bodies {
		data, err := d.do(ctx, http.MethodGet, memberPath(d.cfg.Partition, d.cfg.Pool, m.Name)+"/stats", nil)
		if err != nil {
			return nil, fmt.Errorf("f5: stats of %s: %w", members[i], err)
		}
		st, err := parseStats(data)
		if err != nil {
			return nil, fmt.Errorf("f5: stats of %s: %w", members[i], err)
		}
		out[i] = status(members[i], m, st)
	}
	return out, nil
}

// memberNames validates members and returns their BIG-IP names.
func (d *Driver) memberNames(members []string) ([]string, error) {
	names := make([]string, len(members))
	for i, m := range members {
		n, err := memberName(m)
		if err != nil {
			return nil, err
		}
		names[i] = n
	}
	return names, nil
}

// getMember reads one member resource.
func (d *Driver) getMember(ctx context.Context, name string) (memberBody, error) {
	data, err := d.do(ctx, http.MethodGet, memberPath(d.cfg.Partition, d.cfg.Pool, name), nil)
	if err != nil {
		return memberBody{}, err
	}
	m, err := parseMember(data)
	if err != nil {
		return m, err
	}
	if m.Name == "" {
		m.Name = name
	}
	return m, nil
}

// callerName turns a BIG-IP member name back into the caller's form
// ("2001:db8::1.80" becomes "[2001:db8::1]:80"). Other names are returned
// as they are, even those this driver cannot address (a route domain such
// as "10.0.0.1%2:80"), so that a listing shows every member.
func callerName(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 && strings.Count(name, ":") > 1 && !strings.ContainsAny(name, "%[]") {
		return "[" + name[:i] + "]:" + name[i+1:]
	}
	return name
}

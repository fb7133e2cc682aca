package nginx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// DefaultAPIVersion is the NGINX Plus API version [PlusConfig] uses when
// APIVersion is zero.
const DefaultAPIVersion = 9

// PlusConfig configures the NGINX Plus driver. Endpoint and Upstream are
// required; the zero value of every other field means the default.
type PlusConfig struct {
	// Endpoint is the URL of the location that serves the API (the one
	// with `api write=on;`), for example "https://lb.internal:8443/api".
	// It must not hold credentials: use Username and Password.
	Endpoint string
	// APIVersion is the API version in the path. Zero means
	// DefaultAPIVersion.
	APIVersion int
	// Upstream is the HTTP upstream the members belong to. It needs a zone
	// directive to be changed at run time.
	Upstream string
	// Members maps member identities to server addresses as the upstream
	// lists them (its peers' "server" field). Empty means the members are
	// named by their addresses.
	Members []Member
	// HTTPClient sends the requests. Nil means a client with a 30 s timeout
	// that verifies TLS certificates.
	HTTPClient *http.Client
	// Username and Password, when set, are sent with HTTP basic
	// authentication. Password is a drivers.Secret (drivers.NewSecret),
	// so printing the config shows "[redacted]"; it never appears in errors
	// or logs, even when the server echoes it back.
	Username string
	Password drivers.Secret
	// Logger receives one line per change. Nil discards.
	Logger *slog.Logger
}

// Plus is the [drivers.LoadBalancer] for NGINX Plus over its REST API. Build
// it with [NewPlus]. It is safe for concurrent use.
//
// Draining is PATCH {"drain":true}: the server takes no new requests except
// those bound to it by session persistence. Out is {"down":true}. Serving is
// {"down":false}: how to leave drain is not stated in the NGINX
// documentation; this is what the official client (nginx-plus-go-client)
// sends, as it never sends "drain":false. Status reads peers[].state
// (up, draining, down, unavail, checking, unhealthy) and peers[].active, so
// active connections are known.
//
// Plus does not implement [drivers.Switcher]: every server is a separate
// PATCH, so two sets cannot change in one transaction. For the same reason a
// failure in the middle of SetState may leave earlier members changed; such
// an error is never classified drivers.ErrUnavailable.
type Plus struct {
	cfg    PlusConfig
	base   string // endpoint + /<version>/http/upstreams/<upstream>
	client *http.Client
	log    *slog.Logger
	byName map[string]Member
}

var _ drivers.LoadBalancer = (*Plus)(nil)

// NewPlus validates cfg and returns the driver. It sends nothing.
func NewPlus(cfg PlusConfig) (*Plus, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: nginx plus endpoint %q: want an http:// or https:// URL of the API location", drivers.ErrInvalidArgument, redactURL(cfg.Endpoint))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: nginx plus endpoint %s holds credentials: want them in PlusConfig.Username and Password", drivers.ErrInvalidArgument, redactURL(cfg.Endpoint))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: nginx plus endpoint %q: want no query or fragment", drivers.ErrInvalidArgument, cfg.Endpoint)
	}
	if err := ValidateUpstream(cfg.Upstream); err != nil {
		return nil, err
	}
	if cfg.APIVersion < 0 {
		return nil, fmt.Errorf("%w: nginx plus API version %d: want a positive number (or 0 for %d)", drivers.ErrInvalidArgument, cfg.APIVersion, DefaultAPIVersion)
	}
	if cfg.APIVersion == 0 {
		cfg.APIVersion = DefaultAPIVersion
	}
	d := &Plus{cfg: cfg, client: cfg.HTTPClient, log: cfg.Logger, byName: map[string]Member{}}
	if len(cfg.Members) > 0 {
		if err := validateMembers(cfg.Members); err != nil {
			return nil, err
		}
		for _, m := range cfg.Members {
			d.byName[m.Name] = m
		}
	}
	if d.client == nil {
		d.client = &http.Client{Timeout: 30 * time.Second}
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.base = strings.TrimSuffix(u.String(), "/") + "/" + strconv.Itoa(cfg.APIVersion) + "/http/upstreams/" + url.PathEscape(cfg.Upstream)
	return d, nil
}

// member resolves a member name to its address.
func (d *Plus) member(name string) (Member, error) {
	if len(d.byName) == 0 {
		if err := ValidateAddress(name); err != nil {
			return Member{}, fmt.Errorf("%w: nginx plus upstream %s has no member %q (members are named by address): %w", drivers.ErrNotFound, d.cfg.Upstream, name, err)
		}
		return Member{Name: name, Address: name}, nil
	}
	m, ok := d.byName[name]
	if !ok {
		return Member{}, fmt.Errorf("%w: nginx plus upstream %s has no member %q", drivers.ErrNotFound, d.cfg.Upstream, name)
	}
	return m, nil
}

// confServer is one entry of GET .../servers.
type confServer struct {
	ID     int    `json:"id"`
	Server string `json:"server"`
}

// peer is one entry of GET .../upstreams/<name> peers[].
type peer struct {
	ID     int    `json:"id"`
	Server string `json:"server"`
	Name   string `json:"name"`
	State  string `json:"state"`
	Active int    `json:"active"`
}

// SetState resolves every member's server id (GET .../servers), then sends
// one PATCH per member. An unknown member fails the call with
// drivers.ErrNotFound before any PATCH.
func (d *Plus) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	var body string
	switch state {
	case drivers.Serving:
		body = `{"down":false}`
	case drivers.Draining:
		body = `{"drain":true}`
	case drivers.Out:
		body = `{"down":true}`
	default:
		return fmt.Errorf("%w: nginx plus: state %q: want serving, draining or out", drivers.ErrInvalidArgument, state)
	}
	want := make([]Member, 0, len(members))
	for _, name := range members {
		m, err := d.member(name)
		if err != nil {
			return err
		}
		want = append(want, m)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("nginx plus: %w", err)
	}
	if len(want) == 0 {
		return nil
	}
	var servers []confServer
	if err := d.do(ctx, http.MethodGet, d.base+"/servers", "", &servers); err != nil {
		return err
	}
	ids := make([]int, len(want))
	for i, m := range want {
		ids[i] = -1
		for _, s := range servers {
			if s.Server == m.address() {
				ids[i] = s.ID
				break
			}
		}
		if ids[i] < 0 {
			return fmt.Errorf("%w: nginx plus upstream %s has no server %s (member %q)", drivers.ErrNotFound, d.cfg.Upstream, m.address(), m.Name)
		}
	}
	done := map[int]bool{}
	for i, m := range want {
		if done[ids[i]] {
			continue
		}
		err := d.do(ctx, http.MethodPatch, d.base+"/servers/"+strconv.Itoa(ids[i]), body, nil)
		if err != nil {
			if len(done) > 0 && errors.Is(err, drivers.ErrUnavailable) {
				// Earlier members changed: not safe to call unavailable.
				return fmt.Errorf("nginx plus: member %s: %d member(s) already set to %s: %v", m.Name, len(done), state, err)
			}
			return fmt.Errorf("nginx plus: member %s: %w", m.Name, err)
		}
		done[ids[i]] = true
	}
	d.log.InfoContext(ctx, "nginx plus upstream changed", "upstream", d.cfg.Upstream, "state", state, "members", members)
	return nil
}

// Status reads the upstream's peers (GET .../upstreams/<name>) and returns
// the named members in the order given, or every member when none is named.
func (d *Plus) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	want := make([]Member, 0, len(members))
	for _, name := range members {
		m, err := d.member(name)
		if err != nil {
			return nil, err
		}
		want = append(want, m)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("nginx plus: %w", err)
	}
	var up struct {
		Peers []peer `json:"peers"`
	}
	if err := d.do(ctx, http.MethodGet, d.base, "", &up); err != nil {
		return nil, err
	}
	if len(members) == 0 {
		if len(d.cfg.Members) > 0 {
			want = d.cfg.Members
		} else {
			for _, p := range up.Peers {
				want = append(want, Member{Name: p.Server, Address: p.Server})
			}
		}
	}
	out := make([]drivers.MemberStatus, 0, len(want))
	for _, m := range want {
		i := -1
		for j, p := range up.Peers {
			if p.Server == m.address() {
				i = j
				break
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("%w: nginx plus upstream %s has no peer %s (member %q)", drivers.ErrNotFound, d.cfg.Upstream, m.address(), m.Name)
		}
		st, err := peerStatus(m.Name, up.Peers[i])
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// peerStatus maps a peer's state to the driver states.
func peerStatus(member string, p peer) (drivers.MemberStatus, error) {
	st := drivers.MemberStatus{Member: member, ActiveConnections: p.Active, ConnectionsKnown: true}
	switch p.State {
	case "up":
		st.State, st.Health = drivers.Serving, drivers.Healthy
	case "draining":
		st.State, st.Health = drivers.Draining, drivers.HealthUnknown
	case "down":
		st.State, st.Health = drivers.Out, drivers.HealthUnknown
	case "unavail", "unhealthy":
		st.State, st.Health = drivers.Serving, drivers.Unhealthy
	case "checking":
		st.State, st.Health = drivers.Serving, drivers.HealthUnknown
	default:
		return st, fmt.Errorf("nginx plus: peer %s reports state %q: want up, draining, down, unavail, checking or unhealthy", p.Server, p.State)
	}
	return st, nil
}

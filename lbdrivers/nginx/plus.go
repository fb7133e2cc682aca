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
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// The NGINX Plus API versions the driver speaks: the range
// nginx-plus-go-client supports (its supportedAPIVersions, 4 to 9). Every
// path and field the driver uses (http/upstreams/<u>, .../servers[/<id>],
// peers[].state and .active, the server fields down and drain) exists in
// each of them (nginx_api.yaml).
const (
	MinAPIVersion = 4
	MaxAPIVersion = 9
)

// PlusConfig configures the NGINX Plus driver. Endpoint and Upstream are
// required; the zero value of every other field means the default.
type PlusConfig struct {
	// Endpoint is the URL of the location that serves the API (the one
	// with `api write=on;`), for example "https://lb.internal:8443/api".
	// It must not hold credentials: use Username and Password.
	Endpoint string
	// APIVersion is the API version in the path, MinAPIVersion to
	// MaxAPIVersion. Zero (the default) means negotiated: on its first call
	// the driver reads GET <Endpoint>/ (the list of versions the server
	// serves, for example [1,2,3,4,5,6,7,8,9]) and uses the highest one it
	// supports too; an older NGINX Plus that does not serve version 9 is
	// then spoken to in its own newest version. A set version is checked
	// against the same list. When no version is usable, every call fails
	// with drivers.ErrUnimplemented naming the versions on both sides.
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
// An upstream server has two independent flags, down and drain
// (nginx_api.yaml, NginxHTTPUpstreamConfServer: two optional booleans,
// "same as the down/drain parameter" of the server directive, neither
// marked "cannot be changed" as backup and service are): a PATCH changes
// only the fields it names, so {"down":false} leaves a draining server draining
// (nginx-plus-go-client's own test reads a drained server back as
// down:false, drain:true). The driver therefore always names both where it
// matters:
//
//	drivers.Serving   PATCH {"drain":false,"down":false}
//	drivers.Draining  PATCH {"drain":true,"down":false}: no new requests
//	                  except those bound to it by session persistence
//	drivers.Out       PATCH {"down":true}: no request at all
//
// Status reads peers[].state, which reflects both flags (up, draining, down,
// unavail, checking, unhealthy), and peers[].active, so active connections
// are known.
//
// The API version is negotiated on the first call from GET <Endpoint>/ (see
// PlusConfig.APIVersion), so an NGINX Plus release that does not serve the
// newest version still works.
//
// Plus does not implement [drivers.Switcher]: every server is a separate
// PATCH, so two sets cannot change in one transaction. For the same reason a
// failure in the middle of SetState may leave earlier members changed; such
// an error is never classified drivers.ErrUnavailable.
type Plus struct {
	cfg      PlusConfig
	endpoint string // the API location, without a trailing slash
	client   *http.Client

	mu   sync.Mutex
	base string // endpoint + /<version>/http/upstreams/<upstream>, once negotiated

	log    *slog.Logger
	byName map[string]Member
}

var _ drivers.LoadBalancer = (*Plus)(nil)

// NewPlus validates cfg and returns the driver. It sends nothing.
func NewPlus(cfg PlusConfig) (*Plus, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: nginx plus endpoint %q: want an http:// or https:// URL of the API location", drivers.ErrInvalidArgument, drivers.RedactURL(cfg.Endpoint))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: nginx plus endpoint %q holds credentials: want them in PlusConfig.Username and Password", drivers.ErrInvalidArgument, drivers.RedactURL(cfg.Endpoint))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: nginx plus endpoint %q: want no query or fragment", drivers.ErrInvalidArgument, drivers.RedactURL(cfg.Endpoint))
	}
	if err := ValidateUpstream(cfg.Upstream); err != nil {
		return nil, err
	}
	if cfg.APIVersion != 0 && (cfg.APIVersion < MinAPIVersion || cfg.APIVersion > MaxAPIVersion) {
		return nil, fmt.Errorf("%w: nginx plus API version %d: want %d to %d, or 0 to use the highest both sides serve", drivers.ErrInvalidArgument, cfg.APIVersion, MinAPIVersion, MaxAPIVersion)
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
	d.endpoint = strings.TrimSuffix(u.String(), "/")
	return d, nil
}

// upstreamURL returns the URL of the upstream in the negotiated API
// version, reading GET <endpoint>/ on the first call (and again after a
// failed negotiation).
func (d *Plus) upstreamURL(ctx context.Context) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.base != "" {
		return d.base, nil
	}
	var served []int
	if err := d.do(ctx, http.MethodGet, d.endpoint+"/", "", &served); err != nil {
		return "", fmt.Errorf("nginx plus: read the API versions served: %w", err)
	}
	v, err := pickVersion(d.cfg.APIVersion, served)
	if err != nil {
		return "", fmt.Errorf("nginx plus %s: %w", d.endpoint, err)
	}
	d.base = d.endpoint + "/" + strconv.Itoa(v) + "/http/upstreams/" + url.PathEscape(d.cfg.Upstream)
	d.log.DebugContext(ctx, "nginx plus api version", "endpoint", d.endpoint, "version", v, "served", served)
	return d.base, nil
}

// pickVersion returns want when served lists it, or (want 0) the highest
// version in served that the driver supports.
func pickVersion(want int, served []int) (int, error) {
	best := 0
	for _, v := range served {
		if v >= MinAPIVersion && v <= MaxAPIVersion && (want == 0 || v == want) {
			best = max(best, v)
		}
	}
	if best > 0 {
		return best, nil
	}
	if want != 0 {
		return 0, drivers.Classify(drivers.ErrUnimplemented, fmt.Errorf("API version %d (PlusConfig.APIVersion, load_balancer.api_version in a spec) is not served: the server serves %v (GET /api/); set APIVersion to one of them between %d and %d, or 0 to negotiate", want, served, MinAPIVersion, MaxAPIVersion))
	}
	return 0, drivers.Classify(drivers.ErrUnimplemented, fmt.Errorf("no usable API version: the server serves %v (GET /api/), this driver speaks %d to %d", served, MinAPIVersion, MaxAPIVersion))
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
		body = `{"drain":false,"down":false}`
	case drivers.Draining:
		body = `{"drain":true,"down":false}`
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
	base, err := d.upstreamURL(ctx)
	if err != nil {
		return err
	}
	var servers []confServer
	if err := d.do(ctx, http.MethodGet, base+"/servers", "", &servers); err != nil {
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
		err := d.do(ctx, http.MethodPatch, base+"/servers/"+strconv.Itoa(ids[i]), body, nil)
		if err != nil {
			if len(done) > 0 && errors.Is(err, drivers.ErrUnavailable) {
				// Earlier members changed: not safe to call unavailable, so
				// err is said, not wrapped (its ErrUnavailable would show).
				return fmt.Errorf("nginx plus: member %s: %d member(s) already set to %s: %v", m.Name, len(done), state, err) //nolint:errorlint // see above
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
	base, err := d.upstreamURL(ctx)
	if err != nil {
		return nil, err
	}
	var up struct {
		Peers []peer `json:"peers"`
	}
	if err := d.do(ctx, http.MethodGet, base, "", &up); err != nil {
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

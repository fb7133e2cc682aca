package nginxplustest

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/balanced-deploy/balanced/fault"
)

// Config describes the fake's initial state.
type Config struct {
	// Upstreams maps each HTTP upstream name to its server addresses, in
	// order; server ids are assigned from 0 in that order.
	Upstreams map[string][]string
	// Versions lists the API versions served, as GET /api/ lists them
	// (for example [1,2,3,4,5,6,7,8,9] on NGINX Plus R30 and later). A
	// request to any other version is answered 404 with code
	// UnknownVersion, as ngx_http_api_module does. Empty means 1 to 9.
	Versions []int
	// Username and Password, when set, are required with HTTP basic
	// authentication on every request (401 otherwise).
	Username, Password string
	// ReadOnly answers POST, PATCH and DELETE with 405 MethodDisabled, as
	// an api location without write=on does.
	ReadOnly bool
}

// Request is one request the fake received.
type Request struct {
	Method, Path, Body string
}

// Peer is the state of one upstream server in the fake.
type Peer struct {
	ID     int
	Server string
	Down   bool
	Drain  bool
	Weight int
	Active int
	// Health is "up" unless set with SetHealth ("unhealthy", "unavail",
	// "checking").
	Health string
}

// State returns the peer's state as the API reports it (peers[].state:
// "up", "draining", "down", "unavail", "checking" or "unhealthy", per
// nginx_api.yaml NginxHTTPUpstreamPeer). It reflects both fields: a server
// that is down reads "down" whether or not it is also draining (a down
// server takes no request at all), a draining one "draining"; otherwise its
// health.
func (p Peer) State() string {
	switch {
	case p.Down:
		return "down"
	case p.Drain:
		return "draining"
	}
	return p.Health
}

type upstream struct {
	peers  []*Peer
	nextID int
}

// Server is a running fake NGINX Plus API. Its methods are safe for
// concurrent use.
type Server struct {
	cfg    Config
	srv    *httptest.Server
	mu     sync.Mutex
	ups    map[string]*upstream
	reqs   []Request
	faults fault.Set
	seq    int
}

// NewServer starts the fake on a loopback port. Close it when done.
func NewServer(cfg Config) *Server {
	s := &Server{cfg: cfg, ups: map[string]*upstream{}}
	if len(s.cfg.Versions) == 0 {
		s.cfg.Versions = []int{1, 2, 3, 4, 5, 6, 7, 8, 9}
	}
	for name, addrs := range cfg.Upstreams {
		u := &upstream{}
		for _, a := range addrs {
			u.peers = append(u.peers, &Peer{ID: u.nextID, Server: a, Weight: 1, Health: "up"})
			u.nextID++
		}
		s.ups[name] = u
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL returns the API location's URL ("http://127.0.0.1:port/api"), the
// Endpoint of nginx.PlusConfig.
func (s *Server) URL() string { return s.srv.URL + "/api" }

// Close shuts the fake down; later requests are refused.
func (s *Server) Close() { s.srv.Close() }

// Peer returns the state of the server with address addr in upstream u.
func (s *Server) Peer(u, addr string) (Peer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.find(u, addr); p != nil {
		return *p, true
	}
	return Peer{}, false
}

// SetActive sets the active connection count of a server. It reports false
// when the upstream or server does not exist.
func (s *Server) SetActive(u, addr string, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(u, addr)
	if p == nil {
		return false
	}
	p.Active = n
	return true
}

// Hold counts one more active connection on a server, as a request in
// flight, and returns the function that ends it.
func (s *Server) Hold(u, addr string) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.find(u, addr); p != nil {
		p.Active++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if p := s.find(u, addr); p != nil && p.Active > 0 {
				p.Active--
			}
		})
	}
}

// SetHealth sets what health checks say of a server when it is neither down
// nor draining: "up", "unhealthy", "unavail" or "checking".
func (s *Server) SetHealth(u, addr, health string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(u, addr)
	if p == nil {
		return false
	}
	p.Health = health
	return true
}

// Inject adds a fault (package fault documents every field; faults are tried
// in the order added). The fake names a request by its method
// (fault.Fault.Op: "GET", "PATCH"...) and matches Target against any part of
// the request path ("/servers/0", "/api/"). A hit request, once
// authenticated, is answered with Status and the documented error body
// carrying Code and Message ("injected by nginxplustest" by default); it has
// no effect. Inject panics on a fault the fake cannot honour (a field it
// does not read, such as Err, Latency or AfterEffect, or no Status): the
// test is wrong.
func (s *Server) Inject(f fault.Fault) {
	if f.Status == 0 {
		panic("nginxplustest: fault without Status: want the HTTP status to answer with")
	}
	s.faults.MustAdd("nginxplustest", f, fault.FieldStatus, fault.FieldCode, fault.FieldMessage)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

func (s *Server) find(u, addr string) *Peer {
	up := s.ups[u]
	if up == nil {
		return nil
	}
	for _, p := range up.peers {
		if p.Server == addr {
			return p
		}
	}
	return nil
}

// apiErr writes the documented error body.
func (s *Server) apiErr(w http.ResponseWriter, status int, code, text string) {
	s.seq++
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// An error here is the client's connection failing: it can no longer be told.
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error":      map[string]any{"status": status, "text": text, "code": code},
		"request_id": fmt.Sprintf("%032x", s.seq),
		"href":       "https://nginx.org/en/docs/http/ngx_http_api_module.html",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // as in apiErr: only the connection can fail
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	body := string(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Body: body})

	if s.cfg.Username != "" || s.cfg.Password != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.Username)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="nginx plus api"`)
			s.apiErr(w, http.StatusUnauthorized, "Unauthorized", "authorization required")
			return
		}
	}
	if f, hit := s.faults.MatchPath(r.Method, r.URL.Path); hit {
		s.apiErr(w, f.Status, f.Code, cmp.Or(f.Message, "injected by nginxplustest"))
		return
	}
	s.route(w, r, body)
}

// route dispatches /api/<v>/http/upstreams[/<u>[/servers[/<id>]]].
func (s *Server) route(w http.ResponseWriter, r *http.Request, body string) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		s.apiErr(w, http.StatusNotFound, "PathNotFound", "path not found")
		return
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if rest == "" {
		if r.Method != http.MethodGet {
			s.apiErr(w, http.StatusMethodNotAllowed, "MethodNotSupported", "method not supported")
			return
		}
		writeJSON(w, http.StatusOK, s.cfg.Versions)
		return
	}
	v, err := strconv.Atoi(parts[0])
	if err != nil || !slices.Contains(s.cfg.Versions, v) {
		s.apiErr(w, http.StatusNotFound, "UnknownVersion", "unknown version")
		return
	}
	if len(parts) < 3 || parts[1] != "http" || parts[2] != "upstreams" {
		s.apiErr(w, http.StatusNotFound, "PathNotFound", "path not found")
		return
	}
	write := r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodDelete
	if write && s.cfg.ReadOnly {
		s.apiErr(w, http.StatusMethodNotAllowed, "MethodDisabled", "method disabled")
		return
	}
	switch len(parts) {
	case 3:
		if r.Method != http.MethodGet {
			s.apiErr(w, http.StatusMethodNotAllowed, "MethodNotSupported", "method not supported")
			return
		}
		all := map[string]any{}
		for name, u := range s.ups {
			all[name] = s.upstreamJSON(name, u)
		}
		writeJSON(w, http.StatusOK, all)
		return
	}
	name := parts[3]
	u := s.ups[name]
	if u == nil {
		s.apiErr(w, http.StatusNotFound, "UpstreamNotFound", "upstream not found")
		return
	}
	switch {
	case len(parts) == 4:
		if r.Method != http.MethodGet {
			s.apiErr(w, http.StatusMethodNotAllowed, "MethodNotSupported", "method not supported")
			return
		}
		writeJSON(w, http.StatusOK, s.upstreamJSON(name, u))
	case len(parts) == 5 && parts[4] == "servers":
		s.servers(w, r, u, body)
	case len(parts) == 6 && parts[4] == "servers":
		s.server(w, r, u, parts[5], body)
	default:
		s.apiErr(w, http.StatusNotFound, "PathNotFound", "path not found")
	}
}

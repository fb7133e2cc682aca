package f5test

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/fault"
)

// Defaults of optional [Config] fields.
const (
	DefaultUsername      = "admin"
	DefaultPassword      = "admin"
	DefaultPartition     = "Common"
	DefaultPool          = "pool"
	DefaultTokenLifetime = 1200 * time.Second
	// MaxTokenLifetime is the longest lifetime a token PATCH accepts.
	MaxTokenLifetime = 36000 * time.Second
)

// Config configures a fake [Server]. Every field is optional.
type Config struct {
	// Username and Password are the only credentials login accepts.
	// Defaults: admin / admin.
	Username, Password string
	// Partition and Pool name the one pool the fake serves. Defaults:
	// Common / pool.
	Partition, Pool string
	// TokenLifetime is the lifetime of a new token. Default 1200 s, as on a
	// real device.
	TokenLifetime time.Duration
	// Store holds the members. Default: an empty [MemStore].
	Store Store
	// LegacyStatsKeys makes /stats use the BIG-IP 11.x entry key
	// (".../members/~P~m/stats") instead of the 12.x+ one
	// (".../members/~P~m/~P~m/stats").
	LegacyStatsKeys bool
}

// Request is one request the fake received, for assertions.
type Request struct {
	Method string
	Path   string
	// Body is the request body; a login's password is replaced by
	// "[REDACTED]".
	Body string
	// Status is the answer's status code.
	Status int
}

// Server is a fake iControl REST server: an [http.Handler] serving token
// login and extension and the members of one LTM pool. Serve it with
// httptest.NewTLSServer(srv) (loopback), or call it in process through
// [Server.Client], which also works inside a testing/synctest bubble.
// Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu        sync.Mutex
	tokens    map[string]time.Time // token -> expiry
	logins    int
	issued    []string
	txns      map[int64]*txn
	nextTxn   int64
	committed int
	faults    fault.Set
	requests  []Request
}

// New returns a fake server.
func New(cfg Config) *Server {
	if cfg.Username == "" {
		cfg.Username = DefaultUsername
	}
	if cfg.Password == "" {
		cfg.Password = DefaultPassword
	}
	if cfg.Partition == "" {
		cfg.Partition = DefaultPartition
	}
	if cfg.Pool == "" {
		cfg.Pool = DefaultPool
	}
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	s := &Server{cfg: cfg, tokens: map[string]time.Time{}, txns: map[int64]*txn{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mgmt/shared/authn/login", s.login)
	mux.HandleFunc("PATCH /mgmt/shared/authz/tokens/{token}", s.authed(s.extendToken))
	mux.HandleFunc("POST /mgmt/tm/transaction", s.authed(s.startTxn))
	mux.HandleFunc("GET /mgmt/tm/transaction/{id}", s.authed(s.getTxn))
	mux.HandleFunc("PATCH /mgmt/tm/transaction/{id}", s.authed(s.commitTxn))
	mux.HandleFunc("DELETE /mgmt/tm/transaction/{id}", s.authed(s.deleteTxn))
	mux.HandleFunc("GET /mgmt/tm/ltm/pool/{pool}/members", s.authed(s.listMembers))
	mux.HandleFunc("GET /mgmt/tm/ltm/pool/{pool}/members/{member}", s.authed(s.getMember))
	mux.HandleFunc("PUT /mgmt/tm/ltm/pool/{pool}/members/{member}", s.authed(s.updateMember))
	mux.HandleFunc("PATCH /mgmt/tm/ltm/pool/{pool}/members/{member}", s.authed(s.updateMember))
	mux.HandleFunc("GET /mgmt/tm/ltm/pool/{pool}/members/{member}/stats", s.authed(s.memberStats))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("URI path %s not registered.", r.URL.Path))
	})
	s.mux = mux
	return s
}

// Store returns the member store.
func (s *Server) Store() Store { return s.cfg.Store }

// RevokeTokens invalidates every token issued so far, so the next request
// with one gets 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Logins returns how many successful logins the fake answered.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ServeHTTP implements [http.Handler].
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read body")
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	f, hit := s.faults.MatchPath(r.Method, r.URL.Path)
	if hit && f.Wait(r.Context()) != nil {
		return // the client went away
	}
	var h http.Handler = s.mux
	if r.Header.Get(CoordinationHeader) != "" && !strings.HasPrefix(r.URL.Path, "/mgmt/tm/transaction") {
		h = s.authed(s.queue) // a command queued in a transaction
	}
	switch {
	case !hit || f.Status == 0:
		h.ServeHTTP(rec, r)
	case f.AfterEffect:
		h.ServeHTTP(discard{header: http.Header{}}, r)
		writeError(rec, f.Status, cmp.Or(f.Message, "injected fault after the request was handled"))
	default:
		writeError(rec, f.Status, cmp.Or(f.Message, "injected fault"))
	}
	logged := string(body)
	if r.URL.Path == "/mgmt/shared/authn/login" {
		logged = redactPassword(body)
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Body: logged, Status: rec.status})
	s.mu.Unlock()
}

// authed wraps a handler with token checking.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("X-F5-Auth-Token")
		s.mu.Lock()
		exp, ok := s.tokens[tok]
		if ok && !time.Now().Before(exp) {
			delete(s.tokens, tok)
			ok = false
		}
		s.mu.Unlock()
		if tok == "" || !ok {
			writeError(w, http.StatusUnauthorized, "X-F5-Auth-Token does not exist.")
			return
		}
		h(w, r)
	}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username          string `json:"username"`
		Password          string `json:"password"`
		LoginProviderName string `json:"loginProviderName"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid login request body.")
		return
	}
	if req.Username != s.cfg.Username || req.Password != s.cfg.Password {
		writeError(w, http.StatusUnauthorized, "Authentication failed.")
		return
	}
	if req.LoginProviderName != "tmos" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Login provider %q not found.", req.LoginProviderName))
		return
	}
	b := make([]byte, 13)
	_, _ = rand.Read(b)
	tok := strings.ToUpper(hex.EncodeToString(b))
	now := time.Now()
	s.mu.Lock()
	s.tokens[tok] = now.Add(s.cfg.TokenLifetime)
	s.logins++
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"username":          req.Username,
		"loginProviderName": "tmos",
		"token": map[string]any{
			"token":            tok,
			"name":             tok,
			"userName":         req.Username,
			"timeout":          int(s.cfg.TokenLifetime / time.Second),
			"startTime":        now.UTC().Format(time.RFC3339Nano),
			"expirationMicros": now.Add(s.cfg.TokenLifetime).UnixMicro(),
			"kind":             "shared:authz:tokens:authtokenitemstate",
		},
	})
}

func (s *Server) extendToken(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	var req struct {
		Timeout *int `json:"timeout"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Timeout == nil {
		writeError(w, http.StatusBadRequest, "Invalid token body: want {\"timeout\":N}.")
		return
	}
	if *req.Timeout <= 0 || time.Duration(*req.Timeout)*time.Second > MaxTokenLifetime {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid timeout %d: must be between 1 and 36000.", *req.Timeout))
		return
	}
	s.mu.Lock()
	_, ok := s.tokens[tok]
	if ok {
		s.tokens[tok] = time.Now().Add(time.Duration(*req.Timeout) * time.Second)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Token not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "timeout": *req.Timeout})
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// discard is a ResponseWriter that drops everything.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// writeJSON writes v as a JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes iControl REST's error document.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"code": status, "message": msg, "errorStack": []string{}, "apiError": 3})
}

// redactPassword hides the password of a login body for Requests.
func redactPassword(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return "[unparsable login body]"
	}
	if _, ok := m["password"]; ok {
		m["password"] = "[REDACTED]"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// IssuedTokens returns every token issued so far (valid, revoked or
// expired), so tests can check that none leaks into a log or an error.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

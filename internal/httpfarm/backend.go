package httpfarm

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Request headers and paths the backends understand.
const (
	// HeaderVersion carries the version a backend serves, in every reply.
	HeaderVersion = "X-Version"
	// HeaderBackend carries the name of the backend that answered.
	HeaderBackend = "X-Backend"
	// HeaderLoad marks a request of the load generator (a user request).
	// Only such requests are recorded when they reach an installing
	// backend; health checks and probes are not.
	HeaderLoad = "X-Load"
	// HeaderHold names a hold registered with [Backend.Hold]: the backend
	// keeps the request open until the hold is released.
	HeaderHold = "X-Hold"
	// HealthPath answers 200 when the backend serves and 503 while it
	// installs; point load-balancer health checks at it.
	HealthPath = "/health"
	// DelayParam is the query parameter that sets how long (in
	// milliseconds, at most 10 s) the backend takes to answer.
	DelayParam = "delay_ms"
)

// Backend is one real HTTP server on 127.0.0.1 standing for one front-end:
// it has a name, a version, a Deployment service and an install state.
type Backend struct {
	name string
	addr string
	srv  *http.Server
	farm *Farm

	mu         sync.Mutex
	version    string
	installing bool
	holds      map[string]*hold

	served      atomic.Int64 // user requests answered 200
	installHits atomic.Int64 // user requests that arrived while installing
}

type hold struct {
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func startBackend(t testing.TB, f *Farm, name, version string) *Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("httpfarm: backend %s: listen: %v", name, err)
	}
	b := &Backend{name: name, addr: ln.Addr().String(), farm: f, version: version, holds: map[string]*hold{}}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(func() {
		b.mu.Lock()
		for _, h := range b.holds {
			h.once.Do(func() { close(h.release) })
		}
		b.mu.Unlock()
		_ = b.srv.Close()
	})
	return b
}

// Name returns the backend's name ("fe1").
func (b *Backend) Name() string { return b.name }

// Addr returns the backend's host:port on 127.0.0.1.
func (b *Backend) Addr() string { return b.addr }

// URL returns the backend's base URL, for probing it directly.
func (b *Backend) URL() string { return "http://" + b.addr + "/" }

// Version returns the version the backend serves now.
func (b *Backend) Version() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.version
}

// Installing reports whether the backend is installing a version now.
func (b *Backend) Installing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.installing
}

// InstallHits returns how many user requests reached the backend while it
// was installing.
func (b *Backend) InstallHits() int64 { return b.installHits.Load() }

// Served returns how many user requests the backend answered with 200.
func (b *Backend) Served() int64 { return b.served.Load() }

// Hold registers a hold: the next request carrying the header
// HeaderHold: token is kept open by the backend. arrived is closed once the
// backend holds the request; release lets it finish. release is idempotent.
func (b *Backend) Hold(token string) (arrived <-chan struct{}, release func()) {
	h := &hold{arrived: make(chan struct{}), release: make(chan struct{})}
	b.mu.Lock()
	b.holds[token] = h
	b.mu.Unlock()
	return h.arrived, func() { h.once.Do(func() { close(h.release) }) }
}

// install makes the backend answer 503 for d, then serve version.
func (b *Backend) install(version string, d time.Duration) {
	b.mu.Lock()
	if b.installing || b.version == version {
		b.mu.Unlock()
		return
	}
	b.installing = true
	b.mu.Unlock()
	b.farm.logf("backend %s: installing %s for %v", b.name, version, d)
	time.AfterFunc(d, func() {
		b.mu.Lock()
		b.version = version
		b.installing = false
		b.mu.Unlock()
		b.farm.logf("backend %s: serves %s", b.name, version)
		b.farm.installed(b)
	})
}

// ServeHTTP answers health checks, probes, user requests and holds.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	version, installing := b.version, b.installing
	var h *hold
	if tok := r.Header.Get(HeaderHold); tok != "" {
		h = b.holds[tok]
		delete(b.holds, tok)
	}
	b.mu.Unlock()
	w.Header().Set(HeaderBackend, b.name)
	if installing {
		if r.Header.Get(HeaderLoad) != "" {
			b.installHits.Add(1)
		}
		w.Header().Set("Connection", "close")
		http.Error(w, fmt.Sprintf("%s is installing", b.name), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set(HeaderVersion, version)
	if r.URL.Path == HealthPath {
		_, _ = fmt.Fprintln(w, "ok")
		return
	}
	if h != nil {
		close(h.arrived)
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	if v := r.URL.Query().Get(DelayParam); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 || ms > 10_000 {
			http.Error(w, fmt.Sprintf("%s=%q: want 0-10000", DelayParam, v), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
	// An install that began while the request was in flight breaks it, as
	// an application-pool recycle would.
	b.mu.Lock()
	broken := b.installing || b.version != version
	b.mu.Unlock()
	if broken {
		if r.Header.Get(HeaderLoad) != "" {
			b.installHits.Add(1)
		}
		w.Header().Set("Connection", "close")
		http.Error(w, fmt.Sprintf("%s began installing during the request", b.name), http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get(HeaderLoad) != "" {
		b.served.Add(1)
	}
	_, _ = fmt.Fprintf(w, "%s %s\n", b.name, version)
}

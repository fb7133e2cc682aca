package lifetimetest

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
)

// InProcessBaseURL is the BaseURL to give package lifetime when it talks to
// a Fake through [Fake.Transport].
const InProcessBaseURL = "http://127.0.0.1" + BasePath

// Transport returns an http.RoundTripper that calls the fake in-process,
// without a socket. Use it under testing/synctest with InProcessBaseURL.
func (f *Fake) Transport() http.RoundTripper { return handlerTransport{h: f} }

type handlerTransport struct{ h http.Handler }

// RoundTrip serves req with the handler and returns the recorded answer.
func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	_ = r.Body.Close()
	if err := req.Context().Err(); err != nil {
		// The caller gave up while the handler ran.
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// Server is a Fake served on a loopback socket.
type Server struct {
	*Fake
	// HTTP is the underlying test server.
	HTTP *httptest.Server
	// URL is the API base URL to give package lifetime.
	URL string
}

// NewServer serves a new Fake over plain HTTP on 127.0.0.1.
func NewServer(cfg Config) *Server {
	f := New(cfg)
	hs := httptest.NewServer(f)
	return &Server{Fake: f, HTTP: hs, URL: hs.URL + BasePath}
}

// NewTLSServer serves a new Fake over HTTPS on 127.0.0.1 with a certificate
// from httptest's own authority; see [Server.CACertPEM]. Handshakes refused
// by a client that does not trust it are not logged (tests provoke them).
func NewTLSServer(cfg Config) *Server {
	f := New(cfg)
	hs := httptest.NewUnstartedServer(f)
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	return &Server{Fake: f, HTTP: hs, URL: hs.URL + BasePath}
}

// CACertPEM returns the PEM certificate a client must trust to reach a TLS
// server, or nil for a plain HTTP one.
func (s *Server) CACertPEM() []byte {
	if s.HTTP.TLS == nil || s.HTTP.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.HTTP.Certificate().Raw})
}

// Close stops the server, then the fake's deployments.
func (s *Server) Close() {
	s.HTTP.Close()
	s.Fake.Close()
}

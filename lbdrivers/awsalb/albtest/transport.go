package albtest

import (
	"net/http"
	"net/http/httptest"
)

// Client returns an HTTP client that calls the fake in process, without a
// socket: pass it as elasticloadbalancingv2.Options.HTTPClient inside a
// testing/synctest bubble, where real network I/O is not allowed.
func (s *Server) Client() *http.Client { return &http.Client{Transport: inProcess{s}} }

// inProcess is an [http.RoundTripper] that serves requests with the fake's
// handler directly.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	r := req.Clone(req.Context())
	if req.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = req.URL.RequestURI()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

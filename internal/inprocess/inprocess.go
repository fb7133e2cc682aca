// Package inprocess is an http.RoundTripper that serves requests with an
// http.Handler directly, without a socket: the fakes of remote APIs use it
// so that drivers can call them inside a testing/synctest bubble, where
// real network I/O is not allowed.
package inprocess

import (
	"net/http"
	"net/http/httptest"
)

// Transport serves each request with Handler, as a server would.
type Transport struct {
	Handler http.Handler
}

// RoundTrip serves req with the handler and returns the recorded response.
func (t Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	r := req.Clone(req.Context())
	if req.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = req.URL.RequestURI()
	t.Handler.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

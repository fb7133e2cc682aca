package albtest

import (
	"net/http"

	"github.com/balanced-deploy/balanced/internal/inprocess"
)

// Client returns an HTTP client that calls the fake in process, without a
// socket: pass it as elasticloadbalancingv2.Options.HTTPClient inside a
// testing/synctest bubble, where real network I/O is not allowed.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: inprocess.Transport{Handler: s}}
}

package f5test

import (
	"net/http"

	"github.com/balanced-deploy/balanced/internal/inprocess"
)

// Client returns an HTTP client that calls the fake in process, without a
// socket. Use it inside a testing/synctest bubble, where real network I/O
// is not allowed, and wherever a listener is not needed.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: inprocess.Transport{Handler: s}}
}

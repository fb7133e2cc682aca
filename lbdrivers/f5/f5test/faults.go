package f5test

import (
	"github.com/balanced-deploy/balanced/fault"
)

// Inject adds a fault (package fault documents every field; faults are tried
// in the order added). The fake names a request by its method
// (fault.Fault.Op: "GET", "PUT"...) and matches Target against any part of
// the request path ("/stats", "/authn/login", a member's name). A hit
// request is answered after Latency, when Status is set, with the iControl
// REST error document carrying Message ("injected fault" by default):
// throttling (429), a busy device (503), a server error (500), a refused
// permission (403) and so on. With AfterEffect the request is handled first
// (the change happens) and then answered with Status. Inject panics on a
// fault the fake cannot honour (a field it does not read, such as Err or
// Code): the test is wrong.
func (s *Server) Inject(f fault.Fault) {
	s.faults.MustAdd("f5test", f, fault.FieldLatency, fault.FieldStatus, fault.FieldMessage, fault.FieldAfterEffect)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

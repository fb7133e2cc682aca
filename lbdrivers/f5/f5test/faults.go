package f5test

import (
	"net/http"
	"strings"
)

// Fault makes the fake answer matching requests with an error status:
// throttling (429), a busy device (503), a server error (500), a refused
// permission (403) and so on.
type Fault struct {
	// Method matches the request method; empty matches any.
	Method string
	// Path matches when the request path contains it; empty matches any.
	Path string
	// Status is the status code to answer with.
	Status int
	// Times is how many matching requests fail; 0 means once, a negative
	// value means every one until [Server.ClearFaults].
	Times int
	// Message is the error document's message; empty means "injected
	// fault". Tests use it to check that the driver scrubs secrets a
	// device might echo.
	Message string
	// After handles the request normally (the change happens) and then
	// answers with Status: an ambiguous failure, as a proxy timing out
	// after the device applied the change.
	After bool
}

// Inject adds a fault. Faults are tried in the order they were added.
func (s *Server) Inject(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// fault returns the first fault matching r and uses it up, or nil.
func (s *Server) fault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method != "" && f.Method != r.Method) || !strings.Contains(r.URL.Path, f.Path) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		c := *f
		return &c
	}
	return nil
}

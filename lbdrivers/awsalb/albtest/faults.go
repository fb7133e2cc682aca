package albtest

// Fault makes the fake answer matching calls with an API error, for
// example {Code: "Throttling", Status: 400} or {Code:
// "ServiceUnavailable", Status: 503}. The call is not handled: nothing
// changes.
type Fault struct {
	// Action matches the call's Action; empty matches any.
	Action string
	// Code is the error code, Status the HTTP status (0 means 400).
	Code   string
	Status int
	// Times is how many matching calls fail; 0 means once, negative means
	// every one until [Server.ClearFaults].
	Times int
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

// fault returns the first fault matching action and uses it up, or nil.
func (s *Server) fault(action string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Action != "" && f.Action != action {
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

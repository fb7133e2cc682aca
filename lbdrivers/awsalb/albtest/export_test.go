package albtest

// SetMangle makes every answer body pass through f (nil: none). Test-only:
// it breaks the wire format on purpose.
func SetMangle(s *Server, f func([]byte) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mangle = f
}

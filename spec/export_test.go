package spec

// DriverConfigs returns the driver configurations Build makes from s, for
// tests that print them.
func DriverConfigs(s *Spec) []any {
	var out []any
	if c, err := winrmConfig(s.Services, nil); err == nil {
		out = append(out, c)
	}
	if c, err := lifetimeConfig(s.Platform, s.Release, nil); err == nil {
		out = append(out, c)
	}
	zones := s.layout()
	for _, z := range zones {
		switch {
		case z.lb == nil:
		case z.lb.F5 != nil:
			if c, err := f5Config(z.lb.F5, nil); err == nil {
				out = append(out, c)
			}
		case z.lb.NGINXPlus != nil:
			if c, err := plusConfig(z.lb.NGINXPlus, s.serversFrontedBy(zones, z.lb), nil); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

package farm

import (
	"sync"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm/journal"
)

// Captured is the state of the farm read before anything changed (by the
// balanced plan's preflight step), so that later steps restore exactly what
// was there. It is safe for concurrent use.
type Captured struct {
	mu       sync.Mutex
	services map[string]map[drivers.Service]drivers.ServiceState
	members  map[string]drivers.MemberStatus
	values   map[string]string
	onValue  func(key, value string, deleted bool)
}

// newCaptured returns an empty Captured.
func newCaptured() *Captured {
	return &Captured{
		services: map[string]map[drivers.Service]drivers.ServiceState{},
		members:  map[string]drivers.MemberStatus{},
		values:   map[string]string{},
	}
}

// SetService records the state of svc on server.
func (c *Captured) SetService(server string, svc drivers.Service, st drivers.ServiceState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.services[server] == nil {
		c.services[server] = map[drivers.Service]drivers.ServiceState{}
	}
	c.services[server][svc] = st
}

// Service returns the recorded state of svc on server.
func (c *Captured) Service(server string, svc drivers.Service) (drivers.ServiceState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.services[server][svc]
	return st, ok
}

// SetMember records the load-balancer status of a member in zone.
func (c *Captured) SetMember(zone string, st drivers.MemberStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members[zone+"/"+st.Member] = st
}

// Member returns the recorded load-balancer status of a member in zone.
func (c *Captured) Member(zone, member string) (drivers.MemberStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.members[zone+"/"+member]
	return st, ok
}

// SetValue records a named value (for example the platform deployment's ID
// or the release deployed before the run).
func (c *Captured) SetValue(key, value string) {
	c.mu.Lock()
	c.values[key] = value
	notify := c.onValue
	c.mu.Unlock()
	if notify != nil {
		notify(key, value, false)
	}
}

// DeleteValue removes a value recorded with SetValue.
func (c *Captured) DeleteValue(key string) {
	c.mu.Lock()
	delete(c.values, key)
	notify := c.onValue
	c.mu.Unlock()
	if notify != nil {
		notify(key, "", true)
	}
}

// Value returns a value recorded with SetValue.
func (c *Captured) Value(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.values[key]
	return v, ok
}

// snapshot returns a copy of everything recorded.
func (c *Captured) snapshot() journal.CapturedState {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := journal.CapturedState{
		Services: map[string]map[drivers.Service]drivers.ServiceState{},
		Members:  map[string]drivers.MemberStatus{},
		Values:   map[string]string{},
	}
	for srv, m := range c.services {
		s.Services[srv] = map[drivers.Service]drivers.ServiceState{}
		for k, v := range m {
			s.Services[srv][k] = v
		}
	}
	for k, v := range c.members {
		s.Members[k] = v
	}
	for k, v := range c.values {
		s.Values[k] = v
	}
	return s
}

// restore replaces everything recorded with s.
func (c *Captured) restore(s journal.CapturedState) {
	fresh := newCaptured()
	for srv, m := range s.Services {
		for k, v := range m {
			fresh.services[srv] = mapWith(fresh.services[srv], k, v)
		}
	}
	for k, v := range s.Members {
		fresh.members[k] = v
	}
	for k, v := range s.Values {
		fresh.values[k] = v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.services, c.members, c.values = fresh.services, fresh.members, fresh.values
}

func mapWith(m map[drivers.Service]drivers.ServiceState, k drivers.Service, v drivers.ServiceState) map[drivers.Service]drivers.ServiceState {
	if m == nil {
		m = map[drivers.Service]drivers.ServiceState{}
	}
	m[k] = v
	return m
}

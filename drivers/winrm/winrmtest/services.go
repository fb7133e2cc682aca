package winrmtest

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/balanced-deploy/balanced/drivers"
)

// Service is one fake Windows service as Win32_Service shows it.
type Service struct {
	// Name is the service (key) name, for example "OutSystems Scheduler".
	Name string
	// DisplayName is the name shown in services.msc, for example
	// "OutSystems Scheduler Service".
	DisplayName string
	// Run is the run state.
	Run drivers.RunState
	// Startup is the start mode.
	Startup drivers.StartupType
}

// ErrAccessDenied is the error that, returned by a Services method, makes the fake answer the
// way PowerShell does for an account without rights: an "Access is denied"
// error on stderr and exit code 1.
var ErrAccessDenied = errors.New("Access is denied") //nolint:staticcheck // PowerShell's own message

// Services is the table of Windows services behind a fake server. Each
// server passes its own host name, so one table can serve a whole farm, for
// example a simulated one. Implementations must be safe for concurrent use.
type Services interface {
	// Find returns the services on host whose Name or DisplayName equals
	// name, ignoring case (as the WQL filter the driver sends does).
	Find(host, name string) ([]Service, error)
	// Stop sets the startup type of the service with key name key to
	// Disabled, then stops it.
	Stop(host, key string) error
	// Restore sets the startup type of the service with key name key to
	// want.Startup, then starts it (want.Run Running) or stops it.
	Restore(host, key string, want drivers.ServiceState) error
}

// MapServices is an in-memory Services. The zero value is empty and ready to
// use.
type MapServices struct {
	mu    sync.Mutex
	hosts map[string][]*Service
	errs  map[string]error // host + "\x00" + lower-case key name
}

var _ Services = (*MapServices)(nil)

// Add puts svc on host, replacing a service with the same Name.
func (m *MapServices) Add(host string, svc Service) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hosts == nil {
		m.hosts = make(map[string][]*Service)
	}
	for i, s := range m.hosts[host] {
		if strings.EqualFold(s.Name, svc.Name) {
			m.hosts[host][i] = &svc
			return
		}
	}
	m.hosts[host] = append(m.hosts[host], &svc)
}

// Get returns the service with key name key on host.
func (m *MapServices) Get(host, key string) (Service, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.find(host, key); s != nil {
		return *s, true
	}
	return Service{}, false
}

// SetError makes every later call about the service with key name key on
// host fail with err (use ErrAccessDenied for a rights problem); nil clears it.
func (m *MapServices) SetError(host, key string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.errs == nil {
		m.errs = make(map[string]error)
	}
	m.errs[host+"\x00"+strings.ToLower(key)] = err
}

func (m *MapServices) find(host, key string) *Service {
	for _, s := range m.hosts[host] {
		if strings.EqualFold(s.Name, key) {
			return s
		}
	}
	return nil
}

func (m *MapServices) injected(host, key string) error {
	return m.errs[host+"\x00"+strings.ToLower(key)]
}

// Find implements Services.
func (m *MapServices) Find(host, name string) ([]Service, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Service
	for _, s := range m.hosts[host] {
		if strings.EqualFold(s.Name, name) || strings.EqualFold(s.DisplayName, name) {
			if err := m.injected(host, s.Name); err != nil {
				return nil, err
			}
			out = append(out, *s)
		}
	}
	return out, nil
}

// Stop implements Services.
func (m *MapServices) Stop(host, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.find(host, key)
	if s == nil {
		return fmt.Errorf("Cannot find any service with service name '%s'.", key) //nolint:staticcheck // PowerShell's own message
	}
	if err := m.injected(host, key); err != nil {
		return err
	}
	s.Startup, s.Run = drivers.Disabled, drivers.Stopped
	return nil
}

// Restore implements Services.
func (m *MapServices) Restore(host, key string, want drivers.ServiceState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.find(host, key)
	if s == nil {
		return fmt.Errorf("Cannot find any service with service name '%s'.", key) //nolint:staticcheck // PowerShell's own message
	}
	if err := m.injected(host, key); err != nil {
		return err
	}
	if want.Run == drivers.Running && want.Startup == drivers.Disabled {
		return fmt.Errorf("Service '%s (%s)' cannot be started due to the following error: Cannot start service %s on computer '.'.", s.DisplayName, s.Name, s.Name) //nolint:staticcheck // PowerShell's own message
	}
	s.Startup, s.Run = want.Startup, want.Run
	return nil
}

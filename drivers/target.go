package drivers

// Target identifies one front-end server to a service controller, a platform
// client or a prober.
type Target struct {
	// Name is the server's farm-unique name, used in messages.
	Name string
	// Address is the host name or IP address drivers connect to (WinRM,
	// platform agents). Empty means Name.
	Address string
	// URL is the base URL of the application served directly by this server,
	// bypassing the load balancer (for example "https://fe01.internal/"). It
	// is what a [Prober] calls.
	URL string
}

// Host returns Address, or Name when Address is empty.
func (t Target) Host() string {
	if t.Address != "" {
		return t.Address
	}
	return t.Name
}

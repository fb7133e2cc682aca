package f5

import (
	"encoding/json"
	"fmt"

	"github.com/balanced-deploy/balanced/drivers"
)

// The member bodies this driver sends with PUT: the three administrative
// states of a BIG-IP pool member (F5 K13310).
var (
	// enabledBody: Enabled (All traffic allowed).
	enabledBody = memberUpdate{State: "unchecked", Session: "user-enabled"}
	// disabledBody: Disabled (Only persistent or active connections
	// allowed), the drain.
	disabledBody = memberUpdate{State: "unchecked", Session: "user-disabled"}
	// offlineBody: Forced Offline (Only active connections allowed; no new
	// ones, persistent or not).
	offlineBody = memberUpdate{State: "user-down", Session: "user-disabled"}
)

// memberUpdate is the body of a member PUT.
type memberUpdate struct {
	State   string `json:"state"`
	Session string `json:"session"`
}

// updateFor returns the PUT body for an administrative state.
func updateFor(s drivers.MemberState) memberUpdate {
	switch s {
	case drivers.Serving:
		return enabledBody
	case drivers.Draining:
		return disabledBody
	default:
		return offlineBody
	}
}

// memberBody is the part of a member resource
// (tm:ltm:pool:members:membersstate) the driver reads.
type memberBody struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// Session is monitor-enabled, user-enabled or user-disabled.
	Session string `json:"session"`
	// State is up, down, unchecked, checking, user-up or user-down.
	State string `json:"state"`
}

// collectionBody is a member collection (membersCollectionState).
type collectionBody struct {
	Items []memberBody `json:"items"`
}

// adminState derives the administrative state from session and state.
func (m memberBody) adminState() (drivers.MemberState, error) {
	switch {
	case m.State == "user-down":
		return drivers.Out, nil
	case m.Session == "user-disabled":
		return drivers.Draining, nil
	case m.Session == "user-enabled" || m.Session == "monitor-enabled":
		return drivers.Serving, nil
	}
	return "", fmt.Errorf("f5: member %q: unknown session %q with state %q", m.Name, m.Session, m.State)
}

// monitorHealth derives health from the member's monitor state; ok is false
// when the state says nothing about health (unchecked, checking,
// user-down), and the stats' availability decides.
func (m memberBody) monitorHealth() (h drivers.Health, ok bool) {
	switch m.State {
	case "up", "user-up":
		return drivers.Healthy, true
	case "down":
		return drivers.Unhealthy, true
	}
	return drivers.HealthUnknown, false
}

// memberStats is what the driver reads from a member's /stats resource.
type memberStats struct {
	CurConns     int
	Availability string // available, offline, unknown
	Enabled      string // enabled, disabled
}

// statsBody mirrors a /stats response. Its entries map has one key, a
// self-link URL whose form differs between BIG-IP versions, so the parser
// iterates instead of computing the key.
type statsBody struct {
	Entries map[string]struct {
		NestedStats struct {
			Entries map[string]statValue `json:"entries"`
		} `json:"nestedStats"`
	} `json:"entries"`
}

// statValue is one statistic: numbers carry value, strings description.
type statValue struct {
	Value       *json.Number `json:"value"`
	Description string       `json:"description"`
}

// parseStats decodes a member /stats body.
func parseStats(data []byte) (memberStats, error) {
	var b statsBody
	if err := json.Unmarshal(data, &b); err != nil {
		return memberStats{}, fmt.Errorf("f5: decoding member stats: %w", err)
	}
	for _, e := range b.Entries {
		n := e.NestedStats.Entries
		cc, ok := n["serverside.curConns"]
		if !ok || cc.Value == nil {
			continue
		}
		conns, err := cc.Value.Int64()
		if err != nil || conns < 0 || conns > 1<<31-1 {
			return memberStats{}, fmt.Errorf("f5: member stats: serverside.curConns %q: want a non-negative integer", cc.Value.String())
		}
		return memberStats{
			CurConns:     int(conns),
			Availability: n["status.availabilityState"].Description,
			Enabled:      n["status.enabledState"].Description,
		}, nil
	}
	return memberStats{}, fmt.Errorf("f5: member stats: no entry with serverside.curConns")
}

// parseMember decodes a member resource body.
func parseMember(data []byte) (memberBody, error) {
	var m memberBody
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("f5: decoding pool member: %w", err)
	}
	if _, err := m.adminState(); err != nil {
		return m, err
	}
	return m, nil
}

// status combines a member resource and its stats into a MemberStatus.
func status(member string, m memberBody, st memberStats) drivers.MemberStatus {
	state, _ := m.adminState()
	h, ok := m.monitorHealth()
	if !ok {
		switch st.Availability {
		case "available":
			h = drivers.Healthy
		case "offline":
			h = drivers.Unhealthy
		}
	}
	return drivers.MemberStatus{
		Member:            member,
		State:             state,
		Health:            h,
		ActiveConnections: st.CurConns,
		ConnectionsKnown:  true,
	}
}

// errorBody is iControl REST's error document.
type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// loginBody is the request body of POST /mgmt/shared/authn/login.
type loginBody struct {
	Username          string `json:"username"`
	Password          string `json:"password"`
	LoginProviderName string `json:"loginProviderName"`
}

// loginReply is the part of the login answer the driver reads.
type loginReply struct {
	Token struct {
		Token   string `json:"token"`
		Timeout int    `json:"timeout"`
	} `json:"token"`
}

// parseCollection decodes a member collection body.
func parseCollection(data []byte) (collectionBody, error) {
	var c collectionBody
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("f5: decoding pool member list: %w", err)
	}
	for _, m := range c.Items {
		if _, err := m.adminState(); err != nil {
			return c, err
		}
	}
	return c, nil
}

package f5test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// memberJSON renders a member as iControl REST does
// (tm:ltm:pool:members:membersstate).
func (s *Server) memberJSON(m Member) map[string]any {
	session, state := "monitor-enabled", "down"
	if m.Disabled {
		session = "user-disabled"
	}
	switch {
	case m.ForcedOffline:
		state = "user-down"
	case m.Healthy:
		state = "up"
	}
	addr, _, _ := strings.Cut(m.Name, ":")
	if i := strings.LastIndexByte(m.Name, '.'); strings.Count(m.Name, ":") > 1 && i > 0 {
		addr = m.Name[:i]
	}
	p := s.cfg.Partition
	return map[string]any{
		"kind":      "tm:ltm:pool:members:membersstate",
		"name":      m.Name,
		"partition": p,
		"fullPath":  "/" + p + "/" + m.Name,
		"selfLink":  "https://localhost" + s.memberPath(m.Name) + "?ver=16.1.0",
		"address":   addr,
		"monitor":   "default",
		"ratio":     1,
		"session":   session,
		"state":     state,
	}
}

func (s *Server) poolPath() string {
	return "/mgmt/tm/ltm/pool/~" + s.cfg.Partition + "~" + s.cfg.Pool + "/members"
}

func (s *Server) memberPath(name string) string {
	return s.poolPath() + "/~" + s.cfg.Partition + "~" + name
}

// pool checks the {pool} path value.
func (s *Server) pool(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("pool") != "~"+s.cfg.Partition+"~"+s.cfg.Pool {
		writeError(w, http.StatusNotFound, fmt.Sprintf("01020036:3: The requested Pool (%s) was not found.", r.PathValue("pool")))
		return false
	}
	return true
}

// member resolves the {member} path value to a stored member.
func (s *Server) member(w http.ResponseWriter, r *http.Request) (Member, bool) {
	if !s.pool(w, r) {
		return Member{}, false
	}
	ref := r.PathValue("member")
	name, ok := strings.CutPrefix(ref, "~"+s.cfg.Partition+"~")
	if !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid member reference %q: want ~%s~node:port.", ref, s.cfg.Partition))
		return Member{}, false
	}
	m, ok, err := s.cfg.Store.Get(r.Context(), name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "store: "+err.Error())
		return Member{}, false
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("01020036:3: The requested Pool Member (/%s/%s /%s/%s) was not found.", s.cfg.Partition, s.cfg.Pool, s.cfg.Partition, name))
		return Member{}, false
	}
	return m, true
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	if !s.pool(w, r) {
		return
	}
	ms, err := s.cfg.Store.List(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "store: "+err.Error())
		return
	}
	items := make([]map[string]any, len(ms))
	for i, m := range ms {
		items[i] = s.memberJSON(m)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind":     "tm:ltm:pool:members:memberscollectionstate",
		"selfLink": "https://localhost" + s.poolPath() + "?ver=16.1.0",
		"items":    items,
	})
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) {
	if m, ok := s.member(w, r); ok {
		writeJSON(w, http.StatusOK, s.memberJSON(m))
	}
}

// updateMember handles PUT and PATCH with "state" and/or "session".
func (s *Server) updateMember(w http.ResponseWriter, r *http.Request) {
	m, ok := s.member(w, r)
	if !ok {
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Found invalid JSON body in the request.")
		return
	}
	m, err := applyBody(m, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.cfg.Store.Set(r.Context(), m.Name, m.Disabled, m.ForcedOffline); err != nil {
		writeError(w, http.StatusInternalServerError, "store: "+err.Error())
		return
	}
	m, ok, err = s.cfg.Store.Get(r.Context(), m.Name)
	if err != nil || !ok {
		writeError(w, http.StatusInternalServerError, "store: member vanished")
		return
	}
	writeJSON(w, http.StatusOK, s.memberJSON(m))
}

func (s *Server) memberStats(w http.ResponseWriter, r *http.Request) {
	m, ok := s.member(w, r)
	if !ok {
		return
	}
	avail, enabled, monitor := "offline", "enabled", "down"
	if m.Healthy {
		avail, monitor = "available", "up"
	}
	if m.Disabled {
		enabled = "disabled"
	}
	self := "https://localhost" + s.memberPath(m.Name)
	key := self + "/~" + s.cfg.Partition + "~" + m.Name + "/stats"
	if s.cfg.LegacyStatsKeys {
		key = self + "/stats"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind":     "tm:ltm:pool:members:membersstats",
		"selfLink": self + "/stats?ver=16.1.0",
		"entries": map[string]any{
			key: map[string]any{"nestedStats": map[string]any{"entries": map[string]any{
				"addr":                     map[string]any{"description": m.Name},
				"serverside.curConns":      map[string]any{"value": m.CurConns},
				"serverside.totConns":      map[string]any{"value": 0},
				"status.availabilityState": map[string]any{"description": avail},
				"status.enabledState":      map[string]any{"description": enabled},
				"status.statusReason":      map[string]any{"description": "Pool member is available"},
				"monitorStatus":            map[string]any{"description": monitor},
				"nodeName":                 map[string]any{"description": "/" + s.cfg.Partition + "/" + m.Name},
				"poolName":                 map[string]any{"description": "/" + s.cfg.Partition + "/" + s.cfg.Pool},
			}}},
		},
	})
}

// applyBody applies a member PUT/PATCH body ("state" and/or "session") to m.
func applyBody(m Member, body map[string]any) (Member, error) {
	for k, v := range body {
		sv, isStr := v.(string)
		switch {
		case k == "session" && isStr && sv == "user-disabled":
			m.Disabled = true
		case k == "session" && isStr && (sv == "user-enabled" || sv == "monitor-enabled"):
			m.Disabled = false
		case k == "state" && isStr && sv == "user-down":
			m.ForcedOffline = true
		case k == "state" && isStr && (sv == "user-up" || sv == "unchecked"):
			m.ForcedOffline = false
		case k == "name" || k == "partition" || k == "kind":
		default:
			return m, fmt.Errorf("Invalid value for %q: %v.", k, v)
		}
	}
	return m, nil
}

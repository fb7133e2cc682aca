package nginxplustest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
)

// upstreamJSON is the GET /http/upstreams/<u> answer.
func (s *Server) upstreamJSON(name string, u *upstream) map[string]any {
	peers := make([]map[string]any, 0, len(u.peers))
	for _, p := range u.peers {
		peers = append(peers, map[string]any{
			"id": p.ID, "server": p.Server, "name": p.Server, "backup": false, "weight": p.Weight,
			"state": p.State(), "active": p.Active, "requests": 0,
			"responses": map[string]int{"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "total": 0},
			"sent":      0, "received": 0, "fails": 0, "unavail": 0,
			"health_checks": map[string]any{"checks": 0, "fails": 0, "unhealthy": 0},
			"downtime":      0,
		})
	}
	return map[string]any{"peers": peers, "keepalive": 0, "zombies": 0, "zone": name}
}

// confJSON is one entry of GET /http/upstreams/<u>/servers.
func confJSON(p *Peer) map[string]any {
	m := map[string]any{
		"id": p.ID, "server": p.Server, "weight": p.Weight, "max_conns": 0, "max_fails": 1,
		"fail_timeout": "10s", "slow_start": "0s", "route": "", "backup": false, "down": p.Down,
	}
	if p.Drain {
		m["drain"] = true
	}
	return m
}

// serverPatch is the body of POST and PATCH: every field optional, unknown
// fields refused.
type serverPatch struct {
	ID          *int    `json:"id"`
	Server      *string `json:"server"`
	Weight      *int    `json:"weight"`
	MaxConns    *int    `json:"max_conns"`
	MaxFails    *int    `json:"max_fails"`
	FailTimeout *string `json:"fail_timeout"`
	SlowStart   *string `json:"slow_start"`
	Route       *string `json:"route"`
	Backup      *bool   `json:"backup"`
	Down        *bool   `json:"down"`
	Drain       *bool   `json:"drain"`
}

func decodePatch(body string) (serverPatch, string, bool) {
	var p serverPatch
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, "error while parsing JSON: " + err.Error(), false
	}
	if p.Weight != nil && (*p.Weight < 1 || *p.Weight > 1000000) {
		return p, "invalid \"weight\" value", false
	}
	return p, "", true
}

// servers handles /http/upstreams/<u>/servers.
func (s *Server) servers(w http.ResponseWriter, r *http.Request, u *upstream, body string) {
	switch r.Method {
	case http.MethodGet:
		out := make([]map[string]any, 0, len(u.peers))
		for _, p := range u.peers {
			out = append(out, confJSON(p))
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		patch, why, ok := decodePatch(body)
		if !ok {
			s.apiErr(w, http.StatusBadRequest, "UpstreamConfFormatError", why)
			return
		}
		if patch.ID != nil {
			s.apiErr(w, http.StatusBadRequest, "UpstreamConfFormatError", "unknown parameter \"id\"")
			return
		}
		if patch.Server == nil || *patch.Server == "" {
			s.apiErr(w, http.StatusBadRequest, "UpstreamConfFormatError", "missing \"server\" argument")
			return
		}
		if patch.Drain != nil {
			s.apiErr(w, http.StatusBadRequest, "UpstreamConfFormatError", "the \"drain\" parameter cannot be initially set")
			return
		}
		p := &Peer{ID: u.nextID, Server: *patch.Server, Weight: 1, Health: "up"}
		u.nextID++
		apply(p, patch)
		u.peers = append(u.peers, p)
		writeJSON(w, http.StatusCreated, confJSON(p))
	default:
		s.apiErr(w, http.StatusMethodNotAllowed, "MethodNotSupported", "method not supported")
	}
}

// server handles /http/upstreams/<u>/servers/<id>.
func (s *Server) server(w http.ResponseWriter, r *http.Request, u *upstream, rawID, body string) {
	id, err := strconv.Atoi(rawID)
	if err != nil || id < 0 {
		s.apiErr(w, http.StatusBadRequest, "UpstreamBadServerId", "invalid server id")
		return
	}
	i := slices.IndexFunc(u.peers, func(p *Peer) bool { return p.ID == id })
	if i < 0 {
		s.apiErr(w, http.StatusNotFound, "UpstreamServerNotFound", "server not found")
		return
	}
	p := u.peers[i]
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, confJSON(p))
	case http.MethodPatch:
		patch, why, ok := decodePatch(body)
		if !ok {
			s.apiErr(w, http.StatusBadRequest, "UpstreamConfFormatError", why)
			return
		}
		if patch.ID != nil {
			s.apiErr(w, http.StatusBadRequest, "UpstreamConfFormatError", "the \"id\" parameter cannot be changed")
			return
		}
		if patch.Backup != nil {
			s.apiErr(w, http.StatusBadRequest, "UpstreamConfFormatError", "the \"backup\" parameter cannot be changed")
			return
		}
		apply(p, patch)
		writeJSON(w, http.StatusOK, confJSON(p))
	case http.MethodDelete:
		u.peers = slices.Delete(u.peers, i, i+1)
		out := make([]map[string]any, 0, len(u.peers))
		for _, p := range u.peers {
			out = append(out, confJSON(p))
		}
		writeJSON(w, http.StatusOK, out)
	default:
		s.apiErr(w, http.StatusMethodNotAllowed, "MethodNotSupported", "method not supported")
	}
}

// apply changes p as a PATCH does. drain and down are independent
// fields: each PATCH sets only the fields it names, so {"down":false} on a
// draining server leaves it draining, and {"drain":true} on a down server
// leaves it down (nginx.org ngx_http_api_module, nginx_api.yaml
// NginxHTTPUpstreamConfServer lists "down" and "drain" as separate
// writable booleans; nginx-plus-go-client's TestUpstreamServerWithDrain
// reads a server configured with "drain" back as down:false, drain:true).
func apply(p *Peer, patch serverPatch) {
	if patch.Server != nil {
		p.Server = *patch.Server
	}
	if patch.Weight != nil {
		p.Weight = *patch.Weight
	}
	if patch.Drain != nil {
		p.Drain = *patch.Drain
	}
	if patch.Down != nil {
		p.Down = *patch.Down
	}
}

package haproxy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// maxName is HAProxy's practical limit on proxy and server names.
const maxName = 128

// validateName checks a backend or server name against the characters
// HAProxy allows in names (letters, digits, '-', '_', '.', ':'). Anything
// else could end a command (';', newline), escape (backslash), split the
// "backend/server" argument ('/') or the command's words (whitespace).
func validateName(kind, name string) error {
	if name == "" || len(name) > maxName {
		return fmt.Errorf("%w: %s name %q: want 1-%d characters", drivers.ErrInvalidArgument, kind, name, maxName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return fmt.Errorf("%w: %s name %q: character %q at %d: want letters, digits, '-', '_', '.' or ':'",
				drivers.ErrInvalidArgument, kind, name, c, i)
		}
	}
	return nil
}

// Admin state bits of srv_admin_state (HAProxy include/haproxy/server-t.h,
// SRV_ADMF_*). CMAINT (0x04, "disabled" in the configuration) and HMAINT
// (0x40, FQDN set over the socket) are markers that come with other bits: a
// configured-disabled server reads 0x05 and, once set ready, 0x04 while it
// serves. The masks are HAProxy's own SRV_ADMF_MAINT and SRV_ADMF_DRAIN.
const (
	admForcedMaint    = 0x01
	admInheritedMaint = 0x02
	admForcedDrain    = 0x08
	admInheritedDrain = 0x10
	admResolveMaint   = 0x20

	admMaintMask = admForcedMaint | admInheritedMaint | admResolveMaint // 0x23
	admDrainMask = admForcedDrain | admInheritedDrain                   // 0x18
)

// Operational states of srv_op_state (SRV_ST_*).
const opRunning = 2

// checkConfigured is the CHK_ST_CONFIGURED bit of srv_check_state.
const checkConfigured = 0x02

// serverState is one line of "show servers state".
type serverState struct {
	Backend    string
	Server     string
	OpState    int
	AdminState int
	CheckState int
}

// memberState maps the admin bits to a drivers.MemberState.
func (s serverState) memberState() drivers.MemberState {
	switch {
	case s.AdminState&admMaintMask != 0:
		return drivers.Out
	case s.AdminState&admDrainMask != 0:
		return drivers.Draining
	}
	return drivers.Serving
}

// health maps the operational state to a drivers.Health.
func (s serverState) health() drivers.Health {
	switch {
	case s.CheckState&checkConfigured == 0, s.AdminState&admMaintMask != 0:
		return drivers.HealthUnknown
	case s.OpState == opRunning:
		return drivers.Healthy
	}
	return drivers.Unhealthy
}

var errFormat = errors.New("unexpected format")

// parseServersState parses the reply of "show servers state [<backend>]":
// a version line "1", a "# " header of space-separated field names, then one
// line per server. Fields are found by header name.
func parseServersState(reply string) ([]serverState, error) {
	lines := strings.Split(strings.TrimRight(reply, "\n"), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "1" {
		return nil, fmt.Errorf("show servers state: %w: want version line \"1\", got %q", errFormat, truncate(lines[0], 80))
	}
	if !strings.HasPrefix(lines[1], "# ") {
		return nil, fmt.Errorf("show servers state: %w: want a \"# \" header line, got %q", errFormat, truncate(lines[1], 80))
	}
	header := strings.Fields(lines[1][2:])
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	need := []string{"be_name", "srv_name", "srv_op_state", "srv_admin_state"}
	for _, h := range need {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("show servers state: %w: header lacks %q", errFormat, h)
		}
	}
	out := make([]serverState, 0, len(lines)-2)
	for n, line := range lines[2:] {
		f := strings.Fields(line)
		if len(f) < len(need) {
			return nil, fmt.Errorf("show servers state: %w: line %d has %d fields: %q", errFormat, n+3, len(f), truncate(line, 80))
		}
		get := func(name string) (string, bool) {
			i, ok := col[name]
			if !ok || i >= len(f) {
				return "", false
			}
			return f[i], true
		}
		num := func(name string, required bool) (int, error) {
			v, ok := get(name)
			if !ok {
				if required {
					return 0, fmt.Errorf("show servers state: %w: line %d lacks %s", errFormat, n+3, name)
				}
				return 0, nil
			}
			x, err := strconv.Atoi(v)
			if err != nil {
				return 0, fmt.Errorf("show servers state: %w: line %d: %s=%q: want a number", errFormat, n+3, name, v)
			}
			return x, nil
		}
		var s serverState
		var ok bool
		if s.Backend, ok = get("be_name"); !ok {
			return nil, fmt.Errorf("show servers state: %w: line %d lacks be_name", errFormat, n+3)
		}
		if s.Server, ok = get("srv_name"); !ok {
			return nil, fmt.Errorf("show servers state: %w: line %d lacks srv_name", errFormat, n+3)
		}
		var err error
		if s.OpState, err = num("srv_op_state", true); err != nil {
			return nil, err
		}
		if s.AdminState, err = num("srv_admin_state", true); err != nil {
			return nil, err
		}
		if s.CheckState, err = num("srv_check_state", false); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// statRow is the part of one "show stat" line the driver uses.
type statRow struct {
	Proxy   string
	Server  string
	Current int    // scur
	Status  string // UP, DOWN, DRAIN, MAINT, "no check", ...
}

// parseStat parses the CSV reply of "show stat": a header line starting with
// "# " that names the columns, then one record per proxy or server. Columns
// are found by name (pxname, svname, scur, status), never by position.
func parseStat(reply string) ([]statRow, error) {
	reply = strings.TrimLeft(reply, "\n")
	if !strings.HasPrefix(reply, "# ") {
		return nil, fmt.Errorf("show stat: %w: want a \"# \" CSV header, got %q", errFormat, truncate(firstLine(reply), 80))
	}
	r := csv.NewReader(strings.NewReader(reply[2:]))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("show stat: %w: header: %w", errFormat, err)
	}
	col := map[string]int{}
	for i, h := range header {
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	for _, h := range []string{"pxname", "svname", "scur", "status"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("show stat: %w: header lacks %q", errFormat, h)
		}
	}
	var out []statRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("show stat: %w: %w", errFormat, err)
		}
		field := func(name string) string {
			if i := col[name]; i < len(rec) {
				return rec[i]
			}
			return ""
		}
		row := statRow{Proxy: field("pxname"), Server: field("svname"), Status: field("status")}
		if v := field("scur"); v != "" {
			if row.Current, err = strconv.Atoi(v); err != nil || row.Current < 0 {
				return nil, fmt.Errorf("show stat: %w: %s/%s: scur=%q: want a count", errFormat, row.Proxy, row.Server, v)
			}
		}
		out = append(out, row)
	}
}

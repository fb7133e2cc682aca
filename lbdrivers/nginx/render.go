package nginx

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// fileHeader is the first line of every managed file. ParseFile refuses a
// file without it, so the driver never takes over a file it did not write.
const fileHeader = "# Managed by github.com/balanced-deploy/balanced/lbdrivers/nginx: do not edit, every change is overwritten."

// UpstreamFile is the content of the managed include file: one upstream block.
type UpstreamFile struct {
	// Upstream is the name of the upstream block.
	Upstream string
	// Directives are extra upstream directives written before the server
	// lines, without the trailing ';' ("zone backend 64k", "keepalive 16").
	Directives []string
	// ServerParams are parameters appended to every server line
	// ("max_fails=0").
	ServerParams []string
	// Servers are the server lines, in order.
	Servers []ServerLine
}

// ServerLine is one member's server line.
type ServerLine struct {
	// Member is the member identity, recorded in the line's comment.
	Member string
	// Address is the server address NGINX connects to.
	Address string
	// State is the member's administrative state; Draining and Out are both
	// written with the down parameter.
	State drivers.MemberState
	// Since is when the member entered State. It is recorded for Draining
	// only (the driver reports Out once the drain period has passed).
	Since time.Time
}

// RenderFile validates f and returns the file text. Every name and address is
// checked against a strict pattern first, so nothing in f can add a directive,
// close the block or start a comment.
func RenderFile(f UpstreamFile) ([]byte, error) {
	if err := ValidateUpstream(f.Upstream); err != nil {
		return nil, err
	}
	for _, d := range f.Directives {
		if err := validateDirective(d); err != nil {
			return nil, err
		}
	}
	for _, p := range f.ServerParams {
		if err := validateServerParam(p); err != nil {
			return nil, err
		}
	}
	members := make([]Member, len(f.Servers))
	for i, s := range f.Servers {
		members[i] = Member{Name: s.Member, Address: s.Address}
		if !s.State.Valid() {
			return nil, fmt.Errorf("%w: member %s: state %q: want serving, draining or out", drivers.ErrInvalidArgument, s.Member, s.State)
		}
		if s.Address == "" {
			return nil, fmt.Errorf("%w: member %s: empty address: want host:port", drivers.ErrInvalidArgument, s.Member)
		}
	}
	if err := validateMembers(members); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(fileHeader + "\n")
	fmt.Fprintf(&b, "upstream %s {\n", f.Upstream)
	for _, d := range f.Directives {
		fmt.Fprintf(&b, "    %s;\n", d)
	}
	for _, s := range f.Servers {
		b.WriteString("    server " + s.Address)
		for _, p := range f.ServerParams {
			b.WriteString(" " + p)
		}
		if s.State != drivers.Serving {
			b.WriteString(" down")
		}
		fmt.Fprintf(&b, "; # member=%s state=%s", s.Member, s.State)
		if s.State == drivers.Draining && !s.Since.IsZero() {
			fmt.Fprintf(&b, " since=%s", s.Since.UTC().Format(time.RFC3339Nano))
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// errNotManaged is wrapped by ParseFile errors for text it did not write.
var errNotManaged = errors.New("not a file written by this driver")

// ParseFile reads back a file written by [RenderFile]. It accepts only that
// format; anything else is an error naming the line.
func ParseFile(data []byte) (UpstreamFile, error) {
	var f UpstreamFile
	lines := strings.Split(string(data), "\n")
	if len(lines) < 3 || lines[0] != fileHeader {
		return f, fmt.Errorf("%w: first line is not the driver's header", errNotManaged)
	}
	head, ok := strings.CutPrefix(lines[1], "upstream ")
	if !ok || !strings.HasSuffix(head, " {") {
		return f, fmt.Errorf("%w: line 2 %q: want \"upstream <name> {\"", errNotManaged, lines[1])
	}
	f.Upstream = strings.TrimSuffix(head, " {")
	closed := false
	for i, line := range lines[2:] {
		n := i + 3
		if closed {
			if line != "" {
				return f, fmt.Errorf("%w: line %d %q after the closing brace", errNotManaged, n, line)
			}
			continue
		}
		if line == "}" {
			closed = true
			continue
		}
		body, ok := strings.CutPrefix(line, "    ")
		if !ok {
			return f, fmt.Errorf("%w: line %d %q: want an indented directive", errNotManaged, n, line)
		}
		if !strings.HasPrefix(body, "server ") {
			d, ok := strings.CutSuffix(body, ";")
			if !ok {
				return f, fmt.Errorf("%w: line %d %q: want a directive ending in ';'", errNotManaged, n, line)
			}
			f.Directives = append(f.Directives, d)
			continue
		}
		s, params, err := parseServerLine(body)
		if err != nil {
			return f, fmt.Errorf("%w: line %d %q: %w", errNotManaged, n, line, err)
		}
		if len(f.Servers) == 0 && len(params) > 0 {
			f.ServerParams = params
		}
		f.Servers = append(f.Servers, s)
	}
	if !closed {
		return f, fmt.Errorf("%w: no closing brace", errNotManaged)
	}
	// Round-trip: the text must be exactly what RenderFile writes for what
	// was read, which also validates every name and address.
	again, err := RenderFile(f)
	if err != nil {
		return f, fmt.Errorf("%w: %w", errNotManaged, err)
	}
	if !bytes.Equal(again, data) {
		return f, fmt.Errorf("%w: the text differs from what the driver writes (edited by hand?)", errNotManaged)
	}
	return f, nil
}

// parseServerLine parses "server <addr> [params] [down]; # member=<m> state=<s> [since=<t>]".
func parseServerLine(body string) (ServerLine, []string, error) {
	var s ServerLine
	decl, comment, ok := strings.Cut(body, "; # ")
	if !ok {
		return s, nil, errors.New("want \"server <address> ...; # member=... state=...\"")
	}
	fields := strings.Split(strings.TrimPrefix(decl, "server "), " ")
	s.Address = fields[0]
	params := fields[1:]
	down := len(params) > 0 && params[len(params)-1] == "down"
	if down {
		params = params[:len(params)-1]
	}
	for _, kv := range strings.Split(comment, " ") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "member":
			s.Member = v
		case "state":
			s.State = drivers.MemberState(v)
		case "since":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return s, nil, fmt.Errorf("since %q: want an RFC 3339 time", v)
			}
			s.Since = t
		default:
			return s, nil, fmt.Errorf("unknown comment field %q", kv)
		}
	}
	if !s.State.Valid() {
		return s, nil, fmt.Errorf("state %q: want serving, draining or out", s.State)
	}
	if down != (s.State != drivers.Serving) {
		return s, nil, fmt.Errorf("state %s disagrees with the down parameter", s.State)
	}
	return s, params, nil
}

package winrm

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/balanced-deploy/balanced/drivers"
)

// maxNameLen is the longest service name accepted, in runes (Windows allows
// 256 characters for a service display name).
const maxNameLen = 256

// isPSQuote reports whether PowerShell's tokenizer treats r as a single
// quote: the ASCII apostrophe and the typographic single quotes
// U+2018, U+2019, U+201A and U+201B all open, close and escape
// single-quoted strings.
func isPSQuote(r rune) bool {
	switch r {
	case '\'', '\u2018', '\u2019', '\u201A', '\u201B':
		return true
	}
	return false
}

// quotePS returns s as a PowerShell single-quoted string literal. Inside such
// a literal nothing is special ($, backtick, ;, double quotes and
// parentheses are plain text) except the single-quote characters, which are
// doubled: the tokenizer reads two consecutive quote characters as one
// literal quote. The result therefore always parses back to exactly s.
//
// quotePS does not validate; callers pass names that validateName accepted.
func quotePS(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		if isPSQuote(r) {
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// validateName checks a service name before it is quoted into a script.
//
// Accepted: any printable text of 1 to 256 characters without leading or
// trailing spaces. Quotes, $, backticks, semicolons and parentheses are
// accepted and made harmless by quoting (see quotePS).
//
// Refused: invalid UTF-8, control characters (newlines, tabs, NUL, DEL, C1),
// Unicode format characters (zero-width and bidirectional marks, which hide
// what a name really is from a reviewer) and line or paragraph separators.
// These never occur in a real service name and would make scripts and logs
// misleading.
func validateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: service name is empty; want the Windows service name or display name", drivers.ErrInvalidArgument)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: service name %q is not valid UTF-8", drivers.ErrInvalidArgument, name)
	case utf8.RuneCountInString(name) > maxNameLen:
		return fmt.Errorf("%w: service name %.40q... is longer than %d characters", drivers.ErrInvalidArgument, name, maxNameLen)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%w: service name %q has leading or trailing spaces", drivers.ErrInvalidArgument, name)
	}
	for i, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) {
			return fmt.Errorf("%w: service name %q has a control or invisible character %U at byte %d; want printable text only",
				drivers.ErrInvalidArgument, name, r, i)
		}
	}
	return nil
}

// validateHost checks the host part of a target before it is put in a URL:
// a DNS name, an IPv4 address or an IPv6 address (bracketed when a port
// follows). It returns the host and the port ("" when none was given).
func validateHost(hostport string) (host, port string, err error) {
	if hostport == "" {
		return "", "", fmt.Errorf("%w: target has no host (set Target.Address or Target.Name)", drivers.ErrInvalidArgument)
	}
	host = hostport
	if strings.HasPrefix(hostport, "[") || strings.Count(hostport, ":") == 1 {
		h, p, splitErr := splitHostPort(hostport)
		if splitErr != nil {
			return "", "", fmt.Errorf("%w: target host %q: %w", drivers.ErrInvalidArgument, hostport, splitErr)
		}
		host, port = h, p
	}
	if host == "" {
		return "", "", fmt.Errorf("%w: target host %q has an empty host part", drivers.ErrInvalidArgument, hostport)
	}
	for _, r := range host {
		ok := r == '.' || r == '-' || r == '_' || r == ':' || r == '%' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return "", "", fmt.Errorf("%w: target host %q has character %q; want a DNS name or an IP address", drivers.ErrInvalidArgument, hostport, r)
		}
	}
	return host, port, nil
}

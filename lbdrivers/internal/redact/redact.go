// Package redact removes secrets from URLs before the load-balancer drivers
// echo them in errors or logs.
//
// url.URL.Redacted hides only a password: a token given as the user name
// (https://TOKEN@host/) would still be printed, and a URL that fails to
// parse (a password with a bad %-escape) cannot be redacted by it at all,
// while url.Parse's own error quotes the whole URL. [URL] handles both.
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces the user information and query values of a URL.
const Mask = "xxxxx"

// URL returns raw with any user information (user name and password)
// replaced by [Mask] and every query value masked, so that the result can
// be printed. A URL that does not parse is cleaned textually: everything
// between "//" (or the start) and the last '@' of the authority is
// replaced, and the query is dropped. Control characters are escaped.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || (u.Host == "" && strings.Contains(raw, "@")) {
		// "u:p@host" parses as scheme u with opaque "p@host": clean it
		// as text too.
		return quoteControl(textual(raw))
	}
	if u.User != nil {
		u.User = url.User(Mask)
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			for i := range vs {
				vs[i] = Mask
			}
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	return quoteControl(u.String())
}

// textual strips user information and the query from a URL that does not
// parse.
func textual(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	start := 0
	if i := strings.Index(raw, "//"); i >= 0 {
		start = i + 2
	}
	// The authority ends at the first '/' after start; user info, if any,
	// ends at its last '@' (a password may hold '@' or '/' only escaped, but
	// a malformed one may hold anything, so take the last '@' in the whole
	// rest to be safe).
	if at := strings.LastIndexByte(raw[start:], '@'); at >= 0 {
		return raw[:start] + Mask + raw[start+at:]
	}
	return raw
}

// quoteControl escapes bytes below 0x20 and 0x7f so that a URL cannot break
// a log line or a terminal.
func quoteControl(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			b.WriteString(url.PathEscape(string(r)))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

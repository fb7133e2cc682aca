package drivers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// RedactURL returns raw with its user info and its query and fragment
// values replaced by "[redacted]", for an error or a log line:
// "https://TOKEN@host/x?token=T" becomes
// "https://[redacted]@host/x?token=[redacted]", and
// "https://user:pass@host/x" becomes "https://[redacted]@host/x".
//
// It works on the text, not on a parsed URL, so it also hides the user info
// of a URL that does not parse (a password with a bad %-escape, whose
// url.Parse error quotes the whole URL), and it hides a user name too, which
// [url.URL.Redacted] keeps (a token is often passed as the user name).
// Everything between the scheme's "//" (or the start, when there is none
// before it) and the last '@' is replaced; then, after that, each value of the
// query and the fragment (a key stays, a part without '=' is replaced whole).
// Quote the result with %q where raw may hold control characters.
func RedactURL(raw string) string {
	const mask = "[redacted]"
	head, tail := "", raw
	if at := strings.LastIndexByte(raw, '@'); at >= 0 {
		start := 0
		if i := strings.Index(raw, "//"); i >= 0 && i < at {
			start = i + 2
		}
		head, tail = raw[:start]+mask, raw[at:]
	}
	i := strings.IndexAny(tail, "?#")
	if i < 0 {
		return head + tail
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteString(tail[:i])
	part := tail[i:]
	for part != "" {
		b.WriteByte(part[0]) // '?', '#' or '&'
		part = part[1:]
		end := strings.IndexAny(part, "&#")
		if end < 0 {
			end = len(part)
		}
		kv := part[:end]
		if k, _, ok := strings.Cut(kv, "="); ok {
			b.WriteString(k + "=" + mask)
		} else if kv != "" {
			b.WriteString(mask)
		}
		part = part[end:]
	}
	return b.String()
}

// ParseURL parses raw as an absolute URL with a scheme and a host, of any
// scheme. what names the value in the error ("probe URL", "BaseURL"). The
// error, which wraps [ErrInvalidArgument], shows the URL through [RedactURL]
// and never repeats the parser's error text when the URL holds user info
// (url.Parse quotes the whole URL, password included). User info is left to
// the caller to refuse or accept.
func ParseURL(what, raw string) (*url.URL, error) {
	return parseURL(what, raw, "want an absolute URL with a scheme and a host")
}

// CheckHTTPURL is [ParseURL] for an http:// or https:// URL: any other
// scheme (javascript:, file:, ftp:) is refused.
func CheckHTTPURL(what, raw string) (*url.URL, error) {
	want := "want an absolute http:// or https:// URL"
	u, err := parseURL(what, raw, want)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https") {
		return nil, fmt.Errorf("%w: %s %q: scheme %q: %s", ErrInvalidArgument, what, RedactURL(raw), u.Scheme, want)
	}
	return u, nil
}

func parseURL(what, raw, want string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q: %s: %s", ErrInvalidArgument, what, RedactURL(raw), parseReason(raw, err), want)
	}
	switch {
	case u.Scheme == "":
		return nil, fmt.Errorf("%w: %s %q: no scheme: %s", ErrInvalidArgument, what, RedactURL(raw), want)
	case u.Host == "":
		return nil, fmt.Errorf("%w: %s %q: no host: %s", ErrInvalidArgument, what, RedactURL(raw), want)
	}
	return u, nil
}

// parseReason says why url.Parse refused raw without quoting raw: the
// parser's own message only when raw holds no user info.
func parseReason(raw string, err error) string {
	var escape url.EscapeError
	switch {
	case errors.As(err, &escape):
		return "bad %-escape"
	case strings.Contains(raw, "@"):
		return "malformed"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "malformed"
}

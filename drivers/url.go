package drivers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// RedactURL returns raw with its user info replaced by "[redacted]", for an
// error or a log line: "https://TOKEN@host/x" becomes
// "https://[redacted]@host/x", and so does "https://user:pass@host/x".
//
// It works on the text, not on a parsed URL, so it also hides the user info
// of a URL that does not parse (a password with a bad %-escape), and it hides
// a user name too, which [url.URL.Redacted] keeps (a token is often passed as
// the user name). Everything between the scheme's "//" (or the start, when there is
// none before the '@') and the last '@' is replaced; text without an '@' is returned
// unchanged. Quote the result with %q where raw may hold control characters.
func RedactURL(raw string) string {
	at := strings.LastIndexByte(raw, '@')
	if at < 0 {
		return raw
	}
	start := 0
	if i := strings.Index(raw, "//"); i >= 0 && i < at {
		start = i + 2
	}
	return raw[:start] + "[redacted]" + raw[at:]
}

// ParseURL parses raw as an absolute URL with a scheme and a host, of any
// scheme. what names the value in the error ("probe URL", "BaseURL"). The
// error, which wraps [ErrInvalidArgument], shows the URL through [RedactURL]
// and never repeats the parser's error text when the URL holds user info
// (url.Parse quotes the whole URL, password included). User info is left to
// the caller to refuse or accept.
func ParseURL(what, raw string) (*url.URL, error) {
	return parseURL(what, raw, "want an absolute URL with a scheme and a host, such as https://fe01.internal/app/")
}

// CheckHTTPURL is [ParseURL] for an http:// or https:// URL: any other
// scheme (javascript:, file:, ftp:) is refused.
func CheckHTTPURL(what, raw string) (*url.URL, error) {
	want := "want an absolute http:// or https:// URL such as https://fe01.internal/app/"
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

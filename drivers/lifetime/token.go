package lifetime

import (
	"fmt"
	"log/slog"
)

// redacted is what a [Token] prints instead of its value.
const redacted = "[REDACTED]"

// Token holds a LifeTime service-account bearer token. It never shows the
// secret: String, GoString, every fmt verb, JSON and slog all print
// "[REDACTED]". The zero Token is empty.
//
// The secret sits behind a pointer so that even reflection-based printing of
// a struct holding a Token (fmt's %+v on an unexported field) shows an
// address, not the value.
type Token struct {
	p *tokenValue
}

type tokenValue struct{ s string }

// NewToken wraps a bearer token, for example one read from an environment
// variable or a secret store.
func NewToken(secret string) Token {
	if secret == "" {
		return Token{}
	}
	return Token{p: &tokenValue{s: secret}}
}

// Reveal returns the secret. Only the code that builds the Authorization
// header should call it.
func (t Token) Reveal() string {
	if t.p == nil {
		return ""
	}
	return t.p.s
}

// IsZero reports whether the token is empty.
func (t Token) IsZero() bool { return t.Reveal() == "" }

// String returns "[REDACTED]".
func (t Token) String() string { return redacted }

// GoString returns "[REDACTED]", for %#v.
func (t Token) GoString() string { return redacted }

// Format prints "[REDACTED]" whatever the verb and flags.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON encodes the token as the string "[REDACTED]".
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText encodes the token as "[REDACTED]" (used by encoders such as
// YAML and slog's text handler).
func (t Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue makes slog print "[REDACTED]".
func (t Token) LogValue() slog.Value { return slog.StringValue(redacted) }

var (
	_ fmt.Stringer   = Token{}
	_ fmt.GoStringer = Token{}
	_ fmt.Formatter  = Token{}
	_ slog.LogValuer = Token{}
)

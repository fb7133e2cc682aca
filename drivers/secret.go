package drivers

import (
	"fmt"
	"log/slog"
)

// Secret holds a password or token. Every way of printing it — String,
// GoString, fmt's verbs, JSON, text marshalling and log/slog — shows
// "[redacted]", never the value; only [Secret.Reveal] returns it, for the one
// place that sends it to the system that needs it. Drivers take credentials
// as Secrets so that a config struct can be logged or printed safely.
type Secret struct {
	// value is behind a pointer so that fmt, which cannot call Format on
	// a Secret held in an unexported field, prints an address, not the
	// value.
	value *string
}

// NewSecret wraps a password or token.
func NewSecret(value string) Secret {
	if value == "" {
		return Secret{}
	}
	return Secret{value: &value}
}

const redacted = "[redacted]"

// Reveal returns the secret's value. Call it only where the value is sent to
// the system that needs it.
func (s Secret) Reveal() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == nil }

// String returns "[redacted]" (or "" for an empty secret).
func (s Secret) String() string {
	if s.value == nil {
		return ""
	}
	return redacted
}

// GoString returns the same as String, for %#v.
func (s Secret) GoString() string { return "drivers.Secret(" + s.String() + ")" }

// Format prints String for every verb, so %s, %v, %+v, %q and %x never show
// the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue makes log/slog print "[redacted]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText makes encoding/json, encoding/xml and YAML encoders write
// "[redacted]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

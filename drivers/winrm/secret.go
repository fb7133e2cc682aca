package winrm

import (
	"fmt"
	"log/slog"
)

// Secret holds a password. It prints, formats, marshals and logs as
// "[REDACTED]" (or "" when empty), so that putting a Config in a log line or an
// error message cannot leak it. Use Reveal to read the value.
type Secret string

const redacted = "[REDACTED]"

// Reveal returns the secret value. Call it only to hand the value to the
// transport.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string { return s.mask() }

// GoString implements fmt.GoStringer (the %#v verb) without revealing the value.
func (s Secret) GoString() string { return fmt.Sprintf("winrm.Secret(%q)", s.mask()) }

// Format implements fmt.Formatter, so every verb (%s, %v, %q, %x, %d...)
// prints the mask, never the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = fmt.Fprint(f, s.GoString())
	case verb == 'q':
		_, _ = fmt.Fprintf(f, "%q", s.mask())
	default:
		_, _ = fmt.Fprint(f, s.mask())
	}
}

// MarshalJSON implements json.Marshaler without revealing the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.mask() + `"`), nil }

// MarshalText implements encoding.TextMarshaler without revealing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

// LogValue implements slog.LogValuer without revealing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

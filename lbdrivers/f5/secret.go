package f5

import (
	"fmt"
	"log/slog"
)

// redacted is what a [Secret] prints instead of its value.
const redacted = "[REDACTED]"

// Secret is a password or token. It never prints its value: String,
// GoString, every fmt verb, JSON encoding and slog all show "[REDACTED]".
// Use string(s) where the value itself is needed.
type Secret string

// String returns "[REDACTED]".
func (Secret) String() string { return redacted }

// GoString returns "[REDACTED]", so %#v does not show the value either.
func (Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb (%s, %v, %q, %x, %d ...).
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON encodes the secret as the JSON string "[REDACTED]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText encodes the secret as "[REDACTED]" (encoding/xml, YAML and
// slog's text handler use it).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue makes slog log "[REDACTED]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

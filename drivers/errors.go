package drivers

import (
	"errors"
	"fmt"
)

// The error classes. A driver wraps one of them (with %w) so that callers can
// branch with errors.Is.
var (
	// ErrNotFound means the named service, member, environment or deployment
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPermissionDenied means the credentials were refused or lack a right.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrInvalidArgument means a value was refused before anything changed
	// (a malformed name, an unknown state).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnimplemented means the driver or the system behind it cannot do
	// this at all (for example, count active connections). Callers fall back
	// or skip; they never retry.
	ErrUnimplemented = errors.New("unimplemented")
	// ErrUnavailable means a transient failure after which the requested
	// change certainly did not take effect (connection refused, throttled,
	// service busy). It is the only class the engine retries.
	ErrUnavailable = errors.New("unavailable")
)

// classes lists the error classes in the order Class reports them.
var classes = []error{ErrUnavailable, ErrNotFound, ErrPermissionDenied, ErrInvalidArgument, ErrUnimplemented}

// Class returns the error class err wraps, or nil if it wraps none.
func Class(err error) error {
	for _, c := range classes {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

// Classify returns err wrapped so that errors.Is(result, class) holds, and
// errors.Is(result, err) still holds. It returns nil when err is nil.
func Classify(class, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, class) {
		return err
	}
	return fmt.Errorf("%w: %w", class, err)
}

// IsRetryable reports whether err is worth retrying: it wraps
// [ErrUnavailable].
func IsRetryable(err error) bool { return errors.Is(err, ErrUnavailable) }

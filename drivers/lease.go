package drivers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrLeaseHeld means the farm lease is held by another run that has not
// expired. The error that wraps it is a [*LeaseHeldError] naming the holder.
var ErrLeaseHeld = errors.New("farm lease held by another run")

// LeaseHolder says who holds (or asks for) a farm lease: enough for an
// operator on another machine to find the person and the process.
type LeaseHolder struct {
	// Host is the orchestrator's host name.
	Host string `json:"host"`
	// PID is the orchestrator's process ID on Host.
	PID int `json:"pid"`
	// User is the operating-system user that runs the orchestrator.
	User string `json:"user"`
	// RunID identifies the run (the journal's run ID).
	RunID string `json:"run_id"`
	// Release is the version the run deploys.
	Release string `json:"release"`
}

// String renders the holder for messages: "user@host pid 123 run R (release 2.4.0)".
// A Release that already reads "release ..." (a run's label) is not
// prefixed twice.
func (h LeaseHolder) String() string {
	rel := h.Release
	if !strings.HasPrefix(rel, "release ") {
		rel = "release " + rel
	}
	return fmt.Sprintf("%s@%s pid %d run %s (%s)", h.User, h.Host, h.PID, h.RunID, rel)
}

// Lease is a farm lease as read back from where it is held.
type Lease struct {
	// Farm is the farm identity the lease is for.
	Farm string `json:"farm"`
	// Holder is who holds it.
	Holder LeaseHolder `json:"holder"`
	// Acquired is when the holder first took it.
	Acquired time.Time `json:"acquired"`
	// Renewed is when the holder last renewed it.
	Renewed time.Time `json:"renewed"`
	// Expires is when it lapses unless renewed again.
	Expires time.Time `json:"expires"`
}

// Expired reports whether the lease has lapsed at now.
func (l Lease) Expired(now time.Time) bool { return !now.Before(l.Expires) }

// LeaseRequest asks for a farm lease.
type LeaseRequest struct {
	// Farm is the farm identity (the same string for every copy of one farm's
	// spec).
	Farm string
	// Holder is who asks.
	Holder LeaseHolder
	// TTL is how long the lease lasts without renewal. Must be positive.
	TTL time.Duration
	// Force takes the lease over from ForceHolder even if it has not
	// expired. It is refused unless ForceHolder equals the current holder's
	// RunID, so that an operator forces exactly the lease they have looked
	// at, never one taken in the meantime.
	Force bool
	// ForceHolder is the RunID of the holder Force takes over from.
	ForceHolder string
}

// LeaseHeldError is returned (wrapping [ErrLeaseHeld]) when the lease is held
// by another run.
type LeaseHeldError struct {
	// Lease is the lease as held.
	Lease Lease
}

// Error names the holder and the expiry.
func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("farm %s is locked by %s since %s, lease expires %s",
		e.Lease.Farm, e.Lease.Holder, e.Lease.Acquired.UTC().Format(time.RFC3339), e.Lease.Expires.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrLeaseHeld) hold.
func (e *LeaseHeldError) Unwrap() error { return ErrLeaseHeld }

// FarmLeaser is an optional capability of a [ServiceController]: it holds a
// lease on the farm itself (on the server t, which the engine chooses as the
// Deployment Controller), so that orchestrators on different machines exclude
// each other. A lease expires unless renewed; the engine renews it while the
// run lives and releases it when the run ends.
//
// Implementations must create the lease atomically: of two concurrent
// AcquireLease calls for one farm, exactly one succeeds.
type FarmLeaser interface {
	// AcquireLease takes the lease for req.Holder. It succeeds when there is
	// no lease, when the lease has expired, when it is already held by the
	// same RunID (a resume), or when req.Force names the current holder. It
	// returns a [*LeaseHeldError] when another live run holds it.
	AcquireLease(ctx context.Context, t Target, req LeaseRequest) (Lease, error)
	// RenewLease extends the lease held by runID by ttl. It returns a
	// [*LeaseHeldError] if the lease is now held by another run, and an
	// error wrapping [ErrNotFound] if there is no lease.
	RenewLease(ctx context.Context, t Target, farm, runID string, ttl time.Duration) (Lease, error)
	// ReleaseLease removes the lease if runID holds it; releasing a lease
	// that is absent or held by another run does nothing and succeeds.
	ReleaseLease(ctx context.Context, t Target, farm, runID string) error
	// ReadLease returns the current lease; ok is false when there is none.
	ReadLease(ctx context.Context, t Target, farm string) (lease Lease, ok bool, err error)
}

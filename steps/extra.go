package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// ErrNotApproved is returned by an [Approval] step whose approver declined.
var ErrNotApproved = errors.New("not approved")

// ApprovalRequest is what an approver is asked to decide.
type ApprovalRequest struct {
	// Step is the approval step's ID.
	Step string
	// Message says what is being approved.
	Message string
	// Farm is the farm being deployed.
	Farm *farm.Farm
}

// Approver decides an approval. It may block (waiting for a person, a chat
// command, a ticket) and must return when ctx ends.
type Approver func(ctx context.Context, req ApprovalRequest) (approved bool, err error)

// Approval returns a step that blocks until approve approves, declines or
// ctx ends. Insert it where a person must agree before the run goes on, for
// example before switch-traffic:
//
//	plan.InsertBefore(steps.SwitchTraffic, steps.Approval("approve-switch", "Switch traffic to the new version?", ask))
func Approval(id, message string, approve Approver) farm.Step {
	return farm.Step{
		ID:    id,
		Title: "Approval: " + message,
		Run: func(ctx context.Context, r *farm.Run) error {
			if approve == nil {
				return fmt.Errorf("approval %s has no approver", id)
			}
			r.Emit(event.Event{Kind: event.Progress, Message: "waiting for approval: " + message})
			ok, err := approve(ctx, ApprovalRequest{Step: id, Message: message, Farm: r.Farm()})
			if err != nil {
				return fmt.Errorf("approval %s: %w", id, err)
			}
			if !ok {
				return fmt.Errorf("approval %s: %w", id, ErrNotApproved)
			}
			return nil
		},
	}
}

// Wait returns a step that waits d (or until ctx ends): a soak period after
// the switch, for example.
func Wait(id string, d time.Duration) farm.Step {
	return farm.Step{
		ID:    id,
		Title: fmt.Sprintf("Wait %s", d),
		Run: func(ctx context.Context, r *farm.Run) error {
			r.Emit(event.Event{Kind: event.Progress, Message: fmt.Sprintf("waiting %s", d)})
			return sleep(ctx, d)
		},
	}
}

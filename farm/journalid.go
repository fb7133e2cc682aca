package farm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrNothingToResume is returned by [Plan.Resume] when the journal holds no
// run, or a run that already succeeded.
var ErrNothingToResume = errors.New("nothing to resume")

// ErrJournalMismatch is returned by [Plan.Resume] when the journal was
// written by another plan (other steps, another farm or another release).
var ErrJournalMismatch = errors.New("journal belongs to another plan")

// planID identifies a plan by its steps, its farm's layout and its label.
func (p *Plan) planID() string {
	h := sha256.New()
	fmt.Fprintf(h, "label=%s\n", p.cfg.Label)
	for _, s := range p.steps {
		fmt.Fprintf(h, "step=%s\n", s.ID)
	}
	for _, z := range p.farm.zones {
		fmt.Fprintf(h, "zone=%s\n", z.Name)
		for _, s := range z.Updating.Servers {
			fmt.Fprintf(h, "u=%s|%s|%s\n", s.Name, s.MemberID(), s.Address)
		}
		for _, s := range z.Loaded.Servers {
			fmt.Fprintf(h, "l=%s|%s|%s\n", s.Name, s.MemberID(), s.Address)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ID returns the plan's identity as the journal records it: a hash of its
// step IDs (in order), its farm's layout and PlanConfig.Label. What each
// step Needs and PlanConfig.StrictOrder are not part of it: they say when a
// step may start, not what the plan does, and a resume is correct under
// any of them (it runs every step the journal does not record done, each
// once its Needs are done; a step recorded done is not run again).
func (p *Plan) ID() string { return p.planID() }

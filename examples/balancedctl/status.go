package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/journal"
)

// statusJSON is the status with -json: one object on standard output. Its
// fields keep their meaning while SchemaVersion stays the same.
type statusJSON struct {
	SchemaVersion int    `json:"schema_version"`
	Journal       string `json:"journal"`
	Plan          string `json:"plan,omitempty"`
	PlanID        string `json:"plan_id,omitempty"`
	// Started is when the last run started; Resumed says it was a resume.
	Started time.Time `json:"started,omitzero"`
	Resumed bool      `json:"resumed,omitempty"`
	// Outcome is succeeded, halted, rolled-back, or unfinished (no
	// outcome recorded: the run crashed or is still running).
	Outcome string `json:"outcome"`
	// ExitCode is the command's exit code (the one the run returned).
	ExitCode   int      `json:"exit_code"`
	StepsDone  []string `json:"steps_done"`
	StepsTotal int      `json:"steps_total,omitempty"`
	// ResumeFrom is the step a resume would start from.
	ResumeFrom  string   `json:"resume_from,omitempty"`
	RollingBack bool     `json:"rolling_back,omitempty"`
	ToUndo      []string `json:"to_undo,omitempty"`
	Excluded    []string `json:"excluded,omitempty"`
	LastError   string   `json:"last_error,omitempty"`
}

// status reads a journal and says how its last run ended, what is done and
// where a resume would start. Its exit code is the one the run would have
// returned: 0 succeeded, 1 halted or unfinished, 3 rolled back.
// Given a spec (a .yaml or .yml file), it reads the spec's journal and also
// reports the farm's locks, and with -live the live farm (livestatus.go).
func (c *cli) status(ctx context.Context, o *options, args []string) int {
	path := args[0]
	if isSpecPath(path) {
		return c.statusSpec(ctx, o, path)
	}
	return c.statusJournal(o, path)
}

// statusJournal is status of a journal file.
func (c *cli) statusJournal(o *options, path string) int {
	recs, err := journal.ReadFile(path)
	if err != nil {
		c.errorf("read journal: %v", err)
		return exitUsage
	}
	st, err := journal.StateOf(recs)
	if err != nil {
		c.errorf("%s: %v", path, err)
		return exitUsage
	}
	var started journal.Record
	for _, r := range recs {
		if r.Kind == journal.RunStarted {
			started = r
		}
	}
	code := exitFailed
	switch st.Outcome {
	case farm.Succeeded:
		code = exitOK
	case farm.RolledBack:
		code = exitRolledBack
	}
	resumable := st.Outcome != farm.Succeeded && st.Outcome != farm.RolledBack && st.ResumeFrom != ""
	if o.json {
		sj := statusJSON{SchemaVersion: schemaVersion, Journal: path, Plan: st.Label, PlanID: st.PlanID,
			Started: started.Time.UTC(), Resumed: started.Resumed, Outcome: string(st.Outcome), ExitCode: code,
			StepsDone: st.Done, StepsTotal: len(started.Steps), RollingBack: st.RollingBack, ToUndo: st.ToUndo,
			Excluded: st.Excluded, LastError: oneLine(st.LastError)}
		if sj.Outcome == "" {
			sj.Outcome = "unfinished"
		}
		if sj.StepsDone == nil {
			sj.StepsDone = []string{}
		}
		if resumable {
			sj.ResumeFrom = st.ResumeFrom
		}
		if jc := c.writeJSON(sj); jc != exitOK {
			return jc
		}
		return code
	}
	w := c.stdout
	row := func(k, format string, a ...any) { fmt.Fprintf(w, "%-12s %s\n", k+":", fmt.Sprintf(format, a...)) }
	row("journal", "%s", path)
	row("plan", "%s (id %s)", orNone(st.Label), orNone(st.PlanID))
	if !started.Time.IsZero() {
		resumed := ""
		if started.Resumed {
			resumed = " (a resumed run)"
		}
		row("started", "%s%s", started.Time.UTC().Format(time.RFC3339), resumed)
	}
	switch st.Outcome {
	case farm.Succeeded:
		row("outcome", "succeeded")
	case farm.Halted:
		row("outcome", "halted: the farm was left in a safe state")
	case farm.RolledBack:
		row("outcome", "rolled back: the farm is as it was before the run")
	case "":
		row("outcome", "unfinished: no outcome recorded (the run crashed, or is still running)")
	default:
		row("outcome", "%s", st.Outcome)
	}
	total := ""
	if n := len(started.Steps); n > 0 {
		total = fmt.Sprintf(" of %d", n)
	}
	row("steps done", "%d%s: %s", len(st.Done), total, orNone(strings.Join(st.Done, ", ")))
	if resumable {
		row("resume from", "%s (balancedctl resume <spec>)", st.ResumeFrom)
	}
	if st.RollingBack {
		row("rolling back", "since %s; still to undo: %s", st.RollbackStarted.UTC().Format(time.RFC3339), orNone(strings.Join(st.ToUndo, ", ")))
	}
	if len(st.Excluded) > 0 {
		row("excluded", "%s (finish them by hand)", strings.Join(st.Excluded, ", "))
	}
	if st.LastError != "" {
		row("last error", "%s", strings.ReplaceAll(strings.TrimSpace(st.LastError), "\n", "\n             "))
	}
	return code
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

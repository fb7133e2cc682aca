package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/farm"
)

// status reads a journal and says how its last run ended, what is done and
// where a resume would start. Its exit code is the one the run would have
// returned: 0 succeeded, 1 halted or unfinished, 3 rolled back.
func (c *cli) status(_ context.Context, _ *flag.FlagSet, args []string) int {
	path := args[0]
	recs, err := farm.ReadJournalFile(path)
	if err != nil {
		fmt.Fprintf(c.stderr, "balancedctl: read journal: %v\n", err)
		return exitUsage
	}
	st, err := farm.StateOf(recs)
	if err != nil {
		fmt.Fprintf(c.stderr, "balancedctl: %s: %v\n", path, err)
		return exitUsage
	}
	var started farm.JournalRecord
	for _, r := range recs {
		if r.Kind == farm.RecordRunStarted {
			started = r
		}
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
	code := exitFailed
	switch st.Outcome {
	case farm.Succeeded:
		row("outcome", "succeeded")
		code = exitOK
	case farm.Halted:
		row("outcome", "halted: the farm was left in a safe state")
	case farm.RolledBack:
		row("outcome", "rolled back: the farm is as it was before the run")
		code = exitRolledBack
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
	if st.Outcome != farm.Succeeded && st.Outcome != farm.RolledBack && st.ResumeFrom != "" {
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

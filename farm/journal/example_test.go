package journal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/balanced-deploy/balanced/farm/journal"
)

// ExampleReadLastRun reads where the last run of a journal stands, as a
// status display or a resume does. The records here are written by hand;
// a run of a farm.Plan writes them itself (farm.PlanConfig.Journal).
func ExampleReadLastRun() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "deploy.journal")

	j, err := journal.Open(path)
	if err != nil {
		panic(err)
	}
	steps := []string{"preflight", "drain-updating", "publish"}
	for _, rec := range []journal.Record{
		{Kind: journal.RunStarted, PlanID: "p1", Label: "release 2.4.0", RunID: "R1", Steps: steps},
		{Kind: journal.StepStarted, Step: "preflight"},
		{Kind: journal.StepDone, Step: "preflight"},
		{Kind: journal.StepStarted, Step: "drain-updating"},
		// The orchestrator's machine died here.
	} {
		if err := j.Append(rec); err != nil {
			panic(err)
		}
	}
	_ = j.Close()

	recs, err := journal.ReadLastRun(path)
	if err != nil {
		panic(err)
	}
	st, ok, err := journal.LastRunOf(recs)
	if err != nil || !ok {
		panic(fmt.Sprint(ok, err))
	}
	fmt.Printf("%s, run %s: done %v, resume from %s, unfinished %v\n", st.Label, st.RunID, st.Done, st.ResumeFrom, st.Unfinished())

	// The file's own LastRun (what farm.Plan.Run asks before a new run)
	// says the same, reading the file backwards from its end.
	j, err = journal.Open(path)
	if err != nil {
		panic(err)
	}
	defer func() { _ = j.Close() }()
	st, _, _ = j.LastRun(context.Background())
	fmt.Println("resume from:", st.ResumeFrom)
	// Output:
	// release 2.4.0, run R1: done [preflight], resume from drain-updating, unfinished true
	// resume from: drain-updating
}

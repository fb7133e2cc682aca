// Package journal is the journal of a run of a [github.com/balanced-deploy/balanced/farm.Plan]:
// a file of JSON lines, one [Record] per thing the run did, made durable
// before the run goes on, so that a run that crashed, halted or lost its
// machine can be resumed exactly where it stood (farm.Plan.Resume).
//
// [Open] opens (or creates) a journal file for farm.PlanConfig.Journal;
// [ReadFile], [ReadLastRun], [StateOf] and [LastRunOf] read what a journal
// says, for a status display or a tool of your own. [Journal] is the
// interface a journal kept elsewhere (a database, object storage)
// implements; its contract is on the type.
//
// The format: each line is one JSON object, a [Record]; a reader tolerates
// fields it does not know (a newer writer's additions) and refuses kinds it
// does not know ([Kind.Known]). A torn last line (a crash mid-write) is cut
// off when the file is opened again.
package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Kind says what a [Record] records. A journal refuses kinds
// it does not know (see [Kind.Known]): a record of an unknown kind may
// change what a resume must do, so skipping it would be unsafe.
type Kind string

// Journal record kinds: what each [Record] records, and the fields it sets.
const (
	// RunStarted: a run or a resume began (PlanID, Label, Steps, RunID,
	// Resumed).
	RunStarted Kind = "run-started"
	// StepStarted: a step began (Step).
	StepStarted Kind = "step-started"
	// Action: one server's or zone's action of a step ended (Step, Zone,
	// Server, Attempts, Error when it failed).
	Action Kind = "action"
	// Captured: the whole state captured so far (Captured), written just
	// before each StepDone.
	Captured Kind = "captured"
	// StepDone: a step was confirmed done (Step); a resume skips it.
	StepDone Kind = "step-done"
	// StepFailed: a step failed (Step, Error).
	StepFailed Kind = "step-failed"
	// StepUndone: a rollback undid a step (Step).
	StepUndone Kind = "step-undone"
	// Value: one value set (or deleted) in farm.Captured during a step,
	// such as the ID of a deployment just started (Key, Value, Deleted).
	Value Kind = "value"
	// RollbackStarted: a rollback began; Step is the step that failed.
	RollbackStarted Kind = "rollback-started"
	// Excluded: a server was excluded from the run by a
	// farm.DecideExclude decision (Zone, Server).
	Excluded Kind = "excluded"
	// RunFinished: the run ended (Outcome, Error when it did not succeed).
	RunFinished Kind = "run-finished"
)

// Kinds lists every record kind this version knows, in the order a
// run writes them.
func Kinds() []Kind {
	return []Kind{RunStarted, StepStarted, Action, Captured, Value,
		StepDone, StepFailed, Excluded, RollbackStarted, StepUndone, RunFinished}
}

// Known reports whether k is one of [Kinds].
func (k Kind) Known() bool { return slices.Contains(Kinds(), k) }

func (k Kind) check() error {
	if k == "" {
		return errors.New("record without kind")
	}
	if !k.Known() {
		return fmt.Errorf("unknown record kind %q (written by a newer version of balanced?): want one of %v", string(k), Kinds())
	}
	return nil
}

// Outcome is how a run ended: farm.Report.Outcome, and a run-finished
// record's Outcome.
type Outcome string

// Outcomes.
const (
	// Succeeded: every step completed.
	Succeeded Outcome = "succeeded"
	// Halted: a step failed or the run was cancelled; the farm was left in
	// a safe state and the run can be resumed.
	Halted Outcome = "halted"
	// RolledBack: a step failed and the completed steps were compensated.
	RolledBack Outcome = "rolled-back"
)

// ErrNoRun is returned by [StateOf] when the records hold no run.
var ErrNoRun = errors.New("the journal holds no run")

// Record is one line of a run's journal. Fields that do not apply to
// a kind are empty.
type Record struct {
	// Time is when the record was written.
	Time time.Time `json:"time"`
	// Kind is one of the [Kind] constants.
	Kind Kind `json:"kind"`
	// PlanID identifies the plan (its steps, its farm and its label): a
	// journal is resumed only by the plan that wrote it.
	PlanID string `json:"plan_id,omitempty"`
	// Label is farm.PlanConfig.Label (for the balanced plan, the release).
	Label string `json:"label,omitempty"`
	// Steps lists the plan's step IDs (run-started).
	Steps []string `json:"steps,omitempty"`
	// Resumed is true on the run-started record of a resumed run.
	Resumed bool `json:"resumed,omitempty"`
	// RunID identifies the run (run-started): a resumed run keeps the ID
	// of the run it continues. The host lock and the farm lease name it.
	RunID string `json:"run_id,omitempty"`
	// Step is the step a record concerns.
	Step string `json:"step,omitempty"`
	// Zone and Server name what an action or an exclusion concerned.
	Zone   string `json:"zone,omitempty"`
	Server string `json:"server,omitempty"`
	// Attempts is how many times an action was tried.
	Attempts int `json:"attempts,omitempty"`
	// Error is the error text of a failed action, step or run.
	Error string `json:"error,omitempty"`
	// Captured is the full captured state (captured records).
	Captured *CapturedState `json:"captured,omitempty"`
	// Key, Value and Deleted describe a value record.
	Key     string `json:"key,omitempty"`
	Value   string `json:"value,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	// Outcome is how the run ended (run-finished).
	Outcome Outcome `json:"outcome,omitempty"`
}

// Journal receives the records of a run, in order, and says how the last
// run it holds ended. [File] is the implementation on disk.
//
// The contract every implementation keeps:
//   - Append makes the record durable before it returns: after a crash, a
//     resumed run trusts every record appended. It refuses a record whose
//     kind is not [Kind.Known].
//   - LastRun returns the state of the last run appended ([StateOf] of the
//     records from the last run-started record that is not a resume), with
//     ok false when the journal holds no run. farm.Plan.Run calls it before
//     anything else and refuses to start over an unfinished run with
//     farm.ErrUnfinishedRun, whatever the implementation. [LastRunOf] computes
//     it from records held in memory.
//   - Readers tolerate fields they do not know (a newer writer's additions)
//     and refuse record kinds they do not know.
type Journal interface {
	// Append records rec durably.
	Append(rec Record) error
	// LastRun returns the state of the last run the journal holds; ok is
	// false when it holds none.
	LastRun(ctx context.Context) (st State, ok bool, err error)
}

// LastRunOf is [Journal.LastRun] over records held in memory: the state of
// the last run in recs, with ok false when recs hold no run.
func LastRunOf(recs []Record) (st State, ok bool, err error) {
	st, err = StateOf(recs)
	if errors.Is(err, ErrNoRun) {
		return State{}, false, nil
	}
	return st, err == nil, err
}

var _ Journal = (*File)(nil)

// File is a [Journal] in a file of JSON lines, appended to and synced
// to disk record by record.
//
// Appends made at the same time share one write and one sync (group
// commit): each Append still returns only once its record is on disk.
type File struct {
	mu   sync.Mutex
	cond *sync.Cond
	path string
	f    *os.File
	// pending holds the lines of batch next, not yet written; synced is
	// the last batch on disk; syncing is true while a batch is written.
	pending []byte
	next    uint64
	synced  uint64
	syncing bool
	// err is the first write or sync error: once a batch failed, every
	// later Append fails too, so the journal never has a hole.
	err error
}

// Open opens (creating it if needed, mode 0600) the journal file at
// path for appending.
func Open(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if err := trimTornTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j := &File{path: path, f: f, next: 1}
	j.cond = sync.NewCond(&j.mu)
	return j, nil
}

// trimTornTail cuts a last line that a crash left without its newline, so
// that new records do not follow it on the same line.
func trimTornTail(f *os.File) error {
	info, err := f.Stat()
	if err != nil || info.Size() == 0 {
		return err
	}
	const chunk = 64 * 1024
	end := info.Size()
	buf := make([]byte, chunk)
	for pos := end; pos > 0; {
		n := int64(chunk)
		if pos < n {
			n = pos
		}
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := pos + int64(i) + 1
			if keep == end {
				return nil
			}
			return f.Truncate(keep)
		}
	}
	return f.Truncate(0) // a single torn line
}

// Path returns the journal file's path.
func (j *File) Path() string { return j.path }

// Append writes rec as one JSON line and syncs the file. Records appended
// concurrently are written and synced together, in the order Append took
// them.
func (j *File) Append(rec Record) error {
	if err := rec.Kind.check(); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("journal: encode %s record: %w", rec.Kind, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	batch := j.next
	j.pending = append(append(j.pending, b...), '\n')
	for j.synced < batch {
		if j.syncing {
			j.cond.Wait()
			continue
		}
		// Lead this batch: write and sync everything pending.
		data, n := j.pending, j.next
		j.pending, j.next, j.syncing = nil, j.next+1, true
		j.mu.Unlock()
		err := j.writeSync(data)
		j.mu.Lock()
		j.syncing, j.synced = false, n
		if err != nil && j.err == nil {
			j.err = err
		}
		j.cond.Broadcast()
	}
	return j.err
}

func (j *File) writeSync(data []byte) error {
	if _, err := j.f.Write(data); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: sync: %w", j.path, err)
	}
	return nil
}

// Close closes the file.
func (j *File) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.f.Close()
}

// Read parses a whole journal, every run it holds. A last line cut
// short (a crash while it was written) is ignored; any other malformed line,
// and any record of a kind this version does not know, is an error naming
// its line number. Fields it does not know are ignored. To read only the
// last run, whatever the history, use [ReadLastRun].
func Read(r io.Reader) ([]Record, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	line := 0
	complete := len(data) == 0 || data[len(data)-1] == '\n'
	total := bytes.Count(data, []byte{'\n'})
	if !complete {
		total++
	}
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			if line == total && !complete {
				break // torn final write
			}
			return nil, fmt.Errorf("journal line %d: %w", line, err)
		}
		if err := rec.Kind.check(); err != nil {
			return nil, fmt.Errorf("journal line %d: %w", line, err)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return recs, nil
}

// ReadFile parses the journal file at path.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	return Read(f)
}

// State is what a journal says of the last run it holds.
type State struct {
	// PlanID and Label identify the plan that ran (farm.Plan.ID,
	// farm.PlanConfig.Label).
	PlanID string
	Label  string
	// RunID identifies the run; empty in journals written before run IDs.
	RunID string
	// Started is when the run began; LastStarted is when it, or its
	// latest resume, last started.
	Started, LastStarted time.Time
	// Resumed is true when the run was resumed at least once.
	Resumed bool
	// Steps lists the plan's step IDs, in order.
	Steps []string
	// Done lists the steps confirmed done, in order.
	Done []string
	// ResumeFrom is the first step not confirmed done; empty when every
	// step is.
	ResumeFrom string
	// Captured is the last state captured.
	Captured CapturedState
	// Excluded lists servers excluded from the run by a farm.DecideExclude decision.
	Excluded []string
	// Outcome is the outcome recorded, empty when the run never finished
	// (it crashed).
	Outcome Outcome
	// LastError is the last error recorded.
	LastError string
	// RollingBack is true when the run was rolling back when the journal
	// ends: resuming it continues the rollback.
	RollingBack bool
	// RollbackStarted is when the rollback began.
	RollbackStarted time.Time
	// ToUndo lists, last first, the steps a continued rollback must still
	// undo: every step started and not recorded undone.
	ToUndo []string
}

// StateOf summarises the last run in a journal's records; it returns
// [ErrNoRun] when they hold none ([LastRunOf] reports that as ok false).
func StateOf(recs []Record) (State, error) {
	start := -1
	for i, r := range recs {
		if r.Kind == RunStarted && !r.Resumed {
			start = i
		}
	}
	if start < 0 {
		return State{}, ErrNoRun
	}
	st := State{PlanID: recs[start].PlanID, Label: recs[start].Label, RunID: recs[start].RunID,
		Started: recs[start].Time, LastStarted: recs[start].Time, Steps: recs[start].Steps}
	steps := recs[start].Steps
	done := map[string]bool{}
	started := map[string]bool{}
	undone := map[string]bool{}
	for _, r := range recs[start:] {
		switch r.Kind {
		case StepStarted:
			started[r.Step] = true
		case RollbackStarted:
			if !st.RollingBack {
				st.RollbackStarted = r.Time
			}
			st.RollingBack = true
		case StepDone:
			done[r.Step] = true
		case StepUndone:
			done[r.Step] = false
			undone[r.Step] = true
		case Captured:
			if r.Captured != nil {
				st.Captured = cloneState(*r.Captured)
			}
		case Value:
			if st.Captured.Values == nil {
				st.Captured.Values = map[string]string{}
			}
			if r.Deleted {
				delete(st.Captured.Values, r.Key)
			} else {
				st.Captured.Values[r.Key] = r.Value
			}
		case Excluded:
			st.Excluded = append(st.Excluded, r.Server)
		case RunFinished:
			st.Outcome = r.Outcome
			st.LastError = r.Error
			if r.Outcome == RolledBack {
				st.RollingBack = false
			}
		case RunStarted:
			st.Outcome = ""
			st.LastStarted = r.Time
			st.Resumed = st.Resumed || r.Resumed
		case StepFailed:
			st.LastError = r.Error
		}
	}
	for _, s := range steps {
		switch {
		case done[s]:
			// Steps that ran beside each other end in any order: a step
			// after ResumeFrom may be done.
			st.Done = append(st.Done, s)
		case st.ResumeFrom == "":
			st.ResumeFrom = s
		}
	}
	if st.RollingBack {
		for i := len(steps) - 1; i >= 0; i-- {
			if started[steps[i]] && !undone[steps[i]] {
				st.ToUndo = append(st.ToUndo, steps[i])
			}
		}
	}
	sort.Strings(st.Excluded)
	return st, nil
}

// cloneState copies the maps of a captured state, so that applying later
// records does not write into the records read.
func cloneState(c CapturedState) CapturedState {
	out := CapturedState{
		Services: make(map[string]map[drivers.Service]drivers.ServiceState, len(c.Services)),
		Members:  maps.Clone(c.Members),
		Values:   maps.Clone(c.Values),
	}
	for k, v := range c.Services {
		out.Services[k] = maps.Clone(v)
	}
	return out
}

// CapturedState is the state a run captured (farm.Captured: services, members and
// values), as the journal stores it.
type CapturedState struct {
	// Services maps server name, then service, to its state.
	Services map[string]map[drivers.Service]drivers.ServiceState `json:"services,omitempty"`
	// Members maps "zone/member" to the member's status.
	Members map[string]drivers.MemberStatus `json:"members,omitempty"`
	// Values holds the named values steps recorded.
	Values map[string]string `json:"values,omitempty"`
}

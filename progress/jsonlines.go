package progress

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/farm/event"
)

// JSONEvent is the JSON form of an [event.Event], one per line of
// [NewJSONLines]'s output; decode a line into it to read it back. Fields
// that are zero are left out, except done, which is written whenever total
// is (a wait at 0/3 says "done":0).
type JSONEvent struct {
	// Time is when the event happened, RFC 3339 with nanoseconds.
	Time time.Time `json:"time"`
	// Kind is the event.Kind ("step-started", "progress", ...).
	Kind string `json:"kind"`
	// Step is the ID of the step the event belongs to.
	Step string `json:"step,omitempty"`
	// Zone and Server say what the event concerns.
	Zone   string `json:"zone,omitempty"`
	Server string `json:"server,omitempty"`
	// Attempt is the attempt number of a retried or finished action.
	Attempt int `json:"attempt,omitempty"`
	// Done and Total count the finished and all actions of a step, or
	// the progress of a wait.
	Done  int `json:"done,omitempty"`
	Total int `json:"total,omitempty"`
	// Message is the event's human-readable text.
	Message string `json:"message,omitempty"`
	// Error is the text of the event's error on one line, each distinct
	// failure said once (see [ErrorText]); never go-multierror's bullets.
	Error string `json:"error,omitempty"`
	// Members are the load-balancer members of a members-seen event, as
	// the run read or set them.
	Members []JSONMember `json:"members,omitempty"`
	// Errors is the event's error as its distinct failures (see
	// [Failures]): the step, servers or zones, and text of each. Left out
	// when the error is one failure of no step.
	Errors []Failure `json:"errors,omitempty"`
}

// JSONMember is one load-balancer member in a [JSONEvent]: a
// drivers.MemberStatus.
type JSONMember struct {
	Member string `json:"member"`
	State  string `json:"state"`
	Health string `json:"health,omitempty"`
	// Connections is the member's active connections, when the load
	// balancer counts them.
	Connections *int `json:"connections,omitempty"`
}

// JSONLines writes one JSON object per event per line (JSON Lines), for
// CI logs and tools; it is an [event.Observer]. Each line is a [JSONEvent].
// Errors are written as their text only (on one line, see [ErrorText])
// and their [Failures], never marshalled, so nothing inside an error value
// (a request, a credential) can leak.
//
// Observe is safe for concurrent use; each line is written with one call
// to the writer, so lines never interleave. The first write error stops
// the output and is kept for [JSONLines.Err].
type JSONLines struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

var _ event.Observer = (*JSONLines)(nil)

// NewJSONLines returns a JSONLines writing to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

// Observe writes e as one line of JSON. It implements [event.Observer].
func (j *JSONLines) Observe(e event.Event) {
	w := jsonWire{
		Time: e.Time, Kind: string(e.Kind), Step: e.Step, Zone: e.Zone, Server: e.Server,
		Attempt: e.Attempt, Total: e.Total, Message: e.Message,
	}
	if e.Total > 0 || e.Done != 0 {
		w.Done = &e.Done
	}
	for _, m := range e.Members {
		jm := JSONMember{Member: m.Member, State: string(m.State), Health: string(m.Health)}
		if m.ConnectionsKnown {
			jm.Connections = &m.ActiveConnections
		}
		w.Members = append(w.Members, jm)
	}
	if e.Err != nil {
		w.Error = ErrorText(e.Err)
		if fs := Failures(e.Err); len(fs) > 1 || len(fs) == 1 && fs[0].Step != "" {
			w.Errors = fs
		}
	}
	b, err := json.Marshal(w)
	if err == nil {
		b = append(b, '\n')
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return
	}
	if err != nil {
		j.err = err
		return
	}
	if _, err := j.w.Write(b); err != nil {
		j.err = err
	}
}

// Err returns the first error writing to w, or nil.
func (j *JSONLines) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// jsonWire is JSONEvent as written: Done is a pointer so that a wait at 0
// of n still says "done":0.
type jsonWire struct {
	Time    time.Time    `json:"time"`
	Kind    string       `json:"kind"`
	Step    string       `json:"step,omitempty"`
	Zone    string       `json:"zone,omitempty"`
	Server  string       `json:"server,omitempty"`
	Attempt int          `json:"attempt,omitempty"`
	Done    *int         `json:"done,omitempty"`
	Total   int          `json:"total,omitempty"`
	Message string       `json:"message,omitempty"`
	Error   string       `json:"error,omitempty"`
	Members []JSONMember `json:"members,omitempty"`
	Errors  []Failure    `json:"errors,omitempty"`
}

package lifetime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// The Info values LifeTime gives with needs_user_intervention.
//
// Deprecated: use the constants of package drivers.
const (
	InfoBusinessProcessImpact            = drivers.InfoBusinessProcessImpact
	InfoDeploymentPrepared               = drivers.InfoDeploymentPrepared
	InfoNeedsConfigurationOrConfirmation = drivers.InfoNeedsConfigurationOrConfirmation
	InfoDeploymentSuspended              = drivers.InfoDeploymentSuspended
)

// statusBody is the answer of GET /deployments/{Key}/status/.
type statusBody struct {
	DeploymentStatus string        `json:"DeploymentStatus"`
	Info             string        `json:"Info"`
	DeploymentLog    []logEntryDTO `json:"DeploymentLog"`
}

// logEntryDTO is a DeploymentMessage: Instant and Message, no type
// (Swagger DeploymentMessage).
type logEntryDTO struct {
	Instant string `json:"Instant"`
	Message string `json:"Message"`
}

// knownStates are the DeploymentStatus values of the LifeTime API; they are
// spelled exactly as drivers.DeploymentState.
var knownStates = map[drivers.DeploymentState]bool{
	drivers.DeploymentSaved:                 true,
	drivers.DeploymentRunning:               true,
	drivers.DeploymentNeedsUserIntervention: true,
	drivers.DeploymentAborting:              true,
	drivers.DeploymentAborted:               true,
	drivers.DeploymentSucceeded:             true,
	drivers.DeploymentSucceededWithWarnings: true,
	drivers.DeploymentFailed:                true,
	drivers.DeploymentForceFinished:         true,
}

// ParseState maps a LifeTime DeploymentStatus string to a
// drivers.DeploymentState. An unknown value is an error naming it: a newer
// LifeTime may add states, and guessing what they mean is unsafe.
func ParseState(s string) (drivers.DeploymentState, error) {
	st := drivers.DeploymentState(s)
	if !knownStates[st] {
		return "", fmt.Errorf("lifetime: unknown DeploymentStatus %q; expected one of saved, running, needs_user_intervention, aborting, aborted, finished_successful, finished_with_warnings, finished_with_errors, force_finished", s)
	}
	return st, nil
}

// ParseStatus decodes the body of GET /deployments/{Key}/status/. The
// DeploymentStatus must be a known value; each log line's Instant is parsed
// as RFC 3339 (or the same without a zone, taken as UTC), and left zero when
// it cannot be parsed so that a cosmetic field never hides the state.
func ParseStatus(b []byte) (drivers.DeploymentStatus, error) {
	var sb statusBody
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&sb); err != nil {
		return drivers.DeploymentStatus{}, fmt.Errorf("lifetime: decode deployment status: %w", err)
	}
	st, err := ParseState(sb.DeploymentStatus)
	if err != nil {
		return drivers.DeploymentStatus{}, err
	}
	out := drivers.DeploymentStatus{State: st, Info: sb.Info}
	if len(sb.DeploymentLog) > 0 {
		out.Log = make([]drivers.LogEntry, 0, len(sb.DeploymentLog))
		for _, e := range sb.DeploymentLog {
			out.Log = append(out.Log, drivers.LogEntry{Time: parseInstant(e.Instant), Message: e.Message})
		}
	}
	return out, nil
}

var instantLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

func parseInstant(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range instantLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/balanced-deploy/balanced/spec"
)

// resultJSON is the final report of run, resume and preflight with -json:
// one object on standard output. Its fields keep their meaning while
// SchemaVersion stays the same.
type resultJSON struct {
	// SchemaVersion is the version of this layout (schemaVersion).
	SchemaVersion int `json:"schema_version"`
	// Command is run, resume or preflight.
	Command string `json:"command"`
	// Spec is the spec file; Release the version deployed.
	Spec    string `json:"spec"`
	Release string `json:"release,omitempty"`
	// Outcome is succeeded, halted or rolled-back (farm.Outcome), or
	// refused (the run did not start: a lock, an unfinished journal),
	// or nothing-to-resume.
	Outcome string `json:"outcome"`
	// ExitCode is the command's exit code.
	ExitCode int `json:"exit_code"`
	// Message says what happened, for a person.
	Message string `json:"message,omitempty"`
	// Error is the run's error on one line; Errors its distinct failures.
	Error  string             `json:"error,omitempty"`
	Errors []progress.Failure `json:"errors,omitempty"`
	// ResumeFrom is the step a resume would start from (only when the
	// spec has a journal to resume from).
	ResumeFrom string `json:"resume_from,omitempty"`
	// Report is the engine's report: every step and action.
	Report *farm.Report `json:"report,omitempty"`
}

// finish prints the report (text or JSON) and the error, closes the events
// file and returns the exit code. The error goes to standard error only
// when the progress view did not already say it (the run did not start).
func (c *cli) finish(o *options, command string, sp *spec.Spec, report *farm.Report, err error, end *ended, closeEvents func() error) int {
	if cerr := closeEvents(); cerr != nil {
		c.errorf("-events: %v", cerr)
	}
	code := exitCode(err)
	if o.json {
		res := resultJSON{SchemaVersion: schemaVersion, Command: command, Spec: sp.Source, Release: sp.Release.Version,
			ExitCode: code, Error: progress.ErrorText(err), Errors: progress.Failures(err), Report: report}
		switch {
		case report != nil && report.Outcome != "":
			res.Outcome = string(report.Outcome)
			if report.Outcome == farm.Halted && sp.Journal != "" {
				res.ResumeFrom = report.ResumeFrom
			}
		case err == nil:
			res.Outcome = string(farm.Succeeded)
		default:
			res.Outcome = "refused"
		}
		if cmdCode := c.writeJSON(res); cmdCode != exitOK {
			return cmdCode
		}
		return code
	}
	if report != nil && report.Outcome != "" {
		if werr := writeReport(c.stdout, command, report, sp); werr != nil {
			c.errorf("%v", werr)
		}
	}
	if err != nil && !end.seen {
		c.errorf("%s", progress.ErrorText(err))
	}
	return code
}

// writeJSON writes v as one JSON object on standard output.
func (c *cli) writeJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	if _, err := c.stdout.Write(append(b, '\n')); err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	return exitOK
}

// writeReport prints the run's report, one line per step, with each
// distinct failure of a step once ("on 20 servers (fe01, ...): ...").
func writeReport(w io.Writer, command string, r *farm.Report, sp *spec.Spec) error {
	var b strings.Builder
	fmt.Fprintf(&b, "outcome: %s (%s)\n", r.Outcome, r.Finished.Sub(r.Started).Round(time.Millisecond))
	for _, s := range r.Steps {
		d := ""
		if !s.Started.IsZero() && !s.Finished.IsZero() {
			d = " " + s.Finished.Sub(s.Started).Round(time.Millisecond).String()
		}
		fmt.Fprintf(&b, "  %-26s %-8s%s\n", s.ID, s.Status, d)
		for _, f := range actionFailures(s) {
			fmt.Fprintf(&b, "      %s\n", f)
		}
	}
	if r.Outcome == farm.Halted && r.ResumeFrom != "" && command != "preflight" {
		if sp.Journal != "" {
			fmt.Fprintf(&b, "resume from: %s (balancedctl resume %s)\n", r.ResumeFrom, sp.Source)
		} else {
			fmt.Fprintf(&b, "stopped before: %s (the spec has no journal, so the run cannot be resumed)\n", r.ResumeFrom)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// actionFailures groups the failed actions of a step by their error text.
func actionFailures(s farm.StepReport) []string {
	type group struct {
		what []string
		text string
	}
	var groups []group
	for _, a := range s.Actions {
		if a.Error == "" {
			continue
		}
		// The text without the "step s: zone z: server x: " the
		// StepError put in front, which the line says already.
		prefix := (&farm.StepError{Step: s.ID, Zone: a.Zone, Server: a.Server, Attempts: a.Attempts, Err: errors.New("")}).Error()
		text := strings.TrimPrefix(a.Error, prefix)
		what := a.Server
		if what == "" {
			what = "zone " + a.Zone
			text = progress.Generalize(text, a.Zone)
		} else {
			text = progress.Generalize(text, a.Server)
		}
		i := slices.IndexFunc(groups, func(g group) bool { return g.text == text })
		if i < 0 {
			groups = append(groups, group{text: text})
			i = len(groups) - 1
		}
		groups[i].what = append(groups[i].what, what)
	}
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		text := g.text
		if len(g.what) == 1 {
			text = strings.ReplaceAll(text, progress.Placeholder, strings.TrimPrefix(g.what[0], "zone "))
		}
		slices.Sort(g.what)
		f := progress.Failure{Servers: g.what, Error: text}
		out = append(out, strings.TrimSpace(oneLine(f.String())))
	}
	return out
}

// oneLine folds line breaks into spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

package progress

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/go-multierror"

	"github.com/balanced-deploy/balanced/farm"
)

// Failure is one distinct failure of a step: the same error text on one or
// more servers or zones. [Failures] groups the errors of a fan-out into
// Failures, so that one socket error on 20 servers is said once, "on 20
// servers", rather than 20 times.
type Failure struct {
	// Step is the ID of the step that failed, empty when the error did not
	// come from a step.
	Step string `json:"step,omitempty"`
	// Servers and Zones list what failed with this error, in the order
	// the errors came.
	Servers []string `json:"servers,omitempty"`
	Zones   []string `json:"zones,omitempty"`
	// Attempts is the most attempts any of them took.
	Attempts int `json:"attempts,omitempty"`
	// Error is the error's text on one line, without the step, zone and
	// server the fields above already say.
	Error string `json:"error"`
}

// String renders the failure on one line: "step s: server fe01: msg",
// "step s: on 20 servers (fe01, fe02, fe03, ...): msg".
func (f Failure) String() string {
	var b strings.Builder
	if f.Step != "" {
		b.WriteString("step " + oneLine(f.Step) + ": ")
	}
	var w string
	switch {
	case len(f.Servers) == 1:
		w = "server " + oneLine(f.Servers[0])
	case len(f.Servers) > 1:
		w = fmt.Sprintf("on %d servers (%s)", len(f.Servers), names(f.Servers))
	case len(f.Zones) == 1:
		w = "zone " + oneLine(f.Zones[0])
	case len(f.Zones) > 1:
		w = fmt.Sprintf("on %d zones (%s)", len(f.Zones), names(f.Zones))
	}
	if f.Attempts > 1 {
		if w != "" {
			w += " "
		}
		w += fmt.Sprintf("(after %d attempts)", f.Attempts)
	}
	if w != "" {
		b.WriteString(w + ": ")
	}
	b.WriteString(f.Error)
	return b.String()
}

// names lists at most five names, then "...".
func names(ns []string) string {
	const most = 5
	out := make([]string, 0, most+1)
	for i, n := range ns {
		if i == most {
			out = append(out, "...")
			break
		}
		out = append(out, oneLine(n))
	}
	return strings.Join(out, ", ")
}

// Failures flattens err into its distinct failures. It walks the error's
// structure, never its text: the lists of github.com/hashicorp/go-multierror
// (how the engine aggregates a fan-out), errors.Join, and the wrapped
// errors of fmt.Errorf; each *farm.StepError gives its step, zone and
// server. Failures of the same step with the same text are merged. nil
// gives nil; an error holding no *farm.StepError gives one Failure of its
// whole text.
func Failures(err error) []Failure {
	if err == nil {
		return nil
	}
	var out []Failure
	for _, l := range leaves(err, nil) {
		out = merge(out, l)
	}
	for i := range out {
		slices.Sort(out[i].Servers)
		slices.Sort(out[i].Zones)
	}
	return out
}

func merge(out []Failure, l Failure) []Failure {
	for i := range out {
		f := &out[i]
		if f.Step == l.Step && generic(*f) == generic(l) && (len(f.Servers) > 0) == (len(l.Servers) > 0) {
			f.Error = generic(*f)
			for _, s := range l.Servers {
				if !slices.Contains(f.Servers, s) {
					f.Servers = append(f.Servers, s)
				}
			}
			for _, z := range l.Zones {
				if !slices.Contains(f.Zones, z) {
					f.Zones = append(f.Zones, z)
				}
			}
			f.Attempts = max(f.Attempts, l.Attempts)
			return out
		}
	}
	return append(out, l)
}

// generic is the failure's text with its server's or zone's name replaced
// by Placeholder, when it concerns one.
func generic(f Failure) string {
	switch {
	case len(f.Servers) == 1:
		return Generalize(f.Error, f.Servers[0])
	case len(f.Zones) == 1:
		return Generalize(f.Error, f.Zones[0])
	}
	return f.Error
}

// leaves returns the failures err holds, each with its step error's place.
func leaves(err error, out []Failure) []Failure {
	// leaves walks the tree level by level (wrapped below): err itself,
	// not the first StepError somewhere inside it.
	if se, ok := err.(*farm.StepError); ok { //nolint:errorlint // see above
		if hasList(se.Err) {
			for _, l := range leaves(se.Err, nil) {
				if l.Step == "" {
					l.Step = se.Step
				}
				out = append(out, l)
			}
			return out
		}
		f := Failure{Step: se.Step, Attempts: se.Attempts, Error: ErrorText(se.Err)}
		switch {
		case se.Server != "":
			f.Servers = []string{se.Server}
		case se.Zone != "":
			f.Zones = []string{se.Zone}
		}
		return append(out, f)
	}
	if list, ok := listOf(err); ok {
		for _, e := range list {
			out = leaves(e, out)
		}
		return out
	}
	// A wrapper around a list ("run halted at step x: %w"): its words
	// are kept by ErrorText; its failures are the list's.
	var withList []error
	for _, w := range wrapped(err) {
		if hasList(w) {
			withList = append(withList, w)
		}
	}
	if len(withList) == 1 {
		return leaves(withList[0], out)
	}
	return append(out, Failure{Error: ErrorText(err)})
}

// isStepError reports whether err itself, not something it wraps, is a
// StepError.
func isStepError(err error) bool {
	_, ok := err.(*farm.StepError) //nolint:errorlint // err itself, see above
	return ok
}

// listOf returns the errors of a list: a go-multierror or an errors.Join
// (whose text is its errors' texts, one per line).
func listOf(err error) ([]error, bool) {
	var me *multierror.Error
	if m, ok := err.(*multierror.Error); ok { //nolint:errorlint // err itself is the list, not something it wraps
		me = m
		return me.Errors, true
	}
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		errs := u.Unwrap()
		texts := make([]string, len(errs))
		for i, e := range errs {
			texts[i] = e.Error()
		}
		if len(errs) > 0 && strings.Join(texts, "\n") == err.Error() {
			return errs, true
		}
	}
	return nil, false
}

func isList(err error) bool {
	_, ok := listOf(err)
	return ok
}

// hasList reports whether a list of errors is somewhere in err's tree.
func hasList(err error) bool {
	if err == nil {
		return false
	}
	if isList(err) {
		return true
	}
	for _, w := range wrapped(err) {
		if hasList(w) {
			return true
		}
	}
	return false
}

func hasListIn(errs []error) bool {
	return slices.ContainsFunc(errs, hasList)
}

// wrapped returns the errors err wraps directly.
func wrapped(err error) []error {
	switch u := err.(type) { //nolint:errorlint // one level of the tree: the point
	case interface{ Unwrap() []error }:
		return u.Unwrap()
	case interface{ Unwrap() error }:
		if w := u.Unwrap(); w != nil {
			return []error{w}
		}
	}
	return nil
}

// ErrorText renders err on one line with each distinct failure said once:
// the text around a list of errors (the "run halted at step x: " a
// fmt.Errorf adds) is kept, and the list itself becomes "N failures: a; b"
// where each failure is a [Failure] (one socket error on 20 servers is
// "on 20 servers (fe01, ...): ..."). nil gives "".
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	return oneLine(render(err))
}

// render is ErrorText before oneLine.
func render(err error) string {
	if isList(err) || isStepError(err) {
		fs := Failures(err)
		if len(fs) == 1 {
			return fs[0].String()
		}
		parts := make([]string, len(fs))
		for i, f := range fs {
			parts[i] = f.String()
		}
		return fmt.Sprintf("%d failures: %s", len(fs), strings.Join(parts, "; "))
	}
	ws := wrapped(err)
	if !hasListIn(ws) {
		return err.Error()
	}
	// Replace the text of each wrapped error that holds a list by its
	// rendering, keeping what the wrapper wrote around it.
	msg := err.Error()
	var b strings.Builder
	for _, w := range ws {
		if !hasList(w) {
			continue
		}
		before, after, found := strings.Cut(msg, w.Error())
		if !found {
			continue
		}
		b.WriteString(before)
		b.WriteString(render(w))
		msg = after
	}
	b.WriteString(msg)
	return b.String()
}

// Placeholder stands for a server's or zone's own name in the text of a
// [Failure] of several: "injected fault on <server>: connection refused" on
// 4 servers is one failure, not four.
const Placeholder = "<server>"

// Generalize replaces each whole-word occurrence of name in text by
// [Placeholder]: errors that differ only by the name of the server they
// concern (a driver that names its host) are then the same error. A word is
// delimited by anything but letters, digits, '-', '_' and '.'.
func Generalize(text, name string) string {
	if name == "" {
		return text
	}
	word := func(b byte) bool {
		return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.'
	}
	var b strings.Builder
	for {
		i := strings.Index(text, name)
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		end := i + len(name)
		// A trailing '.' ends a sentence, not a name.
		whole := (i == 0 || !word(text[i-1])) && (end == len(text) || !word(text[end]) || text[end] == '.' && (end+1 == len(text) || !word(text[end+1])))
		b.WriteString(text[:i])
		if whole {
			b.WriteString(Placeholder)
		} else {
			b.WriteString(name)
		}
		text = text[end:]
	}
}

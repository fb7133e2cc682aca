// Package names holds, once, the rules for the names and texts that the
// engine prints in a runbook, sends to a driver or writes to a journal:
// server and zone names, load-balancer members and addresses, release
// versions and notes, and the check that a name is used only once.
//
// Package farm (farm.New), package simulate (simulate.New), package steps
// (steps.Balanced) and package spec (a spec file, with its line numbers) all
// call these functions, so a name one of them accepts is accepted by all of
// them, and each refusal reads the same.
//
// Every function returns a plain error naming the value (quoted with %q, so
// that a control character or an ANSI escape prints as an escape, never raw)
// and what was expected; the caller wraps it with its own sentinel
// (farm.ErrInvalidFarm, drivers.ErrInvalidArgument, ...). The package imports
// only the standard library.
package names

import (
	"fmt"
	"regexp"
	"unicode"
	"unicode/utf8"
)

// MaxName is the longest server or zone name, in bytes.
const MaxName = 128

// MaxText is the longest release version, application name or version, in
// bytes; MaxNotes the longest release notes.
const (
	MaxText  = 256
	MaxNotes = 4096
)

var (
	// nameRE: a letter or digit, then letters, digits, '.', '-', '_'. The
	// set is safe in PowerShell, a HAProxy socket command and a file name.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	// memberRE allows what load balancers use as member identities: names,
	// host:port pairs, IPv6 literals in brackets, ARNs.
	memberRE = regexp.MustCompile(`^[A-Za-z0-9\[][A-Za-z0-9._:/\[\]-]{0,254}$`)
)

// Name checks a server or zone name: 1 to [MaxName] letters, digits, '.', '-'
// or '_', starting with a letter or digit. what names the value in the error
// ("server name", "zone name").
func Name(what, s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%s %q: want 1-%d letters, digits, '.', '-' or '_', starting with a letter or digit", what, s, MaxName)
	}
	return nil
}

// Member checks a load-balancer member identity (a HAProxy server name, an F5
// "node:port", an ALB target id or ARN): letters, digits and . _ : / - [ ],
// starting with a letter, a digit or '[', at most 255 bytes.
func Member(what, s string) error {
	if !memberRE.MatchString(s) {
		return fmt.Errorf("%s %q: want letters, digits and . _ : / - [ ] only", what, s)
	}
	return nil
}

// Address checks a host name or IP address (an IPv6 literal may be in
// brackets), as drivers connect to it.
func Address(what, s string) error {
	if !memberRE.MatchString(s) {
		return fmt.Errorf("%s %q: want a host name or IP address", what, s)
	}
	return nil
}

// Text checks text that is printed in the runbook or sent to the platform (a
// release version, an application name or version): valid UTF-8, on one
// line, with no control character (no ANSI escape, no carriage return, no
// tab), no Unicode bidirectional override and no line separator, and at most
// [MaxText] bytes. Empty text passes: the caller decides whether it is
// required.
func Text(what, s string) error { return text(what, s, MaxText) }

// Notes is [Text] for release notes, which may be up to [MaxNotes] bytes.
func Notes(what, s string) error { return text(what, s, MaxNotes) }

func text(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s of %d bytes: want at most %d", what, len(s), max)
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Errorf("%s %q: invalid UTF-8 at byte %d: want printable text on one line", what, s, i)
			}
		}
		if bad(r) {
			return fmt.Errorf("%s %q: holds %U at byte %d: want printable text on one line, without control characters", what, s, r, i)
		}
	}
	return nil
}

// bad reports a rune that can rewrite what a terminal or a change ticket
// shows: C0 and C1 controls (ESC starts ANSI sequences; CR, LF and tab break
// lines), DEL, bidirectional embeddings, overrides and isolates (U+202A to
// U+202E, U+2066 to U+2069, the "Trojan Source" characters), and the line
// and paragraph separators U+2028 and U+2029.
func bad(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x2028, r == 0x2029, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

// Unique records names in the order they are met, with where each was first
// met (an index, a line, a zone), and reports a name met again. The zero
// value is ready to use.
type Unique[P any] struct {
	first map[string]P
}

// Add records name at place. If name was added before, it records nothing and
// returns the first place with dup true.
func (u *Unique[P]) Add(name string, place P) (first P, dup bool) {
	if u.first == nil {
		u.first = map[string]P{}
	}
	if p, ok := u.first[name]; ok {
		return p, true
	}
	u.first[name] = place
	return place, false
}

// Has reports whether name was added.
func (u *Unique[P]) Has(name string) bool {
	_, ok := u.first[name]
	return ok
}

// Twice is the error for a name used more than once: what is the kind of
// name ("server name", "zone"), first says where it was first used (empty
// when there is nothing useful to say).
func Twice(what, name, first string) error {
	if first != "" {
		return fmt.Errorf("%s %s is used twice (first %s): want each used once", what, name, first)
	}
	return fmt.Errorf("%s %s is used twice: want each used once", what, name)
}

package farm

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// errorLine renders err on one line, for what is stored or read by
// programs: the journal's records (a resumed run's last error), the
// report's Error fields (the JSON report) and the error attribute of the
// engine's structured logs. err.Error() keeps go-multierror's list, one
// "\t* " line per error (FormatErrors), for people; here each list in err's
// tree becomes "2 errors occurred: a; b", capped like FormatErrors after
// MaxListedErrors entries ("; and 1,990 more servers"), and an errors.Join
// becomes "a; b". Words around a list ("step x: ") are kept. nil gives "".
func errorLine(err error) string {
	if err == nil {
		return ""
	}
	text := err.Error()
	// One level of the tree at a time: err itself, not the first list it
	// wraps somewhere.
	switch x := err.(type) { //nolint:errorlint // see above
	case *multierror.Error:
		return listLine(x.Errors)
	case interface{ Unwrap() []error }:
		errs := x.Unwrap()
		texts := make([]string, len(errs))
		lines := make([]string, len(errs))
		for i, e := range errs {
			texts[i], lines[i] = e.Error(), errorLine(e)
		}
		if strings.Join(texts, "\n") == text { // errors.Join
			return strings.Join(lines, "; ")
		}
		for i := range errs { // fmt.Errorf with several %w
			text = strings.Replace(text, texts[i], lines[i], 1)
		}
	case interface{ Unwrap() error }:
		if w := x.Unwrap(); w != nil {
			text = strings.Replace(text, w.Error(), errorLine(w), 1)
		}
	}
	return flatten(text)
}

// listLine is FormatErrors on one line.
func listLine(es []error) string {
	var b strings.Builder
	if len(es) == 1 {
		b.WriteString("1 error occurred: ")
	} else {
		fmt.Fprintf(&b, "%d errors occurred: ", len(es))
	}
	for i, err := range es[:min(len(es), MaxListedErrors)] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(errorLine(err))
	}
	if more := len(es) - MaxListedErrors; more > 0 {
		fmt.Fprintf(&b, "; and %s more %s", thousands(more), moreNoun(es[MaxListedErrors:]))
	}
	return b.String()
}

// flatten joins the lines of a text that is still on several (an error
// quoting a command's output) with "; ".
func flatten(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var parts []string
	for l := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

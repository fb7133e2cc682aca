package winrm

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// winService is one Win32_Service as the scripts print it.
type winService struct {
	Name             string `json:"Name"`
	DisplayName      string `json:"DisplayName"`
	State            string `json:"State"`
	StartMode        string `json:"StartMode"`
	DelayedAutoStart *bool  `json:"DelayedAutoStart"`
}

// errNotFound and errAmbiguous are what parseOutput reports for the markers.
var (
	errNoService = errors.New("no Windows service has this name or display name")
	errAmbiguous = errors.New("several Windows services match this name (one by name, another by display name)")
)

// parseOutput reads a script's stdout strictly: the not-found and ambiguous
// markers win; otherwise exactly one state line must be present, holding
// exactly one JSON object with known fields, a known State and a known
// StartMode. Lines without a marker (stray host output) are ignored.
func parseOutput(stdout string) (drivers.ServiceState, error) {
	var states []string
	for _, line := range strings.Split(stdout, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == markerNotFound:
			return drivers.ServiceState{}, errNoService
		case line == markerAmbiguous:
			return drivers.ServiceState{}, errAmbiguous
		case strings.HasPrefix(line, markerState):
			states = append(states, strings.TrimPrefix(line, markerState))
		}
	}
	if len(states) != 1 {
		return drivers.ServiceState{}, fmt.Errorf("script output has %d state lines; want exactly 1", len(states))
	}
	return parseServiceJSON(states[0])
}

// parseServiceJSON decodes one Win32_Service JSON object.
func parseServiceJSON(doc string) (drivers.ServiceState, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	var ws winService
	if !strings.HasPrefix(strings.TrimSpace(doc), "{") {
		return drivers.ServiceState{}, fmt.Errorf("service state %.80q is not a JSON object", doc)
	}
	if err := dec.Decode(&ws); err != nil {
		return drivers.ServiceState{}, fmt.Errorf("service state %.80q: %w", doc, err)
	}
	if dec.More() {
		return drivers.ServiceState{}, fmt.Errorf("service state %.80q has data after the object", doc)
	}
	if ws.Name == "" {
		return drivers.ServiceState{}, fmt.Errorf("service state %.80q has no Name", doc)
	}
	var st drivers.ServiceState
	switch ws.State {
	case "Running":
		st.Run = drivers.Running
	case "Stopped":
		st.Run = drivers.Stopped
	case "Start Pending":
		st.Run = drivers.StartPending
	case "Stop Pending":
		st.Run = drivers.StopPending
	default:
		return drivers.ServiceState{}, fmt.Errorf("service %q has State %q; want Running, Stopped, Start Pending or Stop Pending", ws.Name, ws.State)
	}
	switch ws.StartMode {
	case "Auto":
		st.Startup = drivers.Automatic
		if ws.DelayedAutoStart != nil && *ws.DelayedAutoStart {
			st.Startup = drivers.AutomaticDelayedStart
		}
	case "Manual":
		st.Startup = drivers.Manual
	case "Disabled":
		st.Startup = drivers.Disabled
	default:
		return drivers.ServiceState{}, fmt.Errorf("service %q has StartMode %q; want Auto, Manual or Disabled", ws.Name, ws.StartMode)
	}
	return st, nil
}

// clixmlEscape matches PowerShell's _xHHHH_ escapes in CLIXML strings.
var clixmlEscape = regexp.MustCompile(`_x([0-9A-Fa-f]{4})_`)

// readableStderr turns PowerShell's stderr into plain text: a "#< CLIXML"
// document is reduced to its error-stream strings, plain text is kept. The
// result is trimmed and cut to a length fit for an error message.
func readableStderr(stderr string) string {
	const limit = 600
	text := stderr
	if rest, ok := strings.CutPrefix(strings.TrimLeft(stderr, "\r\n "), "#< CLIXML"); ok {
		text = decodeCLIXML(rest)
	}
	text = strings.Join(strings.Fields(text), " ")
	if len(text) > limit {
		text = text[:limit] + "..."
	}
	return text
}

func decodeCLIXML(doc string) string {
	dec := xml.NewDecoder(bytes.NewReader([]byte(doc)))
	var out []string
	inError := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			inError = false
			if tk.Name.Local == "S" {
				for _, a := range tk.Attr {
					if a.Name.Local == "S" && a.Value == "Error" {
						inError = true
					}
				}
			}
		case xml.CharData:
			if inError {
				out = append(out, clixmlEscape.ReplaceAllStringFunc(string(tk), func(m string) string {
					n, _ := strconv.ParseUint(m[2:6], 16, 32)
					return string(rune(n))
				}))
			}
		case xml.EndElement:
			inError = false
		}
	}
	if len(out) == 0 {
		return doc
	}
	return strings.Join(out, "")
}

// deniedPhrases mark a PowerShell error as a missing right.
var deniedPhrases = []string{"access is denied", "permissiondenied", "unauthorizedaccess"}

func isAccessDenied(text string) bool {
	lower := strings.ToLower(text)
	for _, p := range deniedPhrases {
		if strings.Contains(lower, p) {
			return true
		}
	}
	return false
}

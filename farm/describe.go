package farm

import (
	"fmt"
	"io"
	"strings"
)

// Describe writes the runbook of the plan as plain text: the farm zone by
// zone, then every step with, per zone, the real servers, services and
// members it touches and the hooks attached. It is the runbook's "annotate
// the procedure with the actual machine names", done before anything runs.
func (p *Plan) Describe(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("Plan: %d steps over %d servers in %d zone(s)\n\n", len(p.steps), len(p.farm.byName), len(p.farm.zones))
	for _, z := range p.farm.zones {
		ew.printf("Zone %s\n", z.Name)
		ew.printf("  Updating: %s\n", serverList(z.Updating.Servers))
		ew.printf("  Loaded:   %s\n", serverList(z.Loaded.Servers))
	}
	ew.printf("\n")
	for i, s := range p.steps {
		ew.printf("%2d. %s: %s\n", i, s.ID, s.Title)
		for _, h := range p.before[s.ID] {
			ew.printf("      before: hook %s\n", h.Name)
		}
		if s.Describe != nil {
			for _, z := range p.farm.zones {
				for _, line := range s.Describe(z) {
					ew.printf("      [%s] %s\n", z.Name, line)
				}
			}
		}
		for _, h := range p.after[s.ID] {
			ew.printf("      after: hook %s\n", h.Name)
		}
	}
	return ew.err
}

func serverList(servers []Server) string {
	parts := make([]string, len(servers))
	for i, s := range servers {
		parts[i] = s.Name
		var notes []string
		if s.MemberID() != s.Name {
			notes = append(notes, "member "+s.MemberID())
		}
		if s.DeploymentController {
			notes = append(notes, "Deployment Controller")
		}
		if len(notes) > 0 {
			parts[i] += fmt.Sprintf(" (%s)", strings.Join(notes, ", "))
		}
	}
	return strings.Join(parts, ", ")
}

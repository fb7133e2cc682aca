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
	title := "Plan"
	if p.cfg.Label != "" {
		title += " (" + p.cfg.Label + ")"
	}
	ew.printf("%s: %d steps over %d servers in %d zone(s)\n\n", title, len(p.steps), len(p.farm.byName), len(p.farm.zones))
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

// DescribeMarkdown writes the same runbook as [Plan.Describe] as Markdown:
// a table of the farm's zones, then a numbered checklist of steps with, per
// zone, what each touches. Operators paste it into a change ticket.
func (p *Plan) DescribeMarkdown(w io.Writer) error {
	ew := &errWriter{w: w}
	title := "Balanced deployment"
	if p.cfg.Label != "" {
		title += ": " + p.cfg.Label
	}
	ew.printf("# %s\n\n", mdEscape(title))
	ew.printf("%d steps over %d servers in %d zone(s). Plan ID `%s`.\n\n", len(p.steps), len(p.farm.byName), len(p.farm.zones), p.planID())
	ew.printf("| zone | Updating | Loaded |\n| --- | --- | --- |\n")
	for _, z := range p.farm.zones {
		ew.printf("| %s | %s | %s |\n", mdEscape(z.Name), mdEscape(serverList(z.Updating.Servers)), mdEscape(serverList(z.Loaded.Servers)))
	}
	ew.printf("\n## Steps\n\n")
	for i, s := range p.steps {
		ew.printf("%d. [ ] **%s**: %s\n", i+1, mdEscape(s.ID), mdEscape(s.Title))
		for _, h := range p.before[s.ID] {
			ew.printf("    - before: hook `%s`\n", h.Name)
		}
		if s.Describe != nil {
			for _, z := range p.farm.zones {
				for _, line := range s.Describe(z) {
					ew.printf("    - %s: %s\n", mdEscape(z.Name), mdEscape(line))
				}
			}
		}
		for _, h := range p.after[s.ID] {
			ew.printf("    - after: hook `%s`\n", h.Name)
		}
	}
	return ew.err
}

// mdEscape escapes the characters that Markdown tables and emphasis treat
// specially.
func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "*", "\\*", "_", "\\_", "`", "\\`", "<", "&lt;", ">", "&gt;").Replace(s)
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

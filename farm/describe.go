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
	ew.printf("\n%s\n\n", p.orderLine())
	for i, s := range p.steps {
		ew.printf("%2d. %s: %s\n", i, s.ID, s.Title)
		if beside := p.beside(i); len(beside) > 0 {
			ew.printf("      runs at the same time as: %s\n", strings.Join(beside, ", "))
		}
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
	ew.printf("\n## Steps\n\n%s\n\n", mdEscape(p.orderLine()))
	for i, s := range p.steps {
		ew.printf("%d. [ ] **%s**: %s\n", i+1, mdEscape(s.ID), mdEscape(s.Title))
		if beside := p.beside(i); len(beside) > 0 {
			ew.printf("    - runs at the same time as: %s\n", mdEscape(strings.Join(beside, ", ")))
		}
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

// orderLine says how the steps are ordered.
func (p *Plan) orderLine() string {
	if p.cfg.StrictOrder {
		return "Steps run one at a time, in this order (strict order)."
	}
	return "Each step starts once the steps it needs are done; steps that do not need each other run at the same time."
}

// beside returns the IDs of the steps that may run at the same time as
// step i: those that neither need it nor are needed by it, directly or
// through other steps. None with PlanConfig.StrictOrder.
func (p *Plan) beside(i int) []string {
	if p.cfg.StrictOrder {
		return nil
	}
	before := p.ancestors()
	var out []string
	for j, s := range p.steps {
		if j != i && !before[i][j] && !before[j][i] {
			out = append(out, s.ID)
		}
	}
	return out
}

// ancestors returns, for each step, the set of steps (by index) that must
// be done before it starts, directly or through other steps.
func (p *Plan) ancestors() []map[int]bool {
	anc := make([]map[int]bool, len(p.steps))
	for i, s := range p.steps {
		anc[i] = map[int]bool{}
		for _, id := range s.Needs {
			if j := p.index(id); j >= 0 && j < i {
				anc[i][j] = true
				for k := range anc[j] {
					anc[i][k] = true
				}
			}
		}
	}
	return anc
}

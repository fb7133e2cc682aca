package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/journal"
)

// statusSpec is status given a spec: the journal's last run, the locks
// (host lock and farm lease), and with -live the live farm.
func (c *cli) statusSpec(ctx context.Context, o *options, path string) int {
	if o.json {
		c.errorf("status -json takes a journal path; the locks and -live of status <spec> are printed as text only")
		return exitUsage
	}
	h, ok := c.openFarm(ctx, path, o, o.live)
	if !ok {
		return exitUsage
	}
	code := exitOK
	var last journal.State
	unfinished := false
	switch _, err := os.Stat(h.sp.Journal); {
	case h.sp.Journal == "":
		fmt.Fprintf(c.stdout, "%-12s %s\n", "journal:", "(none in the spec: runs cannot be resumed)")
	case err != nil:
		fmt.Fprintf(c.stdout, "%-12s %s (no run recorded yet)\n", "journal:", h.sp.Journal)
	default:
		code = c.statusJournal(o, h.sp.Journal)
		if recs, err := journal.ReadLastRun(h.sp.Journal); err == nil {
			if st, ok, _ := journal.LastRunOf(recs); ok {
				last, unfinished = st, st.Unfinished()
			}
		}
	}
	c.printLocks(ctx, c.stdout, h)
	if o.live {
		if lc := c.printLive(ctx, c.stdout, h, last, unfinished); lc != exitOK && code == exitOK {
			code = lc
		}
	}
	return code
}

// serverLive is what the live farm says of one server.
type serverLive struct {
	srv      farm.Server
	member   drivers.MemberStatus
	hasMem   bool
	probe    drivers.ProbeResult
	probeErr error
	services map[drivers.Service]drivers.ServiceState
	svcErr   error
}

// liveWorkers bounds the servers read at once.
const liveWorkers = 16

// printLive reads the live farm, zone by zone: each member's state in its
// load balancer, the version each server serves, its services' state; and
// says at once when both groups of a zone serve (a run interrupted in the
// middle of a switch), with the command that puts it right. It changes
// nothing. Its code is exitFailed when a zone is in a state no finished run
// leaves (both groups serving, or no member serving).
func (c *cli) printLive(ctx context.Context, w io.Writer, h *farmHandle, last journal.State, unfinished bool) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	fmt.Fprintf(w, "\nlive farm (read %s):\n", time.Now().UTC().Format(time.RFC3339))
	code := exitOK
	for _, z := range h.farm.Zones() {
		servers := z.Servers()
		members := make([]string, len(servers))
		for i, s := range servers {
			members[i] = s.MemberID()
		}
		sts, lbErr := z.LoadBalancer.Status(ctx, members...)
		byMember := map[string]drivers.MemberStatus{}
		for _, st := range sts {
			byMember[st.Member] = st
		}
		live := make([]serverLive, len(servers))
		var wg sync.WaitGroup
		sem := make(chan struct{}, liveWorkers)
		for i, s := range servers {
			live[i].srv = s
			live[i].member, live[i].hasMem = byMember[s.MemberID()]
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				c.readServer(ctx, h, &live[i])
			})
		}
		wg.Wait()
		fmt.Fprintf(w, "zone %s:\n", z.Name)
		if lbErr != nil {
			fmt.Fprintf(w, "  load balancer: unreadable: %v\n", lbErr)
		}
		serving := map[farm.GroupRole][]string{}
		versions := map[farm.GroupRole][]string{}
		for _, g := range []farm.Group{z.Updating, z.Loaded} {
			for i, s := range g.Servers {
				label := ""
				if i == 0 {
					label = string(g.Role) + ":"
				}
				l := live[slices.IndexFunc(live, func(x serverLive) bool { return x.srv.Name == s.Name })]
				fmt.Fprintf(w, "  %-9s %s\n", label, l.line())
				if l.hasMem && l.member.State == drivers.Serving {
					serving[g.Role] = append(serving[g.Role], s.Name)
					if v := l.probe.Version; v != "" && !slices.Contains(versions[g.Role], v) {
						versions[g.Role] = append(versions[g.Role], v)
					}
				}
			}
		}
		u, ld := serving[farm.Updating], serving[farm.Loaded]
		resume := "balancedctl resume " + h.sp.Source
		switch {
		case lbErr != nil:
			code = exitFailed
		case len(u) > 0 && len(ld) > 0 && !(len(versions[farm.Updating]) <= 1 && slices.Equal(versions[farm.Updating], versions[farm.Loaded])):
			code = exitFailed
			fmt.Fprintf(w, "  ! BOTH GROUPS SERVING: updating (%s: %s) and loaded (%s: %s): users may get either version.\n",
				strings.Join(u, ", "), orUnknownVersion(versions[farm.Updating]), strings.Join(ld, ", "), orUnknownVersion(versions[farm.Loaded]))
			if unfinished {
				fmt.Fprintf(w, "    The journal's last run (%s) did not finish (resume from %s): %s puts it right (its steps are idempotent: the switch is done again, then the run goes on).\n", last.Label, last.ResumeFrom, resume)
			} else {
				fmt.Fprintf(w, "    No unfinished run is recorded: take one group out of traffic with the load balancer's own tools (drain, then out) so that one version serves.\n")
			}
		case len(u) == 0 && len(ld) == 0:
			code = exitFailed
			fmt.Fprintf(w, "  ! NO MEMBER SERVING: the zone takes no traffic.")
			if unfinished {
				fmt.Fprintf(w, " %s puts it right.\n", resume)
			} else {
				fmt.Fprintf(w, " Put the members that run the current release back with the load balancer's own tools.\n")
			}
		case len(u) > 0 && len(ld) > 0:
			fmt.Fprintf(w, "  serving:  both groups, one version (%s): no run in progress here\n", orUnknownVersion(versions[farm.Updating]))
		case len(u) > 0:
			fmt.Fprintf(w, "  serving:  the updating group only (%s)\n", orUnknownVersion(versions[farm.Updating]))
		default:
			fmt.Fprintf(w, "  serving:  the loaded group only (%s)\n", orUnknownVersion(versions[farm.Loaded]))
		}
	}
	return code
}

func orUnknownVersion(vs []string) string {
	if len(vs) == 0 {
		return "version unknown"
	}
	return "version " + strings.Join(vs, " and ")
}

// readServer probes the server and reads its services' state.
func (c *cli) readServer(ctx context.Context, h *farmHandle, l *serverLive) {
	t := l.srv.Target()
	l.probe, l.probeErr = h.prober.Probe(ctx, t)
	svcs := []drivers.Service{drivers.SchedulerService, drivers.DeploymentService}
	if l.srv.DeploymentController {
		svcs = append(svcs, drivers.DeploymentControllerService)
	}
	l.services = map[drivers.Service]drivers.ServiceState{}
	for _, svc := range svcs {
		st, err := h.services.ServiceState(ctx, t, svc)
		if err != nil {
			l.svcErr = fmt.Errorf("%s: %w", svc, err)
			return
		}
		l.services[svc] = st
	}
}

// line renders one server: member state and health, version, services.
func (l serverLive) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s", l.srv.Name)
	if l.hasMem {
		fmt.Fprintf(&b, " %-8s %-9s", l.member.State, l.member.Health)
	} else {
		b.WriteString(" member not reported")
	}
	switch {
	case l.probeErr != nil:
		fmt.Fprintf(&b, " probe failed: %v", l.probeErr)
	case l.probe.Version != "":
		fmt.Fprintf(&b, " serves %s", l.probe.Version)
		if !l.probe.Healthy {
			b.WriteString(" (unhealthy)")
		}
	default:
		fmt.Fprintf(&b, " version unknown (healthy %v)", l.probe.Healthy)
	}
	if l.svcErr != nil {
		fmt.Fprintf(&b, "; services unreadable: %v", l.svcErr)
		return b.String()
	}
	for _, svc := range []drivers.Service{drivers.SchedulerService, drivers.DeploymentService, drivers.DeploymentControllerService} {
		if st, ok := l.services[svc]; ok {
			fmt.Fprintf(&b, "; %s %s/%s", svc, st.Run, st.Startup)
		}
	}
	return b.String()
}

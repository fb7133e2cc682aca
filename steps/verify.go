package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// The probes of a release. A release of several applications is installed
// on each front-end one application at a time, so that one probe sees one
// application only: Config.Probes lists each application with its own path
// and expected version, and every check below (preflight, publish's wait
// for the Updating servers, verify-updating, await-loaded, a rollback's
// checks) probes every application on every server. No documented API of
// OutSystems reports the Deployment service's work on a front-end (the
// runbook's "wait until the status of all threads is Idle or Sleeping" is
// read on Service Center's Monitoring > Environment Health page; LifeTime
// API v2 has no endpoint for it): the per-application probes, and
// Config.QuietPeriod after they agree, are the readiness signal, with a
// drivers.IdleReporter's answer on top where a driver has one.

// probeList returns the probes of the release: Config.Probes, or one probe
// of the Prober's own path expecting Release.Version.
func (b *balanced) probeList() []drivers.ApplicationProbe {
	if len(b.cfg.Probes) > 0 {
		return b.cfg.Probes
	}
	return []drivers.ApplicationProbe{{Version: b.cfg.Release.Version}}
}

// probe calls one probe of the release on s: the Prober's own probe for
// the single probe of a release without Config.Probes.
func (b *balanced) probe(ctx context.Context, s farm.Server, p drivers.ApplicationProbe) (drivers.ProbeResult, error) {
	if p.Application == "" {
		res, err := b.cfg.Prober.Probe(ctx, s.Target())
		if err != nil {
			return res, fmt.Errorf("probe: %w", err)
		}
		return res, nil
	}
	res, err := b.cfg.Prober.(drivers.ApplicationProber).ProbeApplication(ctx, s.Target(), p)
	if err != nil {
		return res, fmt.Errorf("probe application %s: %w", p.Application, err)
	}
	return res, nil
}

// appLabel names a probe's application in messages ("" for the single
// probe).
func appLabel(p drivers.ApplicationProbe) string {
	if p.Application == "" {
		return ""
	}
	return " application " + p.Application
}

// versionKey is the key of farm.Captured under which preflight keeps the
// version probe p read on server (the single probe keeps the key of
// earlier journals).
func versionKey(server string, p drivers.ApplicationProbe) string {
	if p.Application == "" {
		return "version/" + server
	}
	return "version/" + server + "/" + p.Application
}

// releaseCheck is what one round of a server's probes found.
type releaseCheck struct {
	ok    bool     // every application healthy at its expected version
	why   []string // for each one that is not
	print string   // every answer, to see a change during QuietPeriod
}

// onRelease probes every application of the release on s and reports
// whether each serves its expected version healthily, and why not. An
// error is a probe that could not be made.
func (b *balanced) onRelease(ctx context.Context, s farm.Server) (releaseCheck, error) {
	c := releaseCheck{ok: true}
	var print strings.Builder
	for _, p := range b.probeList() {
		res, err := b.probe(ctx, s, p)
		if err != nil {
			return releaseCheck{}, err
		}
		fmt.Fprintf(&print, "%s=%t/%d/%q;", p.Application, res.Healthy, res.StatusCode, res.Version)
		want := p.Version
		if b.want != nil {
			want = b.want(s.Name, p)
		}
		switch {
		case !res.Healthy:
			detail := res.Detail
			if detail == "" {
				detail = "unhealthy"
			}
			c.ok = false
			c.why = append(c.why, fmt.Sprintf("%s%s: status %d, %s", s.Name, appLabel(p), res.StatusCode, detail))
		case res.Version != want:
			c.ok = false
			c.why = append(c.why, fmt.Sprintf("%s%s serves version %q, want %q", s.Name, appLabel(p), res.Version, want))
		}
	}
	c.print = print.String()
	return c, nil
}

func (b *balanced) verifyUpdating() farm.Step {
	return farm.Step{
		ID:         VerifyUpdating,
		Excludable: true,
		Title:      "Test the application directly on each Updating server: available and updated",
		Describe: func(z *farm.Zone) []string {
			var lines []string
			for _, s := range z.Updating.Servers {
				for _, p := range b.probeList() {
					where := orNone(drivers.RedactURL(s.ProbeURL))
					if p.Path != "" {
						where += " path " + p.Path
					}
					lines = append(lines, fmt.Sprintf("probe %s%s at %s: want healthy, version %s", s.Name, appLabel(p), where, p.Version))
				}
			}
			return lines
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return r.ForEachServer(ctx, groupServers(r.Farm(), farm.Updating), func(ctx context.Context, s farm.Server) error {
				c, err := b.onRelease(ctx, s)
				if err != nil {
					return err
				}
				if !c.ok {
					return fmt.Errorf("verification failed: %s", strings.Join(c.why, "; "))
				}
				return nil
			})
		},
	}
}

func orNone(s string) string {
	if s == "" {
		return "(no probe URL)"
	}
	return s
}

func (b *balanced) awaitLoaded() farm.Step {
	return farm.Step{
		ID:         AwaitLoaded,
		Excludable: true,
		Title:      "Wait until every Loaded server runs the release (and, where a driver can tell, its deployment service is idle)",
		Describe: func(z *farm.Zone) []string {
			what := b.cfg.Release.Version
			if len(b.cfg.Probes) > 0 {
				var apps []string
				for _, p := range b.cfg.Probes {
					apps = append(apps, p.Application+" "+p.Version)
				}
				what = strings.Join(apps, ", ")
			}
			line := fmt.Sprintf("wait for %s to serve %s", names(z.Loaded.Servers), what)
			if b.cfg.QuietPeriod > 0 {
				line += fmt.Sprintf(", then %s with no change", b.cfg.QuietPeriod)
			}
			return []string{line}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			if err := b.unblock(ctx, r, farm.Loaded); err != nil {
				return err
			}
			return b.awaitRelease(ctx, r, groupServers(r.Farm(), farm.Loaded), true)
		},
	}
}

// allOnRelease reports whether every server already serves the release.
func (b *balanced) allOnRelease(ctx context.Context, r *farm.Run, servers []farm.Server) bool {
	var mu sync.Mutex
	all := true
	_ = r.Each(ctx, servers, func(ctx context.Context, s farm.Server) error {
		c, err := b.onRelease(ctx, s)
		mu.Lock()
		defer mu.Unlock()
		all = all && c.ok && err == nil
		return nil
	})
	return all
}

// awaitRelease polls the servers until every one serves the release (every
// application at its expected version; with idle set, its deployment
// service idle where a driver can tell) and has kept answering the same for
// QuietPeriod, at most InstallTimeout. Transient probe errors count as not
// yet.
func (b *balanced) awaitRelease(ctx context.Context, r *farm.Run, servers []farm.Server, idle bool) error {
	var idler drivers.IdleReporter
	if idle {
		if ir, ok := b.cfg.Services.(drivers.IdleReporter); ok {
			idler = ir
		} else if ir, ok := b.cfg.Platform.(drivers.IdleReporter); ok {
			idler = platformIdle{r, ir}
		}
	}
	wctx, cancel := context.WithTimeout(ctx, b.cfg.InstallTimeout)
	defer cancel()
	pending := slices.Clone(servers)
	why := map[string]string{}
	// agreed holds, for each server whose probes all agree, since when and
	// what they answered: a change starts QuietPeriod again.
	type agreement struct {
		since time.Time
		print string
	}
	agreed := map[string]agreement{}
	// The probes are cheap: they are asked every PollInterval (when it is
	// shorter), so the wait ends within one PollInterval of the install.
	// The deployment service's idleness, which may be a platform call, is
	// asked at most every DeployPollInterval per server, as before.
	idleAsked := map[string]time.Time{}
	idleWas := map[string]bool{}
	var mu sync.Mutex
	err := r.Poll(wctx, min(b.cfg.PollInterval, b.cfg.DeployPollInterval), b.cfg.ProgressInterval, "", func(ctx context.Context) (bool, event.Event, error) {
		var still []farm.Server
		err := r.Each(ctx, pending, func(ctx context.Context, s farm.Server) error {
			c, err := b.onRelease(ctx, s)
			reason := strings.Join(c.why, "; ")
			if err == nil && c.ok && idler != nil {
				mu.Lock()
				last, asked := idleAsked[s.Name]
				was := idleWas[s.Name]
				mu.Unlock()
				if !asked || time.Since(last) >= b.cfg.DeployPollInterval {
					c.ok, err = idler.DeploymentIdle(ctx, s.Target())
					mu.Lock()
					idleAsked[s.Name], idleWas[s.Name] = time.Now(), c.ok && err == nil
					mu.Unlock()
				} else {
					c.ok = was
				}
				reason = s.Name + ": deployment service busy"
			}
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && !drivers.IsRetryable(err):
				return &farm.StepError{Step: r.StepID(), Zone: s.Zone, Server: s.Name, Err: err}
			case err != nil:
				delete(agreed, s.Name)
				why[s.Name] = s.Name + ": " + err.Error()
				still = append(still, s)
			case !c.ok:
				delete(agreed, s.Name)
				why[s.Name] = reason
				still = append(still, s)
			default:
				a, ok := agreed[s.Name]
				if !ok || a.print != c.print {
					a = agreement{since: now, print: c.print}
					agreed[s.Name] = a
				}
				if quiet := now.Sub(a.since); quiet < b.cfg.QuietPeriod {
					why[s.Name] = fmt.Sprintf("%s: every probe agrees, quiet for %s of %s", s.Name, quiet.Round(time.Second), b.cfg.QuietPeriod)
					still = append(still, s)
				}
			}
			return nil
		})
		if err != nil {
			return false, event.Event{}, err
		}
		slices.SortFunc(still, func(a, b farm.Server) int { return strings.Compare(a.Name, b.Name) })
		pending = still
		return len(pending) == 0, event.Event{Done: len(servers) - len(pending), Total: len(servers),
			Message: fmt.Sprintf("%d of %d servers run %s", len(servers)-len(pending), len(servers), b.cfg.Release.Version)}, nil
	})
	if err != nil && (ctx.Err() != nil || wctx.Err() == nil || len(pending) == 0) {
		return err // cancelled, or a probe failed for good
	}
	if err != nil {
		// Timed out: one error per server not ready, so that callers (and
		// an Ask decision to exclude) know which servers failed. Each
		// wraps the deadline, not err (the last poll's errors of every
		// server: 2000 servers gave 2000 copies of each other).
		merr := &multierror.Error{ErrorFormat: farm.FormatErrors}
		for _, s := range pending {
			merr = multierror.Append(merr, &farm.StepError{Step: r.StepID(), Zone: s.Zone, Server: s.Name,
				Err: fmt.Errorf("not running %s after %s: %s: %w", b.cfg.Release.Version, b.cfg.InstallTimeout, why[s.Name], wctx.Err())})
		}
		return merr.ErrorOrNil()
	}
	return nil
}

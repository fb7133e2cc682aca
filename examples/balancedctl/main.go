// Command balancedctl runs a balanced application deployment described by a
// farm spec file (package spec): it prints the runbook, checks the farm, runs
// the deployment with live progress, resumes a run that stopped, and reads a
// run's journal.
//
// It is an example of the library in use, kept small: every command is a few
// calls to packages spec, farm and progress.
//
// # Usage
//
//	balancedctl plan <spec.yaml> [-markdown] [-release V]  print the runbook with the farm's real names (needs no secret)
//	balancedctl preflight <spec.yaml> [-json]              run only the preflight step: every driver reachable, state readable
//	balancedctl run <spec.yaml> [-yes] [-json] [-release V] show the plan, ask, and run the deployment
//	balancedctl resume <spec.yaml> [-json] [-v]            continue the run recorded in the spec's journal
//	balancedctl status <journal> [-json]                   say how the last run in a journal ended and where it would resume
//	balancedctl timeline <events.jsonl> [-o timeline.svg]  draw a run's timeline from its -json or -events output
//	balancedctl status <spec.yaml> [-live]                 the same for the spec's journal, who holds the farm's locks, and with
//	                                                       -live the live farm: members per group and zone, versions, services
//	balancedctl unlock <spec.yaml> -force <run-id>         remove the farm lease of a run whose orchestrator is gone
//	balancedctl version                                    print the module version balancedctl was built from
//	balancedctl help [command]                             show help (also -h or --help after any command)
//
// Flags may come before or after the argument (balancedctl run spec.yaml
// --yes); one or two dashes are the same.
//
// The spec's secrets come from environment variables or files it names, for
// example:
//
//	balancedctl plan examples/specs/haproxy.yaml          # no secret needed
//	export WINRM_PASSWORD=... LT_TOKEN=...
//	balancedctl preflight examples/specs/haproxy.yaml
//	balancedctl run examples/specs/haproxy.yaml
//
// run prints the runbook and asks for confirmation on the terminal; -yes
// skips the question. Without -yes and without a terminal on standard input
// (a CI job, a pipe) run refuses, with exit code 2, rather than start a
// deployment nobody confirmed. -release deploys another version than the
// spec's release.version (the applications the spec lists at that version
// follow it).
//
// With -json, progress is one JSON object per line on standard error, and
// the final report (run, resume, preflight) or the status is one JSON
// object on standard output, with a "schema_version" (currently 1) that
// changes only when a field changes meaning or goes away.
//
// Progress goes to standard error: on a terminal a status block kept up to
// date in place, elsewhere one plain line per event (package progress);
// with -json one JSON object per event. The runbook, the final report and
// the status go to standard output.
//
// SIGINT (Ctrl-C), SIGTERM (a service manager) and SIGHUP (a terminal or SSH
// session that goes away) all stop the run at the next safe point: the first
// says what the run is finishing and about how long that may take, later ones
// that it is already stopping. The run then halts; resume it with
// balancedctl resume. SIGPIPE is ignored, so output to a vanished session
// cannot kill the run midway. Only SIGKILL stops it at once; the host lock
// goes with the process, and resume continues the run.
//
// Two runs never deploy one farm at once: each takes the farm's host lock
// (an OS lock keyed by the farm's identity, in the spec's lock_dir) and,
// where the service driver can hold one, the farm lease on the Deployment
// Controller. A second run is refused with exit code 4 and the holder's name.
// status <spec.yaml> shows both; unlock -force <run-id> removes the lease of
// a run whose orchestrator is gone for good.
//
// -accept-disabled-schedulers (run, resume; the spec's
// accept_disabled_schedulers) lets preflight accept Scheduler services that
// are already disabled.
//
// With a journal in the spec, run refuses to start while the journal's last
// run halted or never finished: a new run would take the half-deployed farm
// (schedulers disabled, members out) for the state to restore at the end.
// Resume that run, or move its journal away to start over. preflight never
// writes the journal.
//
// # Exit codes
//
//	0  success (status: the last run succeeded; resume: nothing left to resume)
//	1  the run failed and halted in a safe state (status: it halted or never
//	   finished); resume it. preflight: a check failed (nothing was changed)
//	2  usage error, a spec or journal that cannot be used, a run not
//	   confirmed, or a run refused because the journal holds a halted or
//	   unfinished run (resume it instead); nothing was changed
//	3  the run failed and was rolled back (status: the last run was rolled back)
//	4  another run holds the farm's host lock or its farm lease (the error
//	   names the holder; status <spec.yaml> shows both)
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/farm/lock"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/balanced-deploy/balanced/spec"
	"github.com/balanced-deploy/balanced/steps"
)

// Exit codes; see the command's documentation.
const (
	exitOK         = 0
	exitFailed     = 1
	exitUsage      = 2
	exitRolledBack = 3
	exitLocked     = 4
)

// schemaVersion is the "schema_version" of every JSON object balancedctl
// writes on standard output (the final report, the status).
const schemaVersion = 1

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command: it parses args, runs a subcommand and returns
// the exit code. SIGINT (Ctrl-C), SIGTERM and SIGHUP stop a run at its next
// safe point (signals.go).
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stopper, stop := notifyStop(context.Background(), stderr)
	defer stop()
	return (&cli{stdout: stdout, stderr: stderr, stdin: os.Stdin, stop: stopper}).main(ctx, args)
}

// cli holds what the subcommands share.
type cli struct {
	stdout, stderr io.Writer
	// stdin is where run reads the operator's confirmation.
	stdin io.Reader
	// stdinIsTerminal reports whether stdin is a terminal. Nil means
	// term.IsTerminal on os.Stdin.
	stdinIsTerminal func() bool
	// drivers replaces drivers the spec describes; tests run the commands
	// over a simulated farm with it. The zero value builds every driver
	// from the spec.
	drivers spec.Drivers
	// lookupEnv resolves {env: NAME} secrets. Nil means os.LookupEnv.
	lookupEnv func(string) (string, bool)
	// term is the progress view of the command, once made; build gives
	// it the farm for its rows per zone and group.
	term *progress.Terminal
	// stop follows the run for the stop signals' messages; nil in tests
	// that call main directly.
	stop *stopper
}

// options are the flags of every command; each command declares the ones
// it takes.
type options struct {
	json, verbose, yes, markdown bool
	release                      string
	events                       string
	output                       string
	// live, force and acceptDisabled are status -live, unlock -force and
	// -accept-disabled-schedulers (lock.go, livestatus.go).
	live           bool
	force          string
	acceptDisabled bool
}

// command is one subcommand.
type command struct {
	name, args, summary string
	// nargs is how many arguments the command takes.
	nargs int
	run   func(c *cli, ctx context.Context, o *options, args []string) int
	flags func(fs *flag.FlagSet, o *options)
}

const usageHeader = `balancedctl runs a balanced application deployment described by a farm spec file.

Usage:
  balancedctl <command> <argument> [flags]

Commands:
`

const exitCodesHelp = `
Exit codes:
  0  success (status: the last run succeeded; resume: nothing to resume)
  1  the run failed and halted in a safe state (status: halted or unfinished);
     preflight: a check failed (nothing was changed)
  2  usage error, a spec or journal that cannot be used, a run not confirmed,
     or a run refused because the journal holds a halted or unfinished run
  3  the run failed and was rolled back (status: the last run was rolled back)
  4  another run holds the farm's lock
`

func jsonFlag(fs *flag.FlagSet, o *options, what string) {
	fs.BoolVar(&o.json, "json", false, what)
}

func progressFlags(fs *flag.FlagSet, o *options) {
	jsonFlag(fs, o, "progress as JSON lines on standard error, the final report as one JSON object on standard output")
	fs.BoolVar(&o.verbose, "v", false, "print every action that succeeded, not only step summaries")
	fs.StringVar(&o.events, "events", "", "also write the run's events as JSON lines to this `file` (for balancedctl timeline)")
}

func acceptDisabledFlag(fs *flag.FlagSet, o *options) {
	fs.BoolVar(&o.acceptDisabled, "accept-disabled-schedulers", false, "accept Scheduler services already disabled before the run (the spec's accept_disabled_schedulers): disabled on purpose, or left so by a run whose journal is lost")
}

func releaseFlag(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.release, "release", "", "deploy this `version` instead of the spec's release.version")
}

func commands() []command {
	return []command{
		{name: "plan", args: "<spec.yaml>", nargs: 1, summary: "print the runbook of the deployment with the farm's real names (needs no secret)",
			run: (*cli).plan, flags: func(fs *flag.FlagSet, o *options) {
				fs.BoolVar(&o.markdown, "markdown", false, "print the runbook as Markdown (for a change ticket)")
				releaseFlag(fs, o)
			}},
		{name: "preflight", args: "<spec.yaml>", nargs: 1, summary: "run only the preflight step: every driver reachable, the farm's state readable; changes nothing",
			run: (*cli).preflight, flags: progressFlags},
		{name: "run", args: "<spec.yaml>", nargs: 1, summary: "show the plan, ask for confirmation and run the balanced deployment",
			run: (*cli).runPlan, flags: func(fs *flag.FlagSet, o *options) {
				progressFlags(fs, o)
				releaseFlag(fs, o)
				acceptDisabledFlag(fs, o)
				fs.BoolVar(&o.yes, "yes", false, "run without asking for confirmation (needed when standard input is not a terminal)")
			}},
		{name: "resume", args: "<spec.yaml>", nargs: 1, summary: "continue the run recorded in the spec's journal",
			run: (*cli).resume, flags: func(fs *flag.FlagSet, o *options) {
				progressFlags(fs, o)
				releaseFlag(fs, o)
				acceptDisabledFlag(fs, o)
			}},
		{name: "status", args: "<journal|spec.yaml>", nargs: 1, summary: "say how the last run in a journal ended and where it would resume; given a spec, also who holds the farm's locks",
			run: (*cli).status, flags: func(fs *flag.FlagSet, o *options) {
				jsonFlag(fs, o, "print the status as one JSON object (journal only)")
				fs.BoolVar(&o.live, "live", false, "given a spec, also read the live farm (needs its credentials): members per group and zone, versions served, services")
			}},
		{name: "unlock", args: "<spec.yaml>", nargs: 1, summary: "remove the farm lease of a run whose orchestrator is gone, naming its run with -force",
			run: (*cli).unlock, flags: func(fs *flag.FlagSet, o *options) {
				fs.StringVar(&o.force, "force", "", "the `run-id` of the lease's holder (balancedctl status <spec> shows it)")
			}},
		{name: "timeline", args: "<events.jsonl>", nargs: 1, summary: "draw a run's timeline (members serving per zone, steps) as SVG from its -json or -events output",
			run: (*cli).timeline, flags: func(fs *flag.FlagSet, o *options) {
				fs.StringVar(&o.output, "o", "timeline.svg", "write the SVG to this `file` (- for standard output)")
			}},
		{name: "version", nargs: 0, summary: "print the module version balancedctl was built from",
			run: (*cli).version},
	}
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprint(w, usageHeader)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "help", "show this help, or a command's")
	fmt.Fprint(w, "\nRun 'balancedctl <command> -h' for a command's flags. Flags may come before or after the argument.\n")
	fmt.Fprint(w, exitCodesHelp)
}

func (c *cli) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			if cmd, ok := find(rest[0]); ok {
				c.newFlagSet(cmd, c.stdout, &options{}).Usage()
				return exitOK
			}
			fmt.Fprintf(c.stderr, "balancedctl: unknown command %q\n", rest[0])
			return exitUsage
		}
		c.usage(c.stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := find(name)
	if !ok {
		fmt.Fprintf(c.stderr, "balancedctl: unknown command %q\n\n", name)
		c.usage(c.stderr)
		return exitUsage
	}
	if helpAsked(rest) {
		c.newFlagSet(cmd, c.stdout, &options{}).Usage()
		return exitOK
	}
	var o options
	fs := c.newFlagSet(cmd, c.stderr, &o)
	pos, err := parseInterleaved(fs, rest)
	if err != nil {
		return exitUsage
	}
	if len(pos) != cmd.nargs {
		want := "no argument"
		if cmd.nargs == 1 {
			want = "exactly one argument, " + cmd.args
		}
		fmt.Fprintf(c.stderr, "balancedctl %s: want %s (got %d)\n", cmd.name, want, len(pos))
		fs.Usage()
		return exitUsage
	}
	return cmd.run(c, ctx, &o, pos)
}

// parseInterleaved parses flags placed anywhere among the arguments
// (flag.Parse alone stops at the first argument) and returns the
// arguments. Everything after "--" is an argument.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// helpAsked reports whether args ask for help before any "--".
func helpAsked(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

func find(name string) (command, bool) {
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd, true
		}
	}
	return command{}, false
}

// newFlagSet returns the command's flags bound to o; its Usage writes to w
// (standard output when help was asked for, standard error after a
// mistake).
func (c *cli) newFlagSet(cmd command, w io.Writer, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("balancedctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(w)
	if cmd.flags != nil {
		cmd.flags(fs, o)
	}
	fs.Usage = func() {
		args := ""
		if cmd.args != "" {
			args = " " + cmd.args
		}
		fmt.Fprintf(w, "Usage: balancedctl %s%s [flags]\n\n%s.\n", cmd.name, args, capitalize(cmd.summary))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
		fmt.Fprint(w, exitCodesHelp)
	}
	return fs
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// errorf prints one error line on standard error.
func (c *cli) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "balancedctl: "+format+"\n", args...)
}

// load reads the spec and prints its warnings. withSecrets false leaves the
// secrets unresolved (plan needs none). A -release flag replaces the
// release's version.
func (c *cli) load(path string, o *options, withSecrets bool) (*spec.Spec, bool) {
	var opts []spec.Option
	if c.lookupEnv != nil {
		opts = append(opts, spec.WithLookupEnv(c.lookupEnv))
	}
	if !withSecrets {
		opts = append(opts, spec.WithoutSecrets())
	}
	sp, err := spec.Load(path, opts...)
	if err != nil {
		c.errorf("%s", strings.TrimPrefix(err.Error(), spec.ErrInvalid.Error()+": "))
		return nil, false
	}
	for _, w := range sp.Warnings {
		c.errorf("warning: %s", w)
	}
	if o.acceptDisabled {
		sp.AcceptDisabledSchedulers = true
	}
	if o.release != "" {
		if err := overrideRelease(sp, o.release); err != nil {
			c.errorf("-release: %v", err)
			return nil, false
		}
	}
	return sp, true
}

// overrideRelease makes sp deploy version instead of its release.version.
// The applications listed at the spec's version follow, and so do their
// probes' versions; one pinned to another version (or whose probe expects
// another) is refused, since which version it should get is not known.
func overrideRelease(sp *spec.Spec, version string) error {
	if err := validVersion(version); err != nil {
		return err
	}
	old := sp.Release.Version
	for i, a := range sp.Release.Applications {
		if a.Version != old {
			return fmt.Errorf("application %q is pinned to version %q in %s, not to release.version %q: edit the spec to say which version it gets", a.Name, a.Version, sp.Source, old)
		}
		if pr := a.Probe; pr != nil && pr.Version != "" {
			if pr.Version != old {
				return fmt.Errorf("application %q's probe expects version %q in %s, not release.version %q: edit the spec to say which version it reports", a.Name, pr.Version, sp.Source, old)
			}
			pr.Version = version
		}
		sp.Release.Applications[i].Version = version
	}
	sp.Release.Version = version
	return nil
}

// validVersion accepts what a release version looks like: 1 to 128
// printable characters without spaces.
func validVersion(v string) error {
	if len(v) > 128 {
		return fmt.Errorf("version of %d characters: want at most 128", len(v))
	}
	for _, r := range v {
		if r <= ' ' || r == 0x7f || r > '~' {
			return fmt.Errorf("version %q: want printable ASCII without spaces, like 2026.11.27.1 or v2.4.0", v)
		}
	}
	return nil
}

// checkJournalDir refuses a journal whose directory does not exist, before
// anything runs: the run could not record itself, so it could not be
// resumed.
func (c *cli) checkJournalDir(sp *spec.Spec) bool {
	if sp.Journal == "" {
		return true
	}
	dir := filepath.Dir(sp.Journal)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		c.errorf("%s: journal %s: its directory %s cannot be used (%v): create it, or point journal at a directory that exists; nothing was run",
			sp.Source, sp.Journal, dir, unwrapPath(err))
		return false
	case !fi.IsDir():
		c.errorf("%s: journal %s: %s is not a directory; nothing was run", sp.Source, sp.Journal, dir)
		return false
	}
	return true
}

// unwrapPath returns the reason of an *os.PathError without the path the
// message already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// observer builds the progress observer the flags ask for, and a tracker
// that says whether the run's end was shown. It returns a closer for the
// -events file.
func (c *cli) observer(o *options) (event.Observer, *ended, func() error, bool) {
	var obs event.Observer
	if o.json {
		obs = progress.NewJSONLines(c.stderr)
	} else {
		c.term = progress.NewTerminal(c.stderr, progress.TerminalConfig{Verbose: o.verbose})
		obs = c.term
	}
	end := &ended{}
	closer := func() error { return nil }
	all := []event.Observer{obs, end}
	if o.events != "" {
		f, err := os.OpenFile(o.events, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			c.errorf("-events: %v", err)
			return nil, nil, nil, false
		}
		jl := progress.NewJSONLines(f)
		all = append(all, jl)
		closer = func() error {
			werr := jl.Err()
			if err := f.Close(); werr == nil {
				werr = err
			}
			return werr
		}
	}
	return event.Observers(all...), end, closer, true
}

// ended records whether the run-finished event went through the progress
// view, which then said the run's error; balancedctl does not print it a
// second time.
type ended struct{ seen bool }

func (e *ended) Observe(ev event.Event) {
	if ev.Kind == event.RunFinished {
		e.seen = true
	}
}

// build builds the farm and plan with obs.
func (c *cli) build(ctx context.Context, sp *spec.Spec, obs event.Observer) (*farm.Plan, bool) {
	d := c.drivers
	// The stopper observes first: it knows a step has started before the
	// progress view prints it, so a signal sent by someone who has read
	// "step N" is answered with step N (the other order raced).
	d.Observer = event.Observers(c.stop.watch(sp), obs)
	if d.Prompt == nil {
		d.Prompt = c.prompt
	}
	f, plan, err := sp.BuildWith(ctx, d)
	if err != nil {
		c.errorf("%s: %v", sp.Source, err)
		return nil, false
	}
	if c.term != nil {
		c.term.SetFarm(f)
	}
	return plan, true
}

func (c *cli) plan(ctx context.Context, o *options, args []string) int {
	sp, ok := c.load(args[0], o, false)
	if !ok {
		return exitUsage
	}
	plan, ok := c.build(ctx, sp, nil)
	if !ok {
		return exitUsage
	}
	describe := plan.Describe
	if o.markdown {
		describe = plan.DescribeMarkdown
	}
	if err := describe(c.stdout); err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	return exitOK
}

// preflight runs the plan cut down to its preflight step, without the
// journal (a check must not become the journal's last run) and with the
// halt policy: a check changes nothing, so there is nothing to roll back.
func (c *cli) preflight(ctx context.Context, o *options, args []string) int {
	sp, ok := c.load(args[0], o, true)
	if !ok {
		return exitUsage
	}
	check := *sp
	check.Journal = ""
	check.OnFailure = string(farm.Halt)
	obs, end, closeEvents, ok := c.observer(o)
	if !ok {
		return exitUsage
	}
	plan, ok := c.build(ctx, &check, obs)
	if !ok {
		return exitUsage
	}
	for _, id := range plan.StepIDs() {
		if id != steps.Preflight {
			if err := plan.Remove(id); err != nil {
				c.errorf("%v", err)
				return exitUsage
			}
		}
	}
	report, err := plan.Run(ctx)
	return c.finish(o, "preflight", &check, report, err, end, closeEvents)
}

func (c *cli) runPlan(ctx context.Context, o *options, args []string) int {
	sp, ok := c.load(args[0], o, true)
	if !ok {
		return exitUsage
	}
	if !c.promptsAnswerable(sp) {
		return exitUsage
	}
	if !o.yes && !c.isTerminal() {
		c.errorf("run: standard input is not a terminal, so the deployment cannot be confirmed: pass -yes to run without asking (see 'balancedctl plan %s' for what it does); nothing was run", sp.Source)
		return exitUsage
	}
	if !c.checkJournalDir(sp) || !c.nothingToResume(ctx, sp) {
		return exitUsage
	}
	obs, end, closeEvents, ok := c.observer(o)
	if !ok {
		return exitUsage
	}
	plan, ok := c.build(ctx, sp, obs)
	if !ok {
		return exitUsage
	}
	if !o.yes {
		if !c.confirm(sp, plan, o) {
			_ = closeEvents()
			return exitUsage
		}
	}
	report, err := plan.Run(ctx)
	return c.finish(o, "run", sp, report, err, end, closeEvents)
}

func (c *cli) isTerminal() bool {
	if c.stdinIsTerminal != nil {
		return c.stdinIsTerminal()
	}
	return term.IsTerminal(int(os.Stdin.Fd()))
}

// confirm shows the runbook and asks the operator to type yes. The runbook
// goes to standard output, or to standard error with -json (standard
// output then holds only the report).
func (c *cli) confirm(sp *spec.Spec, plan *farm.Plan, o *options) bool {
	w := c.stdout
	if o.json {
		w = c.stderr
	}
	if err := plan.Describe(w); err != nil {
		c.errorf("%v", err)
		return false
	}
	fmt.Fprintf(c.stderr, "\nDeploy release %s to the %d servers above? Type yes to run: ", sp.Release.Version, len(sp.Servers))
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	if answer == "yes" || answer == "y" {
		return true
	}
	if err != nil && answer == "" {
		fmt.Fprintln(c.stderr)
	}
	c.errorf("run: not confirmed (answer %q); nothing was run", answer)
	return false
}

// promptsAnswerable refuses, before anything runs, a spec whose approvals
// ask on the terminal when standard input is not one: the run would stop
// half-way at the first of them.
func (c *cli) promptsAnswerable(sp *spec.Spec) bool {
	for _, a := range sp.Approvals {
		if a.Prompt && !c.isTerminal() {
			c.errorf("%s: an approval asks on the terminal (prompt: true, %q) and standard input is not a terminal: run from a terminal, or approve with a command; nothing was run", sp.Source, a.Message)
			return false
		}
	}
	return true
}

// prompt asks the operator to approve, for the spec's prompt approvals.
func (c *cli) prompt(ctx context.Context, req steps.ApprovalRequest) (bool, error) {
	if !c.isTerminal() {
		return false, fmt.Errorf("approval %s: standard input is not a terminal: nobody can answer", req.Step)
	}
	fmt.Fprintf(c.stderr, "\napproval %s: %s Type yes to approve: ", req.Step, req.Message)
	answers := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(c.stdin).ReadString('\n')
		answers <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case a := <-answers:
		return a == "yes" || a == "y", nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// nothingToResume refuses a new run while the journal's last run halted or
// never finished: a new run would capture the half-deployed farm as the
// state to restore (schedulers disabled, members out). That run must be
// resumed, or its journal moved away by someone who knows the farm. The
// engine refuses it too (farm.ErrUnfinishedRun); this check names the
// command. A run that holds the farm's host lock is left for the engine to
// refuse with the holder's name. It reads only the journal's last run.
func (c *cli) nothingToResume(ctx context.Context, sp *spec.Spec) bool {
	if sp.Journal == "" {
		return true
	}
	if f, _, err := sp.BuildWith(ctx, c.drivers); err == nil {
		if st, err := (lock.File{Dir: sp.LockDir}).Status(f.Identity()); err == nil && st.Held {
			return true
		}
	}
	recs, err := journal.ReadLastRun(sp.Journal)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	if err != nil {
		c.errorf("read journal: %v", err)
		return false
	}
	st, ok, err := journal.LastRunOf(recs)
	if err != nil {
		c.errorf("%s: %v", sp.Journal, err)
		return false
	}
	if !ok || !st.Unfinished() {
		return true
	}
	how := "halted"
	if st.Outcome == "" {
		how = "never finished"
	}
	c.errorf("the last run in %s (%s) %s at %s: resume it with 'balancedctl resume %s'; a new run would take the half-deployed farm for its starting state. To start over regardless, move the journal away.",
		sp.Journal, st.Label, how, st.ResumeFrom, sp.Source)
	return false
}

func (c *cli) resume(ctx context.Context, o *options, args []string) int {
	sp, ok := c.load(args[0], o, true)
	if !ok {
		return exitUsage
	}
	if sp.Journal == "" {
		c.errorf("%s names no journal: there is nothing to resume from", sp.Source)
		return exitUsage
	}
	if !c.checkJournalDir(sp) || !c.promptsAnswerable(sp) {
		return exitUsage
	}
	recs, err := journal.ReadLastRun(sp.Journal)
	if errors.Is(err, os.ErrNotExist) {
		c.errorf("%s: no journal at %s: no run was recorded, so there is nothing to resume (start one with 'balancedctl run %s')", sp.Source, sp.Journal, sp.Source)
		return exitUsage
	}
	if err != nil {
		c.errorf("read journal: %v", err)
		return exitUsage
	}
	obs, end, closeEvents, ok := c.observer(o)
	if !ok {
		return exitUsage
	}
	plan, ok := c.build(ctx, sp, obs)
	if !ok {
		return exitUsage
	}
	report, err := plan.Resume(ctx, recs)
	switch {
	case errors.Is(err, farm.ErrNothingToResume):
		_ = closeEvents()
		// The error says why ("nothing to resume: the run succeeded").
		if o.json {
			return c.writeJSON(resultJSON{SchemaVersion: schemaVersion, Command: "resume", Spec: sp.Source,
				Release: sp.Release.Version, Outcome: "nothing-to-resume", Message: err.Error()})
		}
		fmt.Fprintf(c.stdout, "%v\n", err)
		return exitOK
	case errors.Is(err, farm.ErrJournalMismatch):
		_ = closeEvents()
		c.errorf("%v (the spec's servers, zones or release changed since that run)", err)
		return exitUsage
	}
	return c.finish(o, "resume", sp, report, err, end, closeEvents)
}

// exitCode maps a run's error to the command's exit code.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, lock.ErrLocked):
		return exitLocked
	case errors.Is(err, farm.ErrUnfinishedRun):
		return exitUsage
	case errors.Is(err, farm.ErrRolledBack):
		return exitRolledBack
	}
	return exitFailed
}

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
//	balancedctl plan [-markdown] <spec.yaml>   print the runbook with the farm's real names
//	balancedctl preflight [-json] <spec.yaml>  run only the preflight step: every driver reachable, state readable
//	balancedctl run [-json] [-v] <spec.yaml>   run the deployment
//	balancedctl resume [-json] [-v] <spec.yaml> continue the run recorded in the spec's journal
//	balancedctl status <journal>               say how the last run in a journal ended and where it would resume
//	balancedctl help [command]                 show help (also -h or --help after any command)
//
// The spec's secrets come from environment variables or files it names, for
// example:
//
//	export WINRM_PASSWORD=... LT_TOKEN=...
//	balancedctl plan examples/specs/haproxy.yaml
//	balancedctl preflight examples/specs/haproxy.yaml
//	balancedctl run examples/specs/haproxy.yaml
//
// Progress goes to standard error: on a terminal a status block kept up to
// date in place, elsewhere one plain line per event (package progress);
// with -json one JSON object per event. The runbook, the final report and
// the status go to standard output. Ctrl-C (or SIGTERM) stops the run at the
// next safe point; resume it later with balancedctl resume.
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
//	1  the run failed and halted in a safe state (status: it halted or never finished); resume it
//	2  usage error, a spec or journal that cannot be used, or a run refused
//	   because the journal holds a halted or unfinished run (resume it instead)
//	3  the run failed and was rolled back (status: the last run was rolled back)
//	4  another run holds the farm's lock (the file next to the journal)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/balanced-deploy/balanced/farm"
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

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command: it parses args, runs a subcommand and returns
// the exit code. Ctrl-C and SIGTERM cancel the context of a run.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return (&cli{stdout: stdout, stderr: stderr}).main(ctx, args)
}

// cli holds what the subcommands share.
type cli struct {
	stdout, stderr io.Writer
	// drivers replaces drivers the spec describes; tests run the commands
	// over a simulated farm with it. The zero value builds every driver
	// from the spec.
	drivers spec.Drivers
	// lookupEnv resolves {env: NAME} secrets. Nil means os.LookupEnv.
	lookupEnv func(string) (string, bool)
}

// command is one subcommand.
type command struct {
	name, args, summary string
	run                 func(c *cli, ctx context.Context, fs *flag.FlagSet, args []string) int
	flags               func(fs *flag.FlagSet)
}

const usageHeader = `balancedctl runs a balanced application deployment described by a farm spec file.

Usage:
  balancedctl <command> [flags] <argument>

Commands:
`

const exitCodesHelp = `
Exit codes:
  0  success (status: the last run succeeded; resume: nothing to resume)
  1  the run failed and halted in a safe state (status: halted or unfinished)
  2  usage error, a spec or journal that cannot be used, or a run refused
     because the journal holds a halted or unfinished run (resume it)
  3  the run failed and was rolled back (status: the last run was rolled back)
  4  another run holds the farm's lock
`

func commands() []command {
	progressFlags := func(fs *flag.FlagSet) {
		fs.Bool("json", false, "write progress as JSON lines on standard error")
		fs.Bool("v", false, "print every action that succeeded, not only step summaries")
	}
	return []command{
		{name: "plan", args: "<spec.yaml>", summary: "print the runbook of the deployment with the farm's real names",
			run: (*cli).plan, flags: func(fs *flag.FlagSet) {
				fs.Bool("markdown", false, "print the runbook as Markdown (for a change ticket)")
			}},
		{name: "preflight", args: "<spec.yaml>", summary: "run only the preflight step: every driver reachable, the farm's state readable; changes nothing",
			run: (*cli).preflight, flags: progressFlags},
		{name: "run", args: "<spec.yaml>", summary: "run the balanced deployment",
			run: (*cli).runPlan, flags: progressFlags},
		{name: "resume", args: "<spec.yaml>", summary: "continue the run recorded in the spec's journal",
			run: (*cli).resume, flags: progressFlags},
		{name: "status", args: "<journal>", summary: "say how the last run in a journal ended and where it would resume",
			run: (*cli).status},
	}
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprint(w, usageHeader)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "help", "show this help, or a command's")
	fmt.Fprint(w, "\nRun 'balancedctl <command> -h' for a command's flags.\n")
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
				c.newFlagSet(cmd, c.stdout).Usage()
				return exitOK
			}
			fmt.Fprintf(c.stderr, "balancedctl: unknown command %q\n", rest[0])
			return exitUsage
		}
		c.usage(c.stdout)
		return exitOK
	}
	cmd, ok := find(name)
	if !ok {
		fmt.Fprintf(c.stderr, "balancedctl: unknown command %q\n\n", name)
		c.usage(c.stderr)
		return exitUsage
	}
	if helpAsked(rest) {
		c.newFlagSet(cmd, c.stdout).Usage()
		return exitOK
	}
	fs := c.newFlagSet(cmd, c.stderr)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(c.stderr, "balancedctl %s: want exactly one argument, %s\n", cmd.name, cmd.args)
		fs.Usage()
		return exitUsage
	}
	return cmd.run(c, ctx, fs, fs.Args())
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

// newFlagSet returns the command's flags; its Usage writes to w (standard
// output when help was asked for, standard error after a mistake).
func (c *cli) newFlagSet(cmd command, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("balancedctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(w)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: balancedctl %s [flags] %s\n\n%s.\n", cmd.name, cmd.args, capitalize(cmd.summary))
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

// load reads the spec and prints its warnings.
func (c *cli) load(path string) (*spec.Spec, bool) {
	var opts []spec.Option
	if c.lookupEnv != nil {
		opts = append(opts, spec.WithLookupEnv(c.lookupEnv))
	}
	sp, err := spec.Load(path, opts...)
	if err != nil {
		fmt.Fprintf(c.stderr, "balancedctl: %v\n", err)
		return nil, false
	}
	for _, w := range sp.Warnings {
		fmt.Fprintf(c.stderr, "balancedctl: warning: %s\n", w)
	}
	return sp, true
}

// build builds the farm and plan with the progress observer the flags ask for.
func (c *cli) build(ctx context.Context, fs *flag.FlagSet, sp *spec.Spec) (*farm.Plan, bool) {
	d := c.drivers
	if f := fs.Lookup("json"); f != nil && f.Value.String() == "true" {
		d.Observer = progress.NewJSONLines(c.stderr)
	} else {
		d.Observer = progress.NewTerminal(c.stderr, progress.TerminalConfig{Verbose: fs.Lookup("v") != nil && fs.Lookup("v").Value.String() == "true"})
	}
	_, plan, err := sp.BuildWith(ctx, d)
	if err != nil {
		fmt.Fprintf(c.stderr, "balancedctl: %s: %v\n", sp.Source, err)
		return nil, false
	}
	return plan, true
}

func (c *cli) plan(ctx context.Context, fs *flag.FlagSet, args []string) int {
	sp, ok := c.load(args[0])
	if !ok {
		return exitUsage
	}
	d := c.drivers
	_, plan, err := sp.BuildWith(ctx, d)
	if err != nil {
		fmt.Fprintf(c.stderr, "balancedctl: %s: %v\n", sp.Source, err)
		return exitUsage
	}
	describe := plan.Describe
	if fs.Lookup("markdown").Value.String() == "true" {
		describe = plan.DescribeMarkdown
	}
	if err := describe(c.stdout); err != nil {
		fmt.Fprintf(c.stderr, "balancedctl: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// preflight runs the plan cut down to its preflight step, without the
// journal: a check must not become the journal's last run.
func (c *cli) preflight(ctx context.Context, fs *flag.FlagSet, args []string) int {
	sp, ok := c.load(args[0])
	if !ok {
		return exitUsage
	}
	check := *sp
	check.Journal = ""
	plan, ok := c.build(ctx, fs, &check)
	if !ok {
		return exitUsage
	}
	for _, id := range plan.StepIDs() {
		if id != steps.Preflight {
			if err := plan.Remove(id); err != nil {
				fmt.Fprintf(c.stderr, "balancedctl: %v\n", err)
				return exitUsage
			}
		}
	}
	report, err := plan.Run(ctx)
	return c.finish(report, err)
}

func (c *cli) runPlan(ctx context.Context, fs *flag.FlagSet, args []string) int {
	sp, ok := c.load(args[0])
	if !ok {
		return exitUsage
	}
	if !c.nothingToResume(sp) {
		return exitUsage
	}
	plan, ok := c.build(ctx, fs, sp)
	if !ok {
		return exitUsage
	}
	report, err := plan.Run(ctx)
	return c.finish(report, err)
}

// nothingToResume refuses a new run while the journal's last run halted or
// never finished: a new run would capture the half-deployed farm as the
// state to restore (schedulers disabled, members out). That run must be
// resumed, or its journal moved away by someone who knows the farm. A run
// that holds the lock is left for the engine to refuse.
func (c *cli) nothingToResume(sp *spec.Spec) bool {
	if sp.Journal == "" {
		return true
	}
	if _, err := os.Stat(sp.Journal + ".lock"); err == nil {
		return true
	}
	recs, err := farm.ReadJournalFile(sp.Journal)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "balancedctl: read journal: %v\n", err)
		return false
	}
	if len(recs) == 0 {
		return true
	}
	st, err := farm.StateOf(recs)
	if err != nil {
		fmt.Fprintf(c.stderr, "balancedctl: %s: %v\n", sp.Journal, err)
		return false
	}
	if st.Outcome == farm.Succeeded || st.Outcome == farm.RolledBack {
		return true
	}
	how := "halted"
	if st.Outcome == "" {
		how = "never finished"
	}
	fmt.Fprintf(c.stderr, "balancedctl: the last run in %s (%s) %s at %s: resume it with 'balancedctl resume %s'; a new run would take the half-deployed farm for its starting state. To start over regardless, move the journal away.\n",
		sp.Journal, st.Label, how, st.ResumeFrom, sp.Source)
	return false
}

func (c *cli) resume(ctx context.Context, fs *flag.FlagSet, args []string) int {
	sp, ok := c.load(args[0])
	if !ok {
		return exitUsage
	}
	if sp.Journal == "" {
		fmt.Fprintf(c.stderr, "balancedctl: %s names no journal: there is nothing to resume from\n", sp.Source)
		return exitUsage
	}
	recs, err := farm.ReadJournalFile(sp.Journal)
	if err != nil {
		fmt.Fprintf(c.stderr, "balancedctl: read journal: %v\n", err)
		return exitUsage
	}
	plan, ok := c.build(ctx, fs, sp)
	if !ok {
		return exitUsage
	}
	report, err := plan.Resume(ctx, recs)
	switch {
	case errors.Is(err, farm.ErrNothingToResume):
		fmt.Fprintf(c.stdout, "nothing to resume: %v\n", err)
		return exitOK
	case errors.Is(err, farm.ErrJournalMismatch):
		fmt.Fprintf(c.stderr, "balancedctl: %v (the spec's servers, zones or release changed since that run)\n", err)
		return exitUsage
	}
	return c.finish(report, err)
}

// finish prints the report and the error, and returns the exit code.
func (c *cli) finish(report *farm.Report, err error) int {
	if report != nil {
		if werr := report.Write(c.stdout); werr != nil {
			fmt.Fprintf(c.stderr, "balancedctl: %v\n", werr)
		}
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "balancedctl: %s\n", strings.TrimSpace(err.Error()))
	}
	return exitCode(err)
}

// exitCode maps a run's error to the command's exit code.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, farm.ErrLocked):
		return exitLocked
	case errors.Is(err, farm.ErrRolledBack):
		return exitRolledBack
	}
	return exitFailed
}

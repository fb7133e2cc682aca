package spec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/goccy/go-yaml/ast"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/internal/names"
	"github.com/balanced-deploy/balanced/lbdrivers/haproxy"
	"github.com/balanced-deploy/balanced/steps"
)

// validator checks a decoded spec, collecting every problem with its line.
type validator struct {
	opts *options
	file *ast.File
	spec *Spec
	errs []error
}

const maxErrors = 20

func (v *validator) errorf(path, format string, args ...any) {
	line, col := at(v.file, path)
	v.errorAt(line, col, nil, format, args...)
}

func (v *validator) errorAt(line, col int, cause error, format string, args ...any) {
	if len(v.errs) < maxErrors {
		v.errs = append(v.errs, &Error{Source: v.opts.source, Line: line, Column: col, Msg: fmt.Sprintf(format, args...), Err: cause})
	}
}

func (v *validator) warnf(path, format string, args ...any) {
	line, _ := at(v.file, path)
	v.spec.Warnings = append(v.spec.Warnings, fmt.Sprintf("%s:%d: %s", v.opts.source, line, fmt.Sprintf(format, args...)))
}

// timeoutKey resolves the deprecated key request_timeout of the block at
// path into its timeout: an error when both are set, else a warning and a
// move (the spec then reads as if it said timeout, and prints so).
func (v *validator) timeoutKey(path, block string, timeout, old *Duration) {
	switch {
	case old.D() == 0:
	case timeout.D() != 0:
		v.errorf(path+".request_timeout", "%s: both timeout (%v) and request_timeout (%v): want timeout only (request_timeout is its deprecated name)", block, timeout.D(), old.D())
	default:
		*timeout, *old = *old, 0
		v.warnf(path+".request_timeout", "%s: request_timeout is deprecated: name it timeout", block)
	}
}

func (v *validator) err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return v.errs[0]
	}
	return errors.Join(v.errs...)
}

func (v *validator) validate() {
	s := v.spec
	v.release()
	v.servers()
	v.zones()
	v.loadBalancers()
	v.drivers()
	v.extras()
	switch s.OnFailure {
	case "", string(farm.Halt), string(farm.Rollback):
	default:
		v.errorf("$.on_failure", "on_failure %q: want halt or rollback", s.OnFailure)
	}
	if s.Concurrency < 0 {
		v.errorf("$.concurrency", "concurrency %d: want zero (the default) or more", s.Concurrency)
	}
	for _, l := range []struct {
		key string
		n   int
	}{{"host", s.Limits.Host}, {"load_balancer", s.Limits.LoadBalancer}, {"platform", s.Limits.Platform}} {
		if l.n < 0 {
			v.errorf("$.limits."+l.key, "limits.%s %d: want zero (the default) or more", l.key, l.n)
		}
	}
	if s.CapacityFloor > 1 || math.IsNaN(s.CapacityFloor) {
		v.errorf("$.capacity_floor", "capacity_floor %v: want a share between 0 and 1 (or negative to disable the check)", s.CapacityFloor)
	}
	v.retry()
	v.durations()
	v.journal()
	s.LockDir = v.opts.resolvePath(s.LockDir)
	if len(v.errs) == 0 {
		v.farm()
	}
	if len(v.errs) == 0 {
		v.constructors()
	}
}

// release checks the release: its version, notes and application names and
// versions are printed in the runbook, so they hold no control character
// (the rule of internal/names, which steps.Balanced applies too).
func (v *validator) release() {
	r := v.spec.Release
	if r.Version == "" {
		v.errorf("$.release.version", "release: no version: want the version the application reports once deployed")
	}
	v.check("$.release.version", names.Text("release version", r.Version))
	v.check("$.release.notes", names.Notes("release notes", r.Notes))
	for i, a := range r.Applications {
		path := fmt.Sprintf("$.release.applications[%d]", i)
		if a.Name == "" || a.Version == "" {
			v.errorf(path, "release application: want a name and a version")
		}
		v.check(path+".name", names.Text("release application name", a.Name))
		v.check(path+".version", names.Text("release application version", a.Version))
	}
	v.appProbes()
}

// appProbes checks the applications' probes: every application of the
// release has one or none has, each at a relative path (the part after a
// server's probe_url) with a printable version.
func (v *validator) appProbes() {
	apps := v.spec.Release.Applications
	var with, without []string
	for i, a := range apps {
		path := fmt.Sprintf("$.release.applications[%d]", i)
		if a.Probe == nil {
			without = append(without, a.Name)
			continue
		}
		if slices.Contains(with, a.Name) {
			v.errorf(path+".name", "release application %s is listed twice with a probe: want each application once", a.Name)
		}
		with = append(with, a.Name)
		p := a.Probe
		switch {
		case p.Path == "":
			v.errorf(path+".probe", "release application %s: probe has no path: want where the application answers on each server, such as /%s/rest/Health/Version", a.Name, strings.ReplaceAll(a.Name, " ", ""))
		case names.Text("release application "+a.Name+" probe path", p.Path) != nil:
			v.check(path+".probe.path", names.Text("release application "+a.Name+" probe path", p.Path))
		case !relativePath(p.Path):
			v.errorf(path+".probe.path", "release application %s: probe path %q: want a path (and query) to append to each server's probe_url, such as /%s/rest/Health/Version", a.Name, p.Path, strings.ReplaceAll(a.Name, " ", ""))
		}
		v.check(path+".probe.version", names.Text("release application "+a.Name+" probe version", p.Version))
	}
	switch {
	case len(with) > 0 && len(without) > 0:
		for i, a := range apps {
			if a.Probe == nil {
				v.errorf(fmt.Sprintf("$.release.applications[%d]", i), "release application %s has no probe while %s has one: want a probe (path, and version if it reports another) on every application, so that none still deploying goes unnoticed", a.Name, strings.Join(with, ", "))
			}
		}
	case len(apps) > 1 && len(with) == 0:
		v.warnf("$.release.applications", "release of %d applications checked by one probe (the probe block): an application still deploying on a server goes unnoticed; give each application a probe: {path: ...}", len(apps))
	}
}

// relativePath reports whether p is a path (and query) with no scheme,
// host, user info or fragment.
func relativePath(p string) bool {
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Fragment == "" && !strings.HasPrefix(p, "//")
}

// check reports err, if any, at path.
func (v *validator) check(path string, err error) {
	if err != nil {
		v.errorf(path, "%v", err)
	}
}

// retry checks the retry block against [MaxAttempts] and [MaxMultiplier].
func (v *validator) retry() {
	r := v.spec.Retry
	if r.MaxAttempts < 0 || r.MaxAttempts > MaxAttempts {
		v.errorf("$.retry.max_attempts", "retry max_attempts %d: want 0 (the default) to %d", r.MaxAttempts, MaxAttempts)
	}
	if m := r.Multiplier; m != 0 && (math.IsNaN(m) || m < 1 || m > MaxMultiplier) {
		v.errorf("$.retry.multiplier", "retry multiplier %v: want 0 (the default) or a number from 1 to %v", m, MaxMultiplier)
	}
	if j := r.Jitter; math.IsNaN(j) || j > 1 {
		v.errorf("$.retry.jitter", "retry jitter %v: want a share of at most 1 (0 the default, negative for none)", j)
	}
	if r.InitialBackoff > 0 && r.MaxBackoff > 0 && r.InitialBackoff > r.MaxBackoff {
		v.errorf("$.retry.initial_backoff", "retry initial_backoff %v is longer than max_backoff %v: want initial_backoff <= max_backoff", r.InitialBackoff, r.MaxBackoff)
	}
}

// journal resolves the journal path and checks that the first record can be
// written there: the path is not a directory and its directory exists.
func (v *validator) journal() {
	s := v.spec
	if s.Journal == "" {
		return
	}
	s.Journal = v.opts.resolvePath(s.Journal)
	const want = "want the path of a file in an existing directory (the first run creates the file)"
	if fi, err := os.Stat(s.Journal); err == nil {
		if fi.IsDir() {
			v.errorf("$.journal", "journal %q is a directory: %s", s.Journal, want)
		}
		return
	} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		v.errorf("$.journal", "journal %q: %v: %s", s.Journal, errors.Unwrap(err), want)
		return
	}
	dir := filepath.Dir(s.Journal)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.errorf("$.journal", "journal %q: directory %q does not exist: %s", s.Journal, dir, want)
	case err != nil:
		v.errorf("$.journal", "journal %q: directory %q: %v: %s", s.Journal, dir, errors.Unwrap(err), want)
	case !fi.IsDir():
		v.errorf("$.journal", "journal %q: %q is not a directory: %s", s.Journal, dir, want)
	}
}

func (v *validator) servers() {
	if len(v.spec.Servers) == 0 {
		v.errorf("$.servers", "servers: none: want the farm's front-end servers")
		return
	}
	var first names.Unique[int]
	controller := -1
	for i, sv := range v.spec.Servers {
		path := fmt.Sprintf("$.servers[%d]", i)
		if sv.Name == "" {
			v.errorf(path, "server: no name")
			continue
		}
		if err := names.Name("server name", sv.Name); err != nil {
			v.errorf(path+".name", "%v", err)
			continue
		}
		if j, dup := first.Add(sv.Name, i); dup {
			line, _ := at(v.file, fmt.Sprintf("$.servers[%d].name", j))
			v.errorf(path+".name", "%v", names.Twice("server", sv.Name, fmt.Sprintf("at line %d", line)))
			continue
		}
		if sv.Controller {
			if controller >= 0 {
				v.errorf(path+".controller", "server %s: a second Deployment Controller (%s is one): want at most one controller: true", sv.Name, v.spec.Servers[controller].Name)
			}
			controller = i
		}
		if sv.Address != "" {
			v.check(path+".address", names.Address("server "+sv.Name+": address", sv.Address))
		}
		if sv.Member != "" {
			v.check(path+".member", names.Member("server "+sv.Name+": load-balancer member", sv.Member))
		}
		if sv.ProbeURL != "" {
			v.httpURL(path+".probe_url", "server "+sv.Name+": probe_url", sv.ProbeURL, "probe_url holds credentials: want them in the probe block, where they are kept secret")
		}
	}
}

// httpURL checks an http(s) URL of the spec, refusing user info (the
// message says where credentials go instead); no error quotes the user info.
func (v *validator) httpURL(path, what, raw, creds string) {
	u, err := drivers.CheckHTTPURL(what, raw)
	if err != nil {
		v.errorf(path, "%s", strings.TrimPrefix(err.Error(), drivers.ErrInvalidArgument.Error()+": "))
		return
	}
	if u.User != nil {
		v.errorf(path, "%s %q: %s", what, drivers.RedactURL(raw), creds)
		return
	}
	v.check(path, names.Text(what, drivers.RedactURL(raw)))
}

// zones checks that every server is in exactly one group of one zone.
func (v *validator) zones() {
	s := v.spec
	known := map[string]int{}
	for i, sv := range s.Servers {
		if _, dup := known[sv.Name]; !dup && names.Name("", sv.Name) == nil {
			known[sv.Name] = i
		}
	}
	if len(s.Zones) == 0 {
		return // one zone of every server, split automatically
	}
	type place struct {
		where string
		line  int
	}
	placed := map[string]place{}
	var zoneLine names.Unique[int]
	for i, z := range s.Zones {
		zpath := fmt.Sprintf("$.zones[%d]", i)
		name := z.Name
		if name == "" {
			name = farm.DefaultZone
		}
		if err := names.Name("zone name", name); err != nil {
			v.errorf(zpath+".name", "%v", err)
			name = strconv.Quote(name) // for the messages below
		}
		line, _ := at(v.file, zpath)
		if l, dup := zoneLine.Add(name, line); dup {
			v.errorf(zpath, "%v", names.Twice("zone", name, fmt.Sprintf("at line %d", l)))
		}
		lists := map[string][]string{}
		switch z.Split {
		case SplitAuto:
			if len(z.Updating) > 0 || len(z.Loaded) > 0 {
				v.errorf(zpath+".split", "zone %s: split: auto with updating/loaded lists: want one or the other", name)
			}
			if len(z.Servers) == 0 {
				v.errorf(zpath, "zone %s: split: auto but no servers: want servers: listing the zone's servers", name)
			}
			lists["servers"] = z.Servers
		case "":
			if len(z.Servers) > 0 {
				v.errorf(zpath+".servers", "zone %s: servers: is only for split: auto: want updating: and loaded: lists", name)
			}
			if len(z.Updating) == 0 {
				v.errorf(zpath, "zone %s has no updating group: want updating: listing at least one server, or split: auto", name)
			}
			if len(z.Loaded) == 0 {
				v.errorf(zpath, "zone %s has no loaded group: want loaded: listing at least one server, or split: auto", name)
			}
			lists["updating"], lists["loaded"] = z.Updating, z.Loaded
		default:
			v.errorf(zpath+".split", "zone %s: split %q: want auto (or no split and updating:/loaded: lists)", name, z.Split)
		}
		for _, key := range []string{"updating", "loaded", "servers"} {
			for j, n := range lists[key] {
				ipath := fmt.Sprintf("%s.%s[%d]", zpath, key, j)
				idx, ok := known[n]
				switch {
				case !ok:
					v.errorf(ipath, "zone %s: unknown server %q: want a name from servers:", name, n)
					continue
				case placed[n].where != "":
					v.errorf(ipath, "server %s is listed twice: already in %s (line %d): want each server in one group of one zone", n, placed[n].where, placed[n].line)
					continue
				case key == "loaded" && s.Servers[idx].Controller:
					v.errorf(ipath, "zone %s: server %s is the Deployment Controller but is in the loaded group: want it in updating", name, n)
				}
				l, _ := at(v.file, ipath)
				placed[n] = place{where: fmt.Sprintf("zone %s %s", name, key), line: l}
			}
		}
	}
	for i, sv := range s.Servers {
		if _, ok := placed[sv.Name]; !ok && names.Name("", sv.Name) == nil {
			v.errorf(fmt.Sprintf("$.servers[%d]", i), "server %s is in no zone: want it listed in one zone's updating, loaded or servers", sv.Name)
		}
	}
}

// loadBalancers checks that every zone has a load balancer and that each
// block has its required settings.
func (v *validator) loadBalancers() {
	s := v.spec
	if s.LoadBalancer != nil {
		v.loadBalancer("$.load_balancer", s.LoadBalancer)
	}
	if len(s.Zones) == 0 && s.LoadBalancer == nil {
		v.errorf("$", "no load_balancer: want a load_balancer block with a kind (%s)", strings.Join(Kinds(), ", "))
	}
	for i, z := range s.Zones {
		zpath := fmt.Sprintf("$.zones[%d]", i)
		if z.LoadBalancer != nil {
			v.loadBalancer(zpath+".load_balancer", z.LoadBalancer)
		} else if s.LoadBalancer == nil {
			v.errorf(zpath, "zone %s: no load balancer: want load_balancer in the zone or at the top of the spec", z.Name)
		}
	}
}

func (v *validator) loadBalancer(path string, lb *LoadBalancer) {
	need := func(key, val string) {
		if val == "" {
			v.errorf(path, "load_balancer kind %s: no %s: want it set", lb.Kind, key)
		}
	}
	known := map[string]bool{}
	for _, sv := range v.spec.Servers {
		known[sv.Name] = true
	}
	checkAddresses := func(m map[string]string) {
		for n := range m {
			if !known[n] {
				v.errorf(path+".addresses", "load_balancer addresses: unknown server %q: want names from servers:", n)
			}
		}
	}
	switch {
	case lb.HAProxy != nil:
		need("address", lb.HAProxy.Address)
		need("backend", lb.HAProxy.Backend)
		for _, member := range slices.Sorted(maps.Keys(lb.HAProxy.Servers)) {
			kpath := keyPath(path+".servers", member)
			if err := names.Member("load_balancer servers: member", member); err != nil {
				v.errorf(kpath, "%v", err)
				continue
			}
			v.check(kpath, haproxy.CheckName("load_balancer servers: "+member+": HAProxy server", lb.HAProxy.Servers[member]))
		}
	case lb.NGINX != nil:
		need("file", lb.NGINX.File)
		need("upstream", lb.NGINX.Upstream)
		need("main_config", lb.NGINX.MainConfig)
		checkAddresses(lb.NGINX.Addresses)
		lb.NGINX.File = v.opts.resolvePath(lb.NGINX.File)
		lb.NGINX.MainConfig = v.opts.resolvePath(lb.NGINX.MainConfig)
	case lb.NGINXPlus != nil:
		need("endpoint", lb.NGINXPlus.Endpoint)
		need("upstream", lb.NGINXPlus.Upstream)
		if lb.NGINXPlus.Endpoint != "" {
			v.httpURL(path+".endpoint", "load_balancer nginx-plus endpoint", lb.NGINXPlus.Endpoint, "want the credentials in username and password")
		}
		checkAddresses(lb.NGINXPlus.Addresses)
		if !lb.NGINXPlus.Password.IsZero() || lb.NGINXPlus.Username != "" {
			need("username", lb.NGINXPlus.Username)
			v.secret(path+".password", &lb.NGINXPlus.Password)
		}
		v.caFile(path+".ca_cert", &lb.NGINXPlus.CACert)
	case lb.F5 != nil:
		need("url", lb.F5.URL)
		need("username", lb.F5.Username)
		if lb.F5.URL != "" {
			v.httpURL(path+".url", "load_balancer f5 url", lb.F5.URL, "want the credentials in username and password")
		}
		need("pool", lb.F5.Pool)
		v.secret(path+".password", &lb.F5.Password)
		v.caFile(path+".ca_cert", &lb.F5.CACert)
		if lb.F5.Insecure {
			v.warnf(path+".insecure", "load_balancer f5: TLS certificate verification is off")
		}
		v.timeoutKey(path, "load_balancer f5", &lb.F5.Timeout, &lb.F5.RequestTimeout)
	case lb.ALB != nil:
		if !strings.HasPrefix(lb.ALB.TargetGroupARN, "arn:") {
			v.errorf(path+".target_group_arn", "load_balancer kind alb: target_group_arn %q: want the target group's ARN (arn:aws:elasticloadbalancing:...)", lb.ALB.TargetGroupARN)
		}
	}
}

// drivers checks the services, platform and probe blocks.
func (v *validator) drivers() {
	s := v.spec
	if c := s.Services; c == nil {
		v.errorf("$", "no services: want a services block with the WinRM username and password")
	} else {
		if c.Username == "" {
			v.errorf("$.services", "services: no username: want the Windows account that controls the services")
		}
		v.secret("$.services.password", &c.Password)
		v.caFile("$.services.ca_cert", &c.CACert)
		for role := range c.ServiceNames {
			switch drivers.Service(role) {
			case drivers.SchedulerService, drivers.DeploymentService, drivers.DeploymentControllerService:
			default:
				v.errorf("$.services.service_names", "services: service_names role %q: want scheduler, deployment or deployment-controller", role)
			}
		}
		if c.Insecure {
			v.warnf("$.services.insecure", "services: TLS certificate verification is off")
		}
	}
	if c := s.Platform; c == nil {
		v.errorf("$", "no platform: want a platform block with the LifeTime url, token and environments")
	} else {
		for key, val := range map[string]string{"url": c.URL, "source_environment": c.SourceEnvironment, "target_environment": c.TargetEnvironment} {
			if val == "" {
				v.errorf("$.platform", "platform: no %s: want it set", key)
			}
		}
		v.check("$.platform.source_environment", names.Text("platform source_environment", c.SourceEnvironment))
		v.check("$.platform.target_environment", names.Text("platform target_environment", c.TargetEnvironment))
		v.check("$.platform.deployment_zone_key", names.Text("platform deployment_zone_key", c.DeploymentZoneKey))
		switch c.PrepareAtFullCapacity {
		case "", "auto", string(steps.PrepareOff), string(steps.PrepareRequire):
		default:
			v.errorf("$.platform.prepare_at_full_capacity", "platform prepare_at_full_capacity %q: want auto (the default), off or require", c.PrepareAtFullCapacity)
		}
		if c.PrepareAtFullCapacity == string(steps.PrepareRequire) && !c.TwoStage {
			v.errorf("$.platform.prepare_at_full_capacity", "platform prepare_at_full_capacity require: two_stage is false: want two_stage: true for a target that runs deployments in two stages, or auto to fall back to one stage")
		}
		for i, a := range c.Applications {
			v.check(fmt.Sprintf("$.platform.applications[%d]", i), names.Text("platform application", a))
		}
		if c.URL != "" {
			v.httpURL("$.platform.url", "platform url", c.URL, "want the token in token: {env: NAME}")
		}
		v.secret("$.platform.token", &c.Token)
		v.caFile("$.platform.ca_cert", &c.CACert)
		if c.Insecure {
			v.warnf("$.platform.insecure", "platform: TLS certificate verification is off")
		}
		v.timeoutKey("$.platform", "platform", &c.Timeout, &c.RequestTimeout)
		if c.MaxPollInterval.D() > 0 && c.MaxPollInterval.D() < c.PollInterval.D() {
			v.errorf("$.platform.max_poll_interval", "platform: max_poll_interval %v is below poll_interval %v: want it at least as long", c.MaxPollInterval.D(), c.PollInterval.D())
		}
	}
	if c := s.Probe; c != nil {
		v.caFile("$.probe.ca_cert", &c.CACert)
		if c.Insecure {
			v.warnf("$.probe.insecure", "probe: TLS certificate verification is off")
		}
	}
}

// secret resolves a required secret reference.
func (v *validator) secret(path string, sec *Secret) {
	line, col := sec.line, sec.col
	if line == 0 {
		line, col = at(v.file, path)
	}
	key := path[strings.LastIndex(path, ".")+1:]
	switch {
	case sec.Inline:
		if !v.spec.AllowInlineSecrets {
			v.errorAt(line, col, nil, "%s is written inline: refused; want {env: NAME} or {file: PATH} (or allow_inline_secrets: true)", key)
			sec.Value = drivers.Secret{}
			return
		}
		v.spec.Warnings = append(v.spec.Warnings, fmt.Sprintf("%s:%d: %s is written inline in the spec: prefer {env: NAME} or {file: PATH}", v.opts.source, line, key))
	case v.opts.noSecrets && (sec.Env != "" || sec.File != ""):
		sec.File = v.opts.resolvePath(sec.File)
		sec.Value, sec.Unresolved = drivers.NewSecret("unresolved-"+key), true
	case sec.Env != "":
		val, ok := v.opts.lookupEnv(sec.Env)
		if !ok || val == "" {
			v.errorAt(line, col, nil, "%s: environment variable %s is not set: want it to hold the secret", key, sec.Env)
			return
		}
		sec.Value = drivers.NewSecret(val)
	case sec.File != "":
		sec.File = v.opts.resolvePath(sec.File)
		b, err := os.ReadFile(sec.File)
		if err != nil {
			v.errorAt(line, col, err, "%s: cannot read secret file: %v", key, err)
			return
		}
		val := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if val == "" {
			v.errorAt(line, col, nil, "%s: secret file %s is empty", key, sec.File)
			return
		}
		sec.Value = drivers.NewSecret(val)
	default:
		v.errorAt(line, col, nil, "no %s: want %s: {env: NAME} or {file: PATH}", key, key)
	}
}

// caFile resolves a CA bundle path and checks it can be read.
func (v *validator) caFile(path string, p *string) {
	if *p == "" {
		return
	}
	*p = v.opts.resolvePath(*p)
	if _, err := readPEM(*p); err != nil {
		v.errorf(path, "%v", err)
	}
}

// farm checks the layout as farm.New will: zone by zone (capacity floor,
// names), then the whole farm (members shared across zones).
func (v *validator) farm() {
	s := v.spec
	zones := s.layout()
	lbs := map[*LoadBalancer]drivers.LoadBalancer{}
	cfg := farm.Config{CapacityFloor: s.CapacityFloor}
	for i, z := range zones {
		zs := z.spec
		if lbs[z.lb] == nil {
			lbs[z.lb] = placeholder{id: len(lbs)}
		}
		zs.LoadBalancer = lbs[z.lb]
		if _, err := farm.New(farm.Config{Zones: []farm.ZoneSpec{zs}, CapacityFloor: s.CapacityFloor}); err != nil {
			path := "$.servers"
			if len(s.Zones) > 0 {
				path = fmt.Sprintf("$.zones[%d]", i)
			}
			line, col := at(v.file, path)
			v.errorAt(line, col, err, "%s", farmMessage(err))
			return
		}
		cfg.Zones = append(cfg.Zones, zs)
	}
	if _, err := farm.New(cfg); err != nil {
		line, col := at(v.file, "$.zones")
		v.errorAt(line, col, err, "%s", farmMessage(err))
	}
}

// constructors builds every driver once, so that what a driver refuses is
// reported at the line of its block, now rather than at Build. The ALB driver
// is left to Build: its constructor reads the AWS configuration.
func (v *validator) constructors() {
	s := v.spec
	zones := s.layout()
	check := func(path string, err error) {
		if err != nil {
			line, col := at(v.file, path)
			v.errorAt(line, col, redactedError{err, s.urls()}, "%s", redactURLs(err.Error(), s.urls()))
		}
	}
	seen := map[*LoadBalancer]bool{}
	for i, z := range zones {
		if z.lb == nil || z.lb.ALB != nil || seen[z.lb] {
			continue
		}
		seen[z.lb] = true
		path := "$.load_balancer"
		if len(s.Zones) > 0 && s.Zones[i].LoadBalancer != nil {
			path = fmt.Sprintf("$.zones[%d].load_balancer", i)
		}
		_, err := newLoadBalancer(context.Background(), z.lb, s.serversFrontedBy(zones, z.lb), nil)
		check(path, err)
	}
	_, err := newServices(s.Services, nil)
	check("$.services", err)
	_, err = newPlatform(s.Platform, s.Release, nil)
	check("$.platform", err)
	_, err = newProber(s.Probe, nil)
	check("$.probe", err)
}

// farmMessage drops the "invalid farm: " prefix of farm.New's errors.
func farmMessage(err error) string {
	return strings.TrimPrefix(err.Error(), farm.ErrInvalidFarm.Error()+": ")
}

// placeholder stands for a load balancer while the layout is checked; it is
// never called.
type placeholder struct{ id int }

func (placeholder) SetState(context.Context, drivers.MemberState, ...string) error {
	return drivers.ErrUnimplemented
}

func (placeholder) Status(context.Context, ...string) ([]drivers.MemberStatus, error) {
	return nil, drivers.ErrUnimplemented
}

// redactedError is an error a driver's constructor returned, with the user
// info of the spec's URLs hidden from its text (errors.Is still sees the
// original). The spec refuses user info in URLs before any constructor
// runs; this is the second line.
type redactedError struct {
	err  error
	urls []string
}

func (e redactedError) Error() string { return redactURLs(e.err.Error(), e.urls) }
func (e redactedError) Unwrap() error { return e.err }

// redactURLs replaces, in msg, each URL that holds an '@' by its redacted
// form, then its user info alone wherever it still appears.
func redactURLs(msg string, urls []string) string {
	for _, raw := range urls {
		at := strings.LastIndexByte(raw, '@')
		if at < 0 {
			continue
		}
		msg = strings.ReplaceAll(msg, raw, drivers.RedactURL(raw))
		start := 0
		if i := strings.Index(raw, "//"); i >= 0 && i < at {
			start = i + 2
		}
		if info := raw[start:at]; info != "" {
			msg = strings.ReplaceAll(msg, info, "[redacted]")
		}
	}
	return msg
}

// urls lists the URL-valued keys of the spec.
func (s *Spec) urls() []string {
	var out []string
	for _, sv := range s.Servers {
		out = append(out, sv.ProbeURL)
	}
	if s.Platform != nil {
		out = append(out, s.Platform.URL)
	}
	lbs := []*LoadBalancer{s.LoadBalancer}
	for _, z := range s.Zones {
		lbs = append(lbs, z.LoadBalancer)
	}
	for _, lb := range lbs {
		switch {
		case lb == nil:
		case lb.F5 != nil:
			out = append(out, lb.F5.URL)
		case lb.NGINXPlus != nil:
			out = append(out, lb.NGINXPlus.Endpoint)
		}
	}
	return out
}

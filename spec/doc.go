// Package spec reads a farm spec file: one YAML file that describes a
// front-end farm (servers, deployment zones, Updating and Loaded groups),
// the drivers that reach it (load balancer, WinRM, LifeTime, HTTP probe), the
// release to deploy and how to run the balanced deployment (timeouts,
// concurrency, retries, failure policy, journal). [Load] decodes and
// validates a file; [Spec.Build] turns it into a *farm.Farm and the
// steps.Balanced plan, ready to Describe, Run or Resume.
//
//	s, err := spec.Load("production.yaml")   // every error names file:line:column
//	if err != nil { ... }
//	f, plan, err := s.Build(ctx)             // constructors only: nothing is contacted
//	plan.Describe(os.Stdout)                 // the runbook, with the real names
//	report, err := plan.Run(ctx)
//
// It is for tools that run deployments from a file (the balancedctl example
// is one). It is not a general configuration system: the spec declares
// approval gates (a command or a prompt), HTTP smoke tests of each Updating
// server and webhook notifications around any step (see [Approval],
// [SmokeTest], [Notification]); other hooks and custom steps are code, added
// to the plan Build returns; and it does not render or template files (one
// file, one farm).
//
// # Decoding
//
// Decoding is strict (github.com/goccy/go-yaml): an unknown key, a key of
// another load balancer kind, a duplicate key or a value of the wrong type is
// an error. Validation then checks the farm as a whole: a zone without a
// loaded (or updating) group, a server listed twice or in no zone, a name
// that is not a server, the Deployment Controller in a loaded group, a
// loaded group below the capacity floor, an unknown load balancer kind,
// missing driver settings, and every driver's own checks (its constructor
// runs once, contacting nothing). Each problem is an [*Error] with the
// line and column of the offending node; all of them are returned at once
// (errors.Join), and each wraps [ErrInvalid].
//
// # Secrets
//
// Passwords and tokens are references, resolved when the spec is loaded:
//
//	password: {env: WINRM_PASSWORD}          # an environment variable
//	password: {file: /run/secrets/winrm}     # a file; one trailing newline is dropped
//
// A secret written inline is refused unless the spec sets
// allow_inline_secrets: true, and then each one gets a warning
// (Spec.Warnings). A resolved secret is a drivers.Secret ([Secret].Value):
// printing or logging a Spec, with %v, %+v, JSON or log/slog, shows
// "[redacted]", and no error quotes a secret. Relative paths (secret files,
// CA bundles, the journal, NGINX files) are taken from the spec file's
// directory.
//
// # Schema
//
// A full spec, annotated. Only release, servers, a load balancer, services
// and platform are required; every other key has the default of the package
// that uses it.
//
// Every block that talks to a system names its per-request limit timeout.
// The f5 and platform blocks used to call it request_timeout: that key is
// still read, with a warning, and refused beside timeout.
//
//	release:                              # what to deploy (drivers.Release)
//	  version: "2026.11.27.1"             # what the probes must report afterwards; required
//	  notes: "CHG-20417"                  # attached to the LifeTime deployment
//	  applications:                       # the application versions LifeTime deploys
//	    - name: Orders
//	      version: "2026.11.27.1"
//	      probe:                          # this application on each server (steps.Config.Probes);
//	                                      #   with the probe block's settings; when one application
//	                                      #   has a probe, every one must; none: the probe block alone
//	        path: /Orders/rest/Health/Version   # required; appended to each server's probe_url
//	        version: "4.2.0"              # what it reports once installed; default: its version
//	    - {name: Customer Portal, version: "2026.11.27.1", probe: {path: /CustomerPortal/health}}
//
//	servers:                              # every front-end; required
//	  - name: fe01                        # farm-unique name (letters, digits, . - _)
//	    address: 10.20.1.11               # WinRM host; default: name
//	    member: fe01                      # load-balancer member (HAProxy server, F5 "node:port",
//	                                      #   ALB target id); default: name
//	    probe_url: https://10.20.1.11/    # the application on this server alone;
//	                                      #   default: https://<address>/
//	    controller: true                  # the Deployment Controller; at most one, in an updating group
//	  - {name: fe02, address: 10.20.1.12}
//	  - {name: fe03, address: 10.20.1.13}
//	  - {name: fe04, address: 10.20.1.14}
//	  - {name: fe05, address: 10.20.2.11}
//	  - {name: fe06, address: 10.20.2.12}
//
//	zones:                                # default: one zone "default", split: auto
//	  - name: internal
//	    updating: [fe01, fe02]            # explicit groups: both lists required
//	    loaded: [fe03, fe04]
//	  - name: public
//	    split: auto                       # or halve these servers (controller and the
//	    servers: [fe05, fe06]             #   larger half updating), see farm.AutoSplit
//	    load_balancer: {...}              # this zone's own load balancer (same keys as below)
//
//	load_balancer:                        # fronts every zone without its own
//	  kind: haproxy                       # haproxy | nginx | nginx-plus | f5 | alb
//	  # kind haproxy (lbdrivers/haproxy, Runtime API):
//	  address: /run/haproxy/admin.sock    # stats socket at level admin, or host:port
//	  network: unix                       # unix (default) | tcp | tcp4 | tcp6
//	  backend: be_outsystems              # required
//	  servers: {fe01: fe01_443}           # member -> HAProxy server name, where they differ
//	  timeout: 5s
//	  # kind nginx (open-source NGINX, lbdrivers/nginx.NewOSS; run on the NGINX host):
//	  #   file: /etc/nginx/conf.d/upstream.conf   main_config: /etc/nginx/nginx.conf
//	  #   upstream: outsystems   port: 443   addresses: {fe01: "10.0.0.1:8443"}
//	  #   directives: ["zone outsystems 64k"]   server_params: ["max_fails=2"]
//	  #   binary: /usr/sbin/nginx   prefix: ...   pid_file: /run/nginx.pid
//	  #   drain_period: 30s   reload_timeout: 10s   reload_settle: 1s
//	  # kind nginx-plus (NGINX Plus REST API, lbdrivers/nginx.NewPlus):
//	  #   endpoint: https://lb:8443/api   upstream: outsystems
//	  #   api_version: 0                    # 0 (default): the highest of 4-9 the server lists at GET /api/
//	  #   port: 443   addresses: {...}   username: admin   password: {env: NGINX_PASSWORD}
//	  #   ca_cert: lb-ca.pem
//	  # kind f5 (BIG-IP iControl REST, lbdrivers/f5; members are "node:port"):
//	  #   url: https://bigip.example   username: svc   password: {env: F5_PASSWORD}
//	  #   partition: Common   pool: pool_outsystems   ca_cert: bigip-ca.pem
//	  #   insecure: false   token_timeout: 2h   timeout: 30s
//	  # kind alb (AWS ALB target group, lbdrivers/awsalb; credentials from the AWS SDK chain):
//	  #   target_group_arn: arn:aws:elasticloadbalancing:...   region: eu-west-1   profile: prod
//	  #   settle_period: 30s                # a deregistered target counts as out only after this (ALB deregisters asynchronously)
//
//	services:                             # WinRM (drivers/winrm); required
//	  username: 'CORP\svc-deploy'
//	  password: {env: WINRM_PASSWORD}     # required
//	  plain_http: false                   # default HTTPS on 5986, certificates verified; true: HTTP on 5985
//	                                      #   (negotiate then encrypts every message with NTLM)
//	  port: 5986
//	  auth: negotiate                     # negotiate (default; NTLM, what a stock server accepts) | ntlm (the same)
//	                                      #   | basic (disabled on stock servers; local accounts only) | kerberos
//	  kerberos:                           # auth: kerberos only (HTTPS); realm required
//	    realm: CORP.EXAMPLE   config: /etc/krb5.conf   ccache: /tmp/krb5cc_1000   spn: HTTP/fe01.corp.example
//	  lease_dir: 'C:\ProgramData\balanced'  # farm lease files on the Deployment Controller server (default)
//	  ca_cert: corp-ca.pem                # default: the system roots
//	  insecure: false                     # skip TLS verification (a warning)
//	  timeout: 2m                         # one service call
//	  service_names:                      # roles -> Windows service names, where they differ
//	    scheduler: OutSystems Scheduler Service
//
//	platform:                             # LifeTime Deployment API v2 (drivers/lifetime); required
//	  url: https://lifetime.corp.example/lifetimeapi/rest/v2
//	  token: {env: LT_TOKEN}              # the service account's token; required
//	  source_environment: Quality         # required
//	  target_environment: Production      # required
//	  deployment_zone_key: ""             # zone of an application new to the target ("" = default);
//	                                      #   an application already there keeps its own zone
//	  applications: [Orders]              # what counts as "deployed" for a rollback;
//	                                      #   default: the release's applications
//	  tag_versions: false                 # tag the source's running version when missing
//	  keep_outdated: false                # true: start with RedeployOutdated=false
//	  continue_prepared: false            # continue two-stage (prepared) deployments
//	  two_stage: false                    # the target runs deployments in two stages (LifeTime's
//	                                      #   "Execute deployments in two stages"; the API cannot say)
//	  prepare_at_full_capacity: auto      # auto: with two_stage, prepare the release while every
//	                                      #   server serves (step prepare), continue it in publish;
//	                                      #   off: one stage; require: refuse a one-stage target
//	  abort_on_stop: false                # abort the deployment when the run stops in publish;
//	                                      #   by default it keeps running and resume follows it
//	  poll_interval: 2s                   # status reads; default timeouts.deploy_poll_interval
//	  max_poll_interval: 2s               # the delay grows by half up to this while nothing changes
//	  ca_cert: ...   insecure: false   timeout: 60s
//
//	probe:                                # HTTP probe of each server (drivers/httpprobe); optional
//	  path: /Orders/rest/Health/Version   # appended to the server's probe_url (the
//	                                      #   release's applications' probes have their own)
//	  host: apps.corp.example             # Host header
//	  server_name: apps.corp.example      # TLS name to verify
//	  expect_status: 200
//	  version_json: version               # or version_header: X-App-Version (the default),
//	                                      #   or version_regexp: 'v=([0-9.]+)'
//	  timeout: 10s   ca_cert: ...   insecure: false
//
//	timeouts:                             # steps.Config; each default is package steps'
//	  drain: 5m                           # wait for a drained member's connections
//	  drain_period: 30s                   # wait when the LB cannot count connections
//	                                      #   (NGINX OSS, ALB: its deregistration delay)
//	  health: 2m                          # members healthy again
//	  publish: 60m                        # the LifeTime deployment
//	  install: 30m                        # each server running the release
//	  quiet_period: 30s                   # each server's probes unchanged this long once they
//	                                      #   all agree, before it counts as updated; default 0
//	  confirm_delay: 500ms poll_interval: 250ms   deploy_poll_interval: 2s   progress_interval: 10s
//	  step: 0                             # bound on every step; 0 = none
//	fail_on_drain_timeout: false          # a drain that times out fails the step
//
//	concurrency: 8                        # server actions in flight; default 1024
//	limits:                               # driver calls in flight per system
//	  host: 2                             #   per front-end (WinRM); default 2
//	  load_balancer: 4                    #   per load balancer; default 4
//	  platform: 8                         #   to LifeTime; default 8
//	capacity_floor: 0.34                  # share of each zone that must be loaded
//	retry:                                # transient (unavailable) errors only
//	  max_attempts: 5
//	  initial_backoff: 1s
//	  max_backoff: 30s
//	  multiplier: 2
//	  jitter: 0.2
//	on_failure: halt                      # halt (default: safe state, resumable) | rollback
//	journal: /var/lib/balanced/production.journal   # JSON lines; enables resume and the host
//	                                                 #   lock; its directory must exist
//	lock_dir: /var/lib/balanced/locks     # host lock files (lock.File); default
//	                                      #   lock.DefaultDir(), one per user
//	accept_disabled_schedulers: false     # preflight accepts Schedulers already disabled
//	                                      #   (disabled on purpose, or a lost journal)
//	allow_inline_secrets: false
//
//	approvals:                            # steps inserted before or after a step (by step ID)
//	  - before: switch-traffic            # or after: <step>; exactly one
//	    id: approve-switch                # default approve-before-switch-traffic
//	    message: Switch traffic to 2.4.0? # required
//	    command: [/usr/local/bin/change-approved, CHG-1]  # exit 0 approves, 1 declines, else an error;
//	                                      #   BALANCED_APPROVAL, BALANCED_MESSAGE, BALANCED_RELEASE set
//	    # prompt: true                    # instead of command: ask a person (Drivers.Prompt; balancedctl
//	                                      #   asks on its terminal, and refuses to start without one)
//	    timeout: 30m                      # default none
//	smoke_tests:                          # GET on each Updating server's probe URL, directly
//	  - name: orders-api                  # required, unique
//	    after: verify-updating            # default; or before:/after: any step
//	    path: /Orders/rest/Health/Check   # required; a query may follow
//	    host: apps.corp.example           # Host header; default probe.host
//	    expect_status: 200                # default 200; no redirect is followed
//	    expect_body: '"status":"ok"'      # a substring of the body; default any
//	    timeout: 10s                      # per request; default 10s
//	notifications:                        # JSON POSTs (progress.Webhook)
//	  - url: {env: DEPLOY_WEBHOOK_URL}    # a secret, like a password; https (http is warned about)
//	    before: [switch-traffic]          # when these steps start
//	    after: [verify-updating]          # when these steps end
//	    run: true                         # the run's start and end; default true
//	    timeout: 5s                       # per POST; a failure is logged, never fails the run
//
// Durations are written as Go writes them: 30s, 5m, 1h30m. Zero means the
// default; any other value is at least [MinInterval] (100ms) for an
// interval, delay, period, settle or backoff, at least [MinTimeout] (1s) for
// a timeout, and at most [MaxDuration] (24h). retry.max_attempts is at most
// [MaxAttempts] (100), retry.multiplier 0 or 1 to [MaxMultiplier] (10),
// retry.jitter at most 1 (negative: none). The release's version, notes and
// application names and versions, and every server and zone name, are one
// line of printable text: no control character, ANSI escape or newline,
// since the runbook prints them.
// URLs (probe_url, platform url, f5 url, nginx-plus endpoint) are http:// or
// https:// and carry no credentials; no error quotes a URL's user info.
//
// # A release of several applications
//
// Each front-end's Deployment service installs the applications of a
// release one at a time, and OutSystems hot-deploys each (the old version
// answers until the new one is in), so one probe sees one application
// only. Give each application of the release its probe (path, and version
// when it reports another than its own): verify-updating and await-loaded
// then wait for every application on every server. No documented
// OutSystems API reports a front-end's Deployment service work (the runbook
// reads its threads, Idle or Sleeping, on Service Center's Environment
// Health page; the LifeTime API v2 has no such endpoint), so these probes,
// with timeouts.quiet_period after they agree, are the readiness signal. A
// release of several applications without their probes keeps the probe
// block's one probe, with a warning; an application probe path is relative
// (no scheme, host or fragment) and printable.
//
// # Testing with substitute drivers
//
// [Spec.BuildWith] replaces some or all drivers, for example with package
// simulate's, so that a program's use of a spec can be tested without a
// network:
//
//	f, plan, err := s.BuildWith(ctx, spec.Drivers{
//		LoadBalancer: func(zone string) drivers.LoadBalancer { return sim.LoadBalancer(zone) },
//		Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
//	})
package spec

package spec

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Load balancer kinds, the values of the load_balancer's kind key.
const (
	KindHAProxy   = "haproxy"    // lbdrivers/haproxy, the Runtime API
	KindNGINX     = "nginx"      // lbdrivers/nginx, open-source NGINX (managed file, reload)
	KindNGINXPlus = "nginx-plus" // lbdrivers/nginx, the NGINX Plus REST API
	KindF5        = "f5"         // lbdrivers/f5, BIG-IP iControl REST
	KindALB       = "alb"        // lbdrivers/awsalb, an AWS ALB target group
)

// Kinds lists the load balancer kinds a spec accepts.
func Kinds() []string { return []string{KindHAProxy, KindNGINX, KindNGINXPlus, KindF5, KindALB} }

// LoadBalancer is a load_balancer block: a kind and that kind's settings,
// side by side in one mapping. Exactly one of the kind fields is set after
// decoding, the one Kind names; keys of another kind are refused.
type LoadBalancer struct {
	Kind      string     `yaml:"kind" json:"kind"`
	HAProxy   *HAProxy   `yaml:"-" json:"haproxy,omitempty"`
	NGINX     *NGINX     `yaml:"-" json:"nginx,omitempty"`
	NGINXPlus *NGINXPlus `yaml:"-" json:"nginx_plus,omitempty"`
	F5        *F5        `yaml:"-" json:"f5,omitempty"`
	ALB       *ALB       `yaml:"-" json:"alb,omitempty"`

	line int
}

// HAProxy configures lbdrivers/haproxy.
type HAProxy struct {
	// Address is the stats socket at level admin: a unix socket path, or
	// host:port with network tcp. Required.
	Address string `yaml:"address" json:"address"`
	// Network is "unix" (the default), "tcp", "tcp4" or "tcp6".
	Network string `yaml:"network" json:"network,omitempty"`
	// Backend is the HAProxy backend whose servers are the members. Required.
	Backend string `yaml:"backend" json:"backend"`
	// Servers maps members to HAProxy server names where they differ.
	Servers map[string]string `yaml:"servers" json:"servers,omitempty"`
	// Timeout bounds one Runtime API exchange. Zero means the driver's default.
	Timeout Duration `yaml:"timeout" json:"timeout,omitzero"`
}

// NGINX configures the open-source NGINX driver (lbdrivers/nginx.NewOSS).
type NGINX struct {
	// File is the managed upstream include file. Required.
	File string `yaml:"file" json:"file"`
	// Upstream is the upstream block's name. Required.
	Upstream string `yaml:"upstream" json:"upstream"`
	// MainConfig is the main configuration nginx -t checks. Required.
	MainConfig string `yaml:"main_config" json:"main_config"`
	// Port is appended to each server's address in the upstream.
	Port int `yaml:"port" json:"port,omitempty"`
	// Addresses maps server names to upstream addresses where the default
	// (address:port) does not fit.
	Addresses    map[string]string `yaml:"addresses" json:"addresses,omitempty"`
	Directives   []string          `yaml:"directives" json:"directives,omitempty"`
	ServerParams []string          `yaml:"server_params" json:"server_params,omitempty"`
	Binary       string            `yaml:"binary" json:"binary,omitempty"`
	Prefix       string            `yaml:"prefix" json:"prefix,omitempty"`
	PIDFile      string            `yaml:"pid_file" json:"pid_file,omitempty"`
	// DrainPeriod is how long a drained member is reported Draining.
	DrainPeriod   Duration `yaml:"drain_period" json:"drain_period,omitzero"`
	ReloadTimeout Duration `yaml:"reload_timeout" json:"reload_timeout,omitzero"`
	ReloadSettle  Duration `yaml:"reload_settle" json:"reload_settle,omitzero"`
}

// NGINXPlus configures the NGINX Plus driver (lbdrivers/nginx.NewPlus).
type NGINXPlus struct {
	// Endpoint is the URL of the API location. Required.
	Endpoint string `yaml:"endpoint" json:"endpoint"`
	// APIVersion is the API version in the path (4 to 9). Zero means
	// negotiated: the highest the server lists at GET <endpoint>/.
	APIVersion int `yaml:"api_version" json:"api_version,omitempty"`
	// Upstream is the HTTP upstream of the members. Required.
	Upstream string `yaml:"upstream" json:"upstream"`
	// Port is appended to each server's address to name its peer.
	Port int `yaml:"port" json:"port,omitempty"`
	// Addresses maps server names to peer addresses where the default
	// (address:port) does not fit.
	Addresses map[string]string `yaml:"addresses" json:"addresses,omitempty"`
	Username  string            `yaml:"username" json:"username,omitempty"`
	Password  Secret            `yaml:"password" json:"password,omitzero"`
	// CACert is a PEM file of the authorities that sign the API's
	// certificate. Empty means the system roots.
	CACert string `yaml:"ca_cert" json:"ca_cert,omitempty"`
}

// F5 configures lbdrivers/f5.
type F5 struct {
	// URL is the BIG-IP management address. Required.
	URL      string `yaml:"url" json:"url"`
	Username string `yaml:"username" json:"username"`
	Password Secret `yaml:"password" json:"password"`
	// Partition is the administrative partition. Empty means Common.
	Partition string `yaml:"partition" json:"partition,omitempty"`
	// Pool is the LTM pool of the members ("node:port"). Required.
	Pool         string   `yaml:"pool" json:"pool"`
	CACert       string   `yaml:"ca_cert" json:"ca_cert,omitempty"`
	Insecure     bool     `yaml:"insecure" json:"insecure,omitempty"`
	TokenTimeout Duration `yaml:"token_timeout" json:"token_timeout,omitzero"`
	// Timeout bounds each request to the BIG-IP. Zero means the driver's
	// default (f5.Config.Timeout).
	Timeout Duration `yaml:"timeout" json:"timeout,omitzero"`
	// RequestTimeout is read from the key request_timeout.
	//
	// Deprecated: request_timeout is the former name of timeout; a spec
	// that sets it loads with a warning (and with an error if it sets
	// timeout too) and Load moves it into Timeout.
	RequestTimeout Duration `yaml:"request_timeout" json:"request_timeout,omitzero"`
}

// ALB configures lbdrivers/awsalb. Credentials come from the AWS SDK's
// standard chain (environment, shared files, IAM role), never from the spec.
type ALB struct {
	// TargetGroupARN is the target group of the members. Required.
	TargetGroupARN string `yaml:"target_group_arn" json:"target_group_arn"`
	// Region overrides the region in the ARN.
	Region string `yaml:"region" json:"region,omitempty"`
	// Profile selects a profile of the shared AWS configuration files.
	Profile string `yaml:"profile" json:"profile,omitempty"`
	// SettlePeriod is how long after a deregistration a target still
	// counts as receiving new requests (ALB deregisters asynchronously).
	// Zero means awsalb.DefaultSettlePeriod (30s).
	SettlePeriod Duration `yaml:"settle_period" json:"settle_period,omitzero"`
}

// Services configures the WinRM driver (drivers/winrm) that stops and
// restores the OutSystems services.
type Services struct {
	Username string `yaml:"username" json:"username"`
	Password Secret `yaml:"password" json:"password"`
	// PlainHTTP selects the unencrypted WinRM HTTP listener (port 5985)
	// instead of HTTPS (5986, certificates verified), the default.
	PlainHTTP bool `yaml:"plain_http" json:"plain_http,omitempty"`
	Port      int  `yaml:"port" json:"port,omitempty"`
	// Auth is "negotiate" (the default, NTLM; "ntlm" is the same),
	// "basic" (disabled on a stock Windows server, local accounts only) or
	// "kerberos" (HTTPS only, with Kerberos).
	Auth string `yaml:"auth" json:"auth,omitempty"`
	// Kerberos configures auth: kerberos.
	Kerberos *Kerberos `yaml:"kerberos" json:"kerberos,omitempty"`
	// LeaseDir is the folder on the Deployment Controller server that holds
	// the farm lease file; default C:\ProgramData\balanced.
	LeaseDir string   `yaml:"lease_dir" json:"lease_dir,omitempty"`
	CACert   string   `yaml:"ca_cert" json:"ca_cert,omitempty"`
	Insecure bool     `yaml:"insecure" json:"insecure,omitempty"`
	Timeout  Duration `yaml:"timeout" json:"timeout,omitzero"`
	// ServiceNames maps the roles scheduler, deployment and
	// deployment-controller to Windows service names where they differ
	// from the OutSystems defaults.
	ServiceNames map[string]string `yaml:"service_names" json:"service_names,omitempty"`
}

// Kerberos configures WinRM's Kerberos authentication (services.auth:
// kerberos).
type Kerberos struct {
	// Realm is the Kerberos realm, for example FARM.EXAMPLE. Required.
	Realm string `yaml:"realm" json:"realm"`
	// Config is the krb5.conf file; default /etc/krb5.conf.
	Config string `yaml:"config" json:"config,omitempty"`
	// CCache is a credential cache (from kinit) used instead of the
	// password.
	CCache string `yaml:"ccache" json:"ccache,omitempty"`
	// SPN is the service principal name; default HTTP/<host>.
	SPN string `yaml:"spn" json:"spn,omitempty"`
}

// Platform configures the LifeTime driver (drivers/lifetime).
type Platform struct {
	// URL is the LifeTime Deployment API root
	// (https://lt.example/lifetimeapi/rest/v2). Required.
	URL   string `yaml:"url" json:"url"`
	Token Secret `yaml:"token" json:"token"`
	// SourceEnvironment and TargetEnvironment are environment names as
	// LifeTime shows them. Required.
	SourceEnvironment string `yaml:"source_environment" json:"source_environment"`
	TargetEnvironment string `yaml:"target_environment" json:"target_environment"`
	// DeploymentZoneKey is the zone of an application the target does not
	// run yet; an application already there keeps its own zone.
	DeploymentZoneKey string `yaml:"deployment_zone_key" json:"deployment_zone_key,omitempty"`
	// Applications limits what is read as the deployed release. Empty means
	// the release's applications.
	Applications []string `yaml:"applications" json:"applications,omitempty"`
	TagVersions  bool     `yaml:"tag_versions" json:"tag_versions,omitempty"`
	// KeepOutdated makes LifeTime leave outdated consumers alone
	// (RedeployOutdated=false); by default they are redeployed.
	KeepOutdated bool `yaml:"keep_outdated" json:"keep_outdated,omitempty"`
	// ContinuePrepared continues a prepared two-stage deployment
	// (steps.Config.ContinuePrepared).
	ContinuePrepared bool `yaml:"continue_prepared" json:"continue_prepared,omitempty"`
	// TwoStage declares that the target environment runs deployments in
	// two stages ("Execute deployments in two stages" in LifeTime, which
	// its API cannot read: lifetime.Config.TwoStage).
	TwoStage bool `yaml:"two_stage" json:"two_stage,omitempty"`
	// PrepareAtFullCapacity is auto (the default: prepare the release
	// while every server serves where the target is two-stage, one stage
	// otherwise), off or require (steps.Config.PrepareAtFullCapacity).
	PrepareAtFullCapacity string `yaml:"prepare_at_full_capacity" json:"prepare_at_full_capacity,omitempty"`
	// AbortOnStop aborts the deployment when the run stops during publish
	// (steps.Config.AbortPublishOnStop); by default it is left running and
	// resume follows it.
	AbortOnStop bool   `yaml:"abort_on_stop" json:"abort_on_stop,omitempty"`
	CACert      string `yaml:"ca_cert" json:"ca_cert,omitempty"`
	Insecure    bool   `yaml:"insecure" json:"insecure,omitempty"`
	// Timeout bounds each request to LifeTime. Zero means the driver's
	// default (lifetime.Config.Timeout).
	Timeout Duration `yaml:"timeout" json:"timeout,omitzero"`
	// RequestTimeout is read from the key request_timeout.
	//
	// Deprecated: request_timeout is the former name of timeout; a spec
	// that sets it loads with a warning (and with an error if it sets
	// timeout too) and Load moves it into Timeout.
	RequestTimeout Duration `yaml:"request_timeout" json:"request_timeout,omitzero"`
	// PollInterval and MaxPollInterval are how often the publish step reads
	// the deployment's status: first after PollInterval, the delay growing
	// by half up to MaxPollInterval while the state stays the same
	// (steps.Config.PlatformPollInterval and PlatformMaxPollInterval).
	// Defaults: timeouts.deploy_poll_interval, and no growth.
	PollInterval    Duration `yaml:"poll_interval" json:"poll_interval,omitzero"`
	MaxPollInterval Duration `yaml:"max_poll_interval" json:"max_poll_interval,omitzero"`
}

// Probe configures the HTTP probe (drivers/httpprobe) of each front-end.
type Probe struct {
	Path          string   `yaml:"path" json:"path,omitempty"`
	Host          string   `yaml:"host" json:"host,omitempty"`
	ServerName    string   `yaml:"server_name" json:"server_name,omitempty"`
	CACert        string   `yaml:"ca_cert" json:"ca_cert,omitempty"`
	Insecure      bool     `yaml:"insecure" json:"insecure,omitempty"`
	ExpectStatus  int      `yaml:"expect_status" json:"expect_status,omitempty"`
	VersionHeader string   `yaml:"version_header" json:"version_header,omitempty"`
	VersionJSON   string   `yaml:"version_json" json:"version_json,omitempty"`
	VersionRegexp string   `yaml:"version_regexp" json:"version_regexp,omitempty"`
	Timeout       Duration `yaml:"timeout" json:"timeout,omitzero"`
}

// UnmarshalYAML reads the kind, then decodes the whole block strictly into
// that kind's settings, so that a key of another kind is an error at its line.
func (lb *LoadBalancer) UnmarshalYAML(n ast.Node) error {
	*lb = LoadBalancer{line: n.GetToken().Position.Line}
	pos := n.GetToken().Position
	m, ok := n.(*ast.MappingNode)
	if !ok {
		if mv, isMV := n.(*ast.MappingValueNode); isMV {
			m = &ast.MappingNode{Values: []*ast.MappingValueNode{mv}}
		} else {
			return &Error{Line: pos.Line, Column: pos.Column, Msg: "load_balancer: want a mapping with a kind and its settings"}
		}
	}
	var kindNode ast.Node
	for _, v := range m.Values {
		if v.Key.String() == "kind" {
			kindNode = v.Value
		}
	}
	if kindNode == nil {
		return &Error{Line: pos.Line, Column: pos.Column, Msg: "load_balancer: no kind: want kind: " + strings.Join(Kinds(), " | ")}
	}
	if err := yaml.NodeToValue(kindNode, &lb.Kind); err != nil {
		return err
	}
	var settings any
	switch lb.Kind {
	case KindHAProxy:
		settings = &struct {
			Kind    string `yaml:"kind"`
			HAProxy `yaml:",inline"`
		}{}
	case KindNGINX:
		settings = &struct {
			Kind  string `yaml:"kind"`
			NGINX `yaml:",inline"`
		}{}
	case KindNGINXPlus:
		settings = &struct {
			Kind      string `yaml:"kind"`
			NGINXPlus `yaml:",inline"`
		}{}
	case KindF5:
		settings = &struct {
			Kind string `yaml:"kind"`
			F5   `yaml:",inline"`
		}{}
	case KindALB:
		settings = &struct {
			Kind string `yaml:"kind"`
			ALB  `yaml:",inline"`
		}{}
	default:
		kp := kindNode.GetToken().Position
		return &Error{Line: kp.Line, Column: kp.Column, Msg: fmt.Sprintf("load_balancer kind %q: want one of %s", lb.Kind, strings.Join(Kinds(), ", "))}
	}
	if err := yaml.NodeToValue(m, settings, yaml.Strict()); err != nil {
		var unknown *yaml.UnknownFieldError
		if errors.As(err, &unknown) && unknown.Token != nil {
			return &Error{Line: unknown.Token.Position.Line, Column: unknown.Token.Position.Column,
				Msg: fmt.Sprintf("%s for load_balancer kind %s (its keys: %s)", unknown.GetMessage(), lb.Kind, strings.Join(keysOf(lb.Kind), ", "))}
		}
		return err
	}
	// The settings are the second field of the anonymous struct.
	val := reflect.ValueOf(settings).Elem().Field(1).Addr().Interface()
	switch c := val.(type) {
	case *HAProxy:
		lb.HAProxy = c
	case *NGINX:
		lb.NGINX = c
	case *NGINXPlus:
		lb.NGINXPlus = c
	case *F5:
		lb.F5 = c
	case *ALB:
		lb.ALB = c
	}
	return nil
}

// keysOf lists the YAML keys of a load balancer kind, for error messages.
func keysOf(kind string) []string {
	var v any
	switch kind {
	case KindHAProxy:
		v = HAProxy{}
	case KindNGINX:
		v = NGINX{}
	case KindNGINXPlus:
		v = NGINXPlus{}
	case KindF5:
		v = F5{}
	case KindALB:
		v = ALB{}
	}
	keys := []string{"kind"}
	keys = append(keys, yamlKeys(v)...)
	slices.Sort(keys[1:])
	return keys
}

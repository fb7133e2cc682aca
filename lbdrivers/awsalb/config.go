package awsalb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/balanced-deploy/balanced/drivers"
)

// API is the part of the ELBv2 client the driver uses.
// *elasticloadbalancingv2.Client implements it; tests may pass a client
// pointed at package albtest's fake, or their own implementation.
type API interface {
	RegisterTargets(ctx context.Context, in *elbv2.RegisterTargetsInput, optFns ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
	DeregisterTargets(ctx context.Context, in *elbv2.DeregisterTargetsInput, optFns ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
	DescribeTargetGroupAttributes(ctx context.Context, in *elbv2.DescribeTargetGroupAttributesInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error)
}

var _ API = (*elbv2.Client)(nil)

// Config configures a [Driver]. Fields marked optional have a sensible
// default when left zero.
type Config struct {
	// TargetGroupARN is the ARN of the target group whose targets the
	// driver manages, for example
	// "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef".
	// Required.
	TargetGroupARN string
	// Region is the AWS region of the target group. Optional: the region in
	// TargetGroupARN. Used only when Client is nil.
	Region string
	// Client is the ELBv2 API. Optional: by default New builds an
	// *elasticloadbalancingv2.Client from the SDK's standard configuration
	// (config.LoadDefaultConfig: environment, shared config and credential
	// files, IAM roles), with Region and LoadOptions applied.
	Client API
	// LoadOptions are extra options for config.LoadDefaultConfig (a
	// profile, a retry mode...). Optional; used only when Client is nil.
	LoadOptions []func(*config.LoadOptions) error
	// SettlePeriod is how long after a deregistration the driver still
	// counts a target as possibly receiving new requests: it reports the
	// target Out only once DescribeTargetHealth reads it draining or unused
	// AND this period has passed since the DeregisterTargets call (or, for
	// a target this driver did not deregister, since it first read it so).
	// Until then the target reads Draining. ALB deregisters asynchronously;
	// see [DefaultSettlePeriod]. Optional: zero means DefaultSettlePeriod;
	// negative means none (trust DescribeTargetHealth at once); at most
	// [MaxSettlePeriod].
	SettlePeriod time.Duration
	// Logger receives the driver's logs. Optional: nil discards them.
	Logger *slog.Logger
}

// DefaultSettlePeriod is Config.SettlePeriod's default. AWS documents that
// "the load balancer stops routing requests to a target as soon as it is
// deregistered" (ALB User Guide, Deregistration delay) and gives no figure
// for how long that takes to reach every load balancer node; users measure
// seconds: kubernetes-sigs/aws-load-balancer-controller issue #1064 (ALB
// still sent requests after the deregistration: a 5 s wait was not enough,
// 25 s was) and #1719 ("ELB API propagation time: about 10s"). 30 s covers
// both with a margin. (Network Load Balancers are reported to take up to 2
// minutes, issue #2366; this driver is for ALB.)
const DefaultSettlePeriod = 30 * time.Second

// MaxSettlePeriod bounds Config.SettlePeriod: ALB's longest
// deregistration delay (deregistration_delay.timeout_seconds, 0-3600 s).
const MaxSettlePeriod = time.Hour

// arnRE matches an ELBv2 target-group ARN and captures its region.
var arnRE = regexp.MustCompile(`^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):[0-9]{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$`)

// regionRE matches an AWS region name.
var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)

// New validates cfg and returns a driver. When cfg.Client is nil it loads
// the SDK's default configuration (which may read files and environment
// variables, but makes no API call).
func New(ctx context.Context, cfg Config) (*Driver, error) {
	m := arnRE.FindStringSubmatch(cfg.TargetGroupARN)
	if m == nil {
		return nil, fmt.Errorf("%w: awsalb: TargetGroupARN %q: want arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<16 hex digits>", drivers.ErrInvalidArgument, cfg.TargetGroupARN)
	}
	if cfg.Region == "" {
		cfg.Region = m[1]
	}
	if !regionRE.MatchString(cfg.Region) {
		return nil, fmt.Errorf("%w: awsalb: Region %q: want an AWS region such as eu-west-1", drivers.ErrInvalidArgument, cfg.Region)
	}
	if cfg.SettlePeriod > MaxSettlePeriod {
		return nil, fmt.Errorf("%w: awsalb: SettlePeriod %v: want at most %v (0 for %v, negative for none)", drivers.ErrInvalidArgument, cfg.SettlePeriod, MaxSettlePeriod, DefaultSettlePeriod)
	}
	switch {
	case cfg.SettlePeriod == 0:
		cfg.SettlePeriod = DefaultSettlePeriod
	case cfg.SettlePeriod < 0:
		cfg.SettlePeriod = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Client == nil {
		opts := append([]func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}, cfg.LoadOptions...)
		awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("awsalb: loading the AWS configuration: %w", err)
		}
		cfg.Client = elbv2.NewFromConfig(awsCfg)
	}
	client := cfg.Client
	cfg.Client = nil // kept only in api, see Driver
	return &Driver{cfg: cfg, api: func() API { return client }, asked: map[target]request{}, out: map[target]time.Time{}, names: map[target]string{}}, nil
}

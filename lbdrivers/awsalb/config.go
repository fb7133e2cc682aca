package awsalb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"

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
	// Logger receives the driver's logs. Optional: nil discards them.
	Logger *slog.Logger
}

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
	return &Driver{cfg: cfg, api: func() API { return client }, asked: map[target]request{}, names: map[target]string{}}, nil
}

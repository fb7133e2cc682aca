package awsalb

import "github.com/balanced-deploy/balanced/drivers"

var _ drivers.Identifier = (*Driver)(nil)

// Identity names the load balancer for the farm's identity (the key of the
// lock that keeps two runs off one farm): the target group's ARN, which is
// unique across accounts and regions, for example
// "alb:arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/app/0123456789abcdef".
func (d *Driver) Identity() string { return "alb:" + d.cfg.TargetGroupARN }

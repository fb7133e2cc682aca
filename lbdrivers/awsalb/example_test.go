package awsalb_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
)

// Deregister a target and read the target group's deregistration delay, on
// a fake ELBv2 endpoint. Against AWS, leave Client nil: New loads the SDK's
// default configuration (environment, shared files, IAM role).
func Example() {
	store := albtest.NewMemStore(albtest.MemConfig{Targets: []string{"10.0.1.1", "10.0.1.2"}, DeregistrationDelay: 120 * time.Second})
	srv := httptest.NewServer(albtest.New(albtest.Config{Store: store}))
	defer srv.Close()

	ctx := context.Background()
	lb, err := awsalb.New(ctx, awsalb.Config{
		TargetGroupARN: albtest.DefaultTargetGroupARN,
		Client: elbv2.New(elbv2.Options{
			Region:       "us-east-1",
			Credentials:  aws.AnonymousCredentials{},
			BaseEndpoint: aws.String(srv.URL),
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = lb.SetState(ctx, drivers.Serving, "10.0.1.1:80", "10.0.1.2:80")
	_ = lb.SetState(ctx, drivers.Draining, "10.0.1.1:80")
	delay, _ := lb.DeregistrationDelay(ctx)
	fmt.Println("deregistration delay:", delay)
	st, _ := lb.Status(ctx, "10.0.1.1:80", "10.0.1.2:80")
	for _, m := range st {
		fmt.Println(m.Member, m.State, m.Health, m.ConnectionsKnown)
	}
	// Output:
	// deregistration delay: 2m0s
	// 10.0.1.1:80 draining unknown false
	// 10.0.1.2:80 serving healthy false
}

package secretleak_test

import (
	"context"
	"errors"

	"github.com/balanced-deploy/balanced/drivers"
)

var errorsIs = errors.Is

// nopLB stands for a load balancer; farm.New calls none of its methods.
type nopLB struct{}

func (*nopLB) SetState(context.Context, drivers.MemberState, ...string) error { return nil }
func (*nopLB) Status(context.Context, ...string) ([]drivers.MemberStatus, error) {
	return nil, nil
}

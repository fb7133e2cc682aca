package awsalb_test

import (
	"testing"

	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
	"github.com/stretchr/testify/assert"
)

func TestIdentityIsTheTargetGroupARN(t *testing.T) {
	e := newEnv(t, albtest.MemConfig{})
	assert.Equal(t, "alb:"+albtest.DefaultTargetGroupARN, e.lb.Identity())
}

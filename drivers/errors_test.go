package drivers_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/stretchr/testify/assert"
)

func TestClassify(t *testing.T) {
	base := errors.New("dial tcp 127.0.0.1:1: connection refused")
	tests := []struct {
		name      string
		err       error
		class     error
		retryable bool
	}{
		{"unavailable", drivers.Classify(drivers.ErrUnavailable, base), drivers.ErrUnavailable, true},
		{"not found wrapped again", fmt.Errorf("step x: %w", drivers.Classify(drivers.ErrNotFound, base)), drivers.ErrNotFound, false},
		{"permission", drivers.Classify(drivers.ErrPermissionDenied, base), drivers.ErrPermissionDenied, false},
		{"invalid", drivers.Classify(drivers.ErrInvalidArgument, base), drivers.ErrInvalidArgument, false},
		{"unimplemented", drivers.Classify(drivers.ErrUnimplemented, base), drivers.ErrUnimplemented, false},
		{"plain", base, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.class, drivers.Class(tc.err))
			assert.Equal(t, tc.retryable, drivers.IsRetryable(tc.err))
			assert.ErrorIs(t, tc.err, base)
		})
	}
	assert.NoError(t, drivers.Classify(drivers.ErrNotFound, nil))
	once := drivers.Classify(drivers.ErrNotFound, base)
	assert.Same(t, once, drivers.Classify(drivers.ErrNotFound, once))
}

func TestDeploymentState(t *testing.T) {
	assert.True(t, drivers.DeploymentSucceeded.Done())
	assert.True(t, drivers.DeploymentSucceededWithWarnings.Succeeded())
	assert.False(t, drivers.DeploymentRunning.Done())
	assert.False(t, drivers.DeploymentNeedsUserIntervention.Done())
	assert.True(t, drivers.DeploymentFailed.Done())
	assert.False(t, drivers.DeploymentFailed.Succeeded())
	assert.Equal(t, "fe01", drivers.Target{Name: "fe01"}.Host())
	assert.Equal(t, "10.0.0.1", drivers.Target{Name: "fe01", Address: "10.0.0.1"}.Host())
}

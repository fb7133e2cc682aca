package drivers_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/balanced-deploy/balanced/drivers"
)

func TestLeaseHolderString(t *testing.T) {
	for _, tc := range []struct{ release, want string }{
		{"2.4.0", "alice@ops-1 pid 42 run R1 (release 2.4.0)"},
		{"release v2", "alice@ops-1 pid 42 run R1 (release v2)"},
	} {
		h := drivers.LeaseHolder{User: "alice", Host: "ops-1", PID: 42, RunID: "R1", Release: tc.release}
		assert.Equal(t, tc.want, h.String())
	}
}

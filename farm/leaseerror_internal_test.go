package farm

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestReadLeaseErrorSaysItOnce: a driver's error that already says it read
// the lease on the server is not prefixed with the same words again.
func TestReadLeaseErrorSaysItOnce(t *testing.T) {
	named := errors.New("winrm: read farm lease on fe01: access is denied")
	assert.Equal(t, named.Error(), readLeaseError("fe01", named).Error())
	assert.ErrorIs(t, readLeaseError("fe01", named), named)
	bare := errors.New("access is denied")
	assert.Equal(t, "read the farm lease on fe01: access is denied", readLeaseError("fe01", bare).Error())
	assert.ErrorIs(t, readLeaseError("fe01", bare), bare)
}

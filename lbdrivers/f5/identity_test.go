package f5_test

import (
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdentity(t *testing.T) {
	d, err := f5.New(f5.Config{BaseURL: "https://bigip.internal:8443/", Username: "ops", Password: drivers.NewSecret("pw"), Pool: "app_pool"})
	require.NoError(t, err)
	assert.Equal(t, "f5:https://bigip.internal:8443/~Common~app_pool", d.Identity())
	other, err := f5.New(f5.Config{BaseURL: "https://bigip.internal:8443/", Username: "ops", Password: drivers.NewSecret("pw"), Partition: "Prod", Pool: "app_pool"})
	require.NoError(t, err)
	assert.NotEqual(t, d.Identity(), other.Identity())
}

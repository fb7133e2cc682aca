package farm

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/balanced-deploy/balanced/drivers"
)

func TestCapturedSnapshotRoundTrip(t *testing.T) {
	c := newCaptured()
	c.SetService("fe01", drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Manual})
	c.SetMember("eu", drivers.MemberStatus{Member: "fe01", State: drivers.Serving})
	c.SetValue("k", "v")
	d := newCaptured()
	d.restore(c.snapshot())
	assert.Equal(t, c.snapshot(), d.snapshot())
	st, ok := d.Service("fe01", drivers.SchedulerService)
	assert.True(t, ok)
	assert.Equal(t, drivers.Manual, st.Startup)
	m, ok := d.Member("eu", "fe01")
	assert.True(t, ok)
	assert.Equal(t, drivers.Serving, m.State)
	_, ok = d.Member("us", "fe01")
	assert.False(t, ok)
}

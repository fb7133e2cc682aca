package simulate

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestActionLogIsBounded: the call log keeps the most recent calls within
// its two bounds, and Calls still counts every call.
func TestActionLogIsBounded(t *testing.T) {
	s, err := New(Config{Zones: []ZoneConfig{{Servers: 2}}})
	require.NoError(t, err)
	s.mu.Lock()
	for i := range ActionLogSize + 5000 {
		s.record(OpProbe, "", []string{fmt.Sprint(i)}, "", nil)
	}
	s.mu.Unlock()
	acts := s.Actions()
	require.Len(t, acts, ActionLogSize)
	assert.Equal(t, "5000", acts[0].Servers[0], "the oldest calls went first")
	assert.Equal(t, fmt.Sprint(ActionLogSize+4999), acts[len(acts)-1].Servers[0])
	assert.Equal(t, ActionLogSize+5000, s.Calls())
	assert.Equal(t, ActionLogSize+5000, s.Calls(OpProbe))
	assert.Zero(t, s.Calls(OpStatus))
	assert.LessOrEqual(t, cap(s.actions.buf), 4*ActionLogSize, "the buffer is reused, not grown")

	// Calls naming many members: bounded by the names they hold.
	members := make([]string, 5000)
	s.mu.Lock()
	for range 2 * ActionLogServers / len(members) {
		s.record(OpStatus, "default", members, "", nil)
	}
	s.mu.Unlock()
	assert.LessOrEqual(t, s.actions.names, ActionLogServers)
	assert.Len(t, s.Actions(OpStatus), ActionLogServers/len(members))
	assert.Equal(t, 2*ActionLogServers/len(members), s.Calls(OpStatus))
}

package lifetime_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatus(t *testing.T) {
	for _, s := range []string{"saved", "running", "needs_user_intervention", "aborting", "aborted",
		"finished_successful", "finished_with_warnings", "finished_with_errors", "force_finished"} {
		st, err := lifetime.ParseStatus([]byte(`{"DeploymentStatus":"` + s + `","Info":"i","DeploymentLog":[]}`))
		require.NoError(t, err, s)
		assert.Equal(t, drivers.DeploymentState(s), st.State)
		assert.Equal(t, "i", st.Info)
	}
	for _, bad := range []string{`{"DeploymentStatus":"Running"}`, `{"DeploymentStatus":""}`, `{}`, `[]`, `nope`, `{"DeploymentStatus":"finished"}`} {
		_, err := lifetime.ParseStatus([]byte(bad))
		assert.Error(t, err, bad)
	}
	_, err := lifetime.ParseStatus([]byte(`{"DeploymentStatus":"paused"}`))
	assert.ErrorContains(t, err, `unknown DeploymentStatus "paused"`)

	// A DeploymentMessage is Instant and Message (Swagger); an
	// undocumented Type is ignored, never trusted.
	st, err := lifetime.ParseStatus([]byte(`{"DeploymentStatus":"running","DeploymentLog":[
		{"Instant":"2024-03-01T10:11:12.345Z","Message":"a"},
		{"Instant":"2024-03-01T10:11:13","Message":"b","Type":"Warning"},
		{"Instant":"2024-03-01T11:11:14+01:00","Message":"c"},
		{"Instant":"yesterday","Message":"d"}]}`))
	require.NoError(t, err)
	require.Len(t, st.Log, 4)
	assert.Equal(t, "2024-03-01T10:11:12.345Z", st.Log[0].Time.Format("2006-01-02T15:04:05.000Z07:00"))
	assert.Equal(t, "2024-03-01T10:11:13Z", st.Log[1].Time.Format("2006-01-02T15:04:05Z07:00"))
	assert.Equal(t, "2024-03-01T10:11:14Z", st.Log[2].Time.Format("2006-01-02T15:04:05Z07:00"))
	assert.True(t, st.Log[3].Time.IsZero(), "unparsable instant left zero")
	assert.Equal(t, drivers.LogEntry{Time: st.Log[1].Time, Message: "b"}, st.Log[1])
}

func TestParseErrorBody(t *testing.T) {
	msgs, code, ok := lifetime.ParseErrorBody([]byte(`{"Errors":["Environment not found."," ",""],"StatusCode":404}`))
	assert.True(t, ok)
	assert.Equal(t, 404, code)
	assert.Equal(t, []string{"Environment not found."}, msgs)
	for _, bad := range []string{`<html>`, `{}`, `[]`, `{"Errors":"x"}`, ``} {
		_, _, ok := lifetime.ParseErrorBody([]byte(bad))
		assert.False(t, ok, bad)
	}
}

func TestParseDeploymentKey(t *testing.T) {
	tests := map[string]string{
		"7d1f-22": "7d1f-22", "\"7d1f-22\"": "7d1f-22", " 7d1f-22\r\n": "7d1f-22", "\"\\u0037d\"": "7d",
	}
	for in, want := range tests {
		got, err := lifetime.ParseDeploymentKey([]byte(in))
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"", `""`, `"unterminated`, "a/b", "a b", `{"Key":"x"}`} {
		_, err := lifetime.ParseDeploymentKey([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(`{"DeploymentStatus":"running","Info":"","DeploymentLog":[{"Instant":"2024-03-01T10:11:12.345Z","Message":"m","Type":"Info"}]}`))
	f.Add([]byte(`{"DeploymentStatus":"needs_user_intervention","Info":"deployment_prepared"}`))
	f.Add([]byte(`{"DeploymentStatus":"bogus"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := lifetime.ParseStatus(b)
		if err != nil {
			return
		}
		_, err = lifetime.ParseState(string(st.State))
		require.NoError(t, err, "a parsed state is a known state")
		// What parses re-encodes and parses to the same thing.
		type entry struct{ Instant, Message, Type string }
		var log []entry
		for _, e := range st.Log {
			instant := ""
			if !e.Time.IsZero() {
				instant = e.Time.Format("2006-01-02T15:04:05.999999999Z07:00")
			}
			log = append(log, entry{instant, e.Message, e.Type})
		}
		again, err := json.Marshal(map[string]any{"DeploymentStatus": st.State, "Info": st.Info, "DeploymentLog": log})
		require.NoError(t, err)
		st2, err := lifetime.ParseStatus(again)
		require.NoError(t, err)
		require.Equal(t, st.State, st2.State)
		require.Equal(t, st.Info, st2.Info)
		require.Len(t, st2.Log, len(st.Log))
		for i := range st.Log {
			require.True(t, st.Log[i].Time.Equal(st2.Log[i].Time), "instant %d", i)
		}
	})
}

func FuzzParseErrorBody(f *testing.F) {
	f.Add([]byte(`{"Errors":["Deployment not found."],"StatusCode":404}`))
	f.Add([]byte(`{"Errors":[],"StatusCode":500}`))
	f.Add([]byte(`<html>502</html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, code, ok := lifetime.ParseErrorBody(b)
		if !ok {
			require.Empty(t, msgs)
			return
		}
		for _, m := range msgs {
			require.NotEmpty(t, m)
			require.Equal(t, strings.TrimSpace(m), m)
		}
		_ = strconv.Itoa(code)
	})
}

func FuzzParseDeploymentKey(f *testing.F) {
	f.Add([]byte(`"4f1c2a9e-0b9c-4bb0-a8d6-4d4f3e2c7b11"`))
	f.Add([]byte("4f1c2a9e-0b9c-4bb0-a8d6-4d4f3e2c7b11\n"))
	f.Add([]byte(`"a\/b"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		key, err := lifetime.ParseDeploymentKey(b)
		if err != nil {
			return
		}
		require.NotEmpty(t, key)
		require.False(t, strings.ContainsAny(key, "/?#%\" \t\r\n"), "key %q is safe in a path", key)
		require.True(t, utf8.ValidString(key))
		quoted, err := json.Marshal(key)
		require.NoError(t, err)
		again, err := lifetime.ParseDeploymentKey(quoted)
		require.NoError(t, err)
		require.Equal(t, key, again)
	})
}

package winrm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
)

func TestParseOutput(t *testing.T) {
	ok := []struct {
		out  string
		want drivers.ServiceState
	}{
		{"BALANCED-STATE {\"Name\":\"s\",\"DisplayName\":\"S\",\"State\":\"Running\",\"StartMode\":\"Auto\",\"DelayedAutoStart\":false}\r\n",
			drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}},
		{"BALANCED-STATE {\"Name\":\"s\",\"DisplayName\":\"S\",\"State\":\"Running\",\"StartMode\":\"Auto\",\"DelayedAutoStart\":true}",
			drivers.ServiceState{Run: drivers.Running, Startup: drivers.AutomaticDelayedStart}},
		{"BALANCED-STATE {\"Name\":\"s\",\"DisplayName\":\"S\",\"State\":\"Stopped\",\"StartMode\":\"Disabled\",\"DelayedAutoStart\":null}",
			drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}},
		{"BALANCED-STATE {\"Name\":\"s\",\"DisplayName\":\"S\",\"State\":\"Start Pending\",\"StartMode\":\"Manual\"}",
			drivers.ServiceState{Run: drivers.StartPending, Startup: drivers.Manual}},
		{"stray host output\r\nBALANCED-STATE {\"Name\":\"s\",\"DisplayName\":\"S\",\"State\":\"Stop Pending\",\"StartMode\":\"Manual\"}\r\n",
			drivers.ServiceState{Run: drivers.StopPending, Startup: drivers.Manual}},
	}
	for _, tt := range ok {
		got, err := parseOutput(tt.out)
		require.NoError(t, err, tt.out)
		assert.Equal(t, tt.want, got)
	}
	bad := []string{
		"",
		"garbage",
		"BALANCED-STATE ",
		"BALANCED-STATE []",
		"BALANCED-STATE [{\"Name\":\"s\",\"State\":\"Running\",\"StartMode\":\"Auto\"}]",
		"BALANCED-STATE {\"Name\":\"s\",\"State\":\"Paused\",\"StartMode\":\"Auto\"}",
		"BALANCED-STATE {\"Name\":\"s\",\"State\":\"Running\",\"StartMode\":\"Boot\"}",
		"BALANCED-STATE {\"Name\":\"s\",\"State\":\"running\",\"StartMode\":\"Auto\"}",
		"BALANCED-STATE {\"Name\":\"\",\"State\":\"Running\",\"StartMode\":\"Auto\"}",
		"BALANCED-STATE {\"Name\":\"s\",\"State\":\"Running\",\"StartMode\":\"Auto\",\"Extra\":1}",
		"BALANCED-STATE {\"Name\":\"s\",\"State\":\"Running\",\"StartMode\":\"Auto\"} {}",
		"BALANCED-STATE {\"Name\":\"s\",\"State\":\"Running\",\"StartMode\":\"Auto\"}\nBALANCED-STATE {\"Name\":\"t\",\"State\":\"Running\",\"StartMode\":\"Auto\"}",
	}
	for _, out := range bad {
		_, err := parseOutput(out)
		assert.Error(t, err, "%q", out)
	}
	_, err := parseOutput("BALANCED-NOT-FOUND\r\n")
	assert.ErrorIs(t, err, errNoService)
	_, err = parseOutput("BALANCED-AMBIGUOUS\r\n")
	assert.ErrorIs(t, err, errAmbiguous)
}

// FuzzParseOutput checks that the parser never panics and only ever returns
// known states.
func FuzzParseOutput(f *testing.F) {
	f.Add("BALANCED-STATE {\"Name\":\"s\",\"DisplayName\":\"S\",\"State\":\"Running\",\"StartMode\":\"Auto\",\"DelayedAutoStart\":false}\r\n")
	f.Add("BALANCED-NOT-FOUND\r\n")
	f.Add("x\nBALANCED-STATE {\"Name\":1}")
	f.Fuzz(func(t *testing.T, out string) {
		st, err := parseOutput(out)
		if err != nil {
			assert.Equal(t, drivers.ServiceState{}, st)
			return
		}
		assert.Contains(t, []drivers.RunState{drivers.Running, drivers.Stopped, drivers.StartPending, drivers.StopPending}, st.Run)
		assert.Contains(t, []drivers.StartupType{drivers.Automatic, drivers.AutomaticDelayedStart, drivers.Manual, drivers.Disabled}, st.Startup)
	})
}

func TestReadableStderr(t *testing.T) {
	clixml := "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">" +
		"<Obj S=\"progress\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T></TN><MS><I64 N=\"SourceId\">1</I64></MS></Obj>" +
		"<S S=\"Error\">Stop-Service : Service &apos;X&apos; cannot be stopped_x000D__x000A_</S><S S=\"Error\">    + Access is denied_x000D__x000A_</S></Objs>"
	got := readableStderr(clixml)
	assert.Equal(t, "Stop-Service : Service 'X' cannot be stopped + Access is denied", got)
	assert.True(t, isAccessDenied(got))
	assert.Equal(t, "plain text", readableStderr("  plain\r\n text "))
	long := readableStderr(string(make([]byte, 5000)))
	assert.LessOrEqual(t, len(long), 603)
	assert.False(t, isAccessDenied("Cannot find any service"))
}

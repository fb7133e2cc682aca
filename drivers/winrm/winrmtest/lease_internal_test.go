package winrmtest

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaseScriptText builds a lease script the way package winrm does.
func leaseScriptText(path, dir, share string, old, content []byte, parts ...[]string) string {
	r := strings.NewReplacer("%PATH%", "'"+strings.ReplaceAll(path, "'", "''")+"'", "%DIR%", "'"+dir+"'", "%SHARE%", share,
		"%OLD%", "'"+base64.StdEncoding.EncodeToString(old)+"'", "%NEW%", "'"+base64.StdEncoding.EncodeToString(content)+"'")
	var lines []string
	for _, part := range append([][]string{leasePrelude}, parts...) {
		for _, l := range part {
			lines = append(lines, r.Replace(l))
		}
	}
	return strings.Join(lines, "\n")
}

func TestParseLeaseScripts(t *testing.T) {
	const path, dir = `C:\ProgramData\balanced\0123456789abcdef.lease`, `C:\ProgramData\balanced`
	ok := map[Op]string{
		OpLeaseRead:    leaseScriptText(path, dir, "", nil, nil, leaseReadLines),
		OpLeaseCreate:  leaseScriptText(path, dir, "", nil, []byte(`{"a":1}`), leaseCreateLines),
		OpLeaseReplace: leaseScriptText(path, dir, "None", []byte("x"), []byte("y"), leaseOpenLines, leaseReplaceLines),
		OpLeaseDelete:  leaseScriptText(path, dir, "Delete", []byte("x"), nil, leaseOpenLines, leaseDeleteLines),
	}
	for op, sc := range ok {
		p, err := parseScript(sc)
		require.NoError(t, err, op)
		assert.Equal(t, op, p.op)
		assert.Equal(t, path, p.lease.path)
	}
	bad := map[string]string{
		"replace sharing for delete": leaseScriptText(path, dir, "Delete", nil, nil, leaseOpenLines, leaseReplaceLines),
		"delete without sharing":     leaseScriptText(path, dir, "None", nil, nil, leaseOpenLines, leaseDeleteLines),
		"other share":                leaseScriptText(path, dir, "ReadWrite", nil, nil, leaseOpenLines, leaseReplaceLines),
		"injected after the path":    strings.Replace(ok[OpLeaseRead], "$p = '"+path+"'", "$p = '"+path+"'; Stop-Computer", 1),
		"content not base64":         strings.Replace(ok[OpLeaseCreate], "FromBase64String('", "FromBase64String('$(Stop-Computer)", 1),
		"folder not the file's":      leaseScriptText(path, `C:\Windows`, "", nil, nil, leaseCreateLines),
		"extra line":                 ok[OpLeaseRead] + "\nStop-Computer",
		"PowerShell 5 ::new()":       strings.Replace(ok[OpLeaseReplace], "[System.IO.File]::Open(", "[System.IO.FileStream]::new(", 1),
	}
	for name, sc := range bad {
		_, err := parseScript(sc)
		assert.Error(t, err, name)
	}
}

func TestExecuteLeaseFileSemantics(t *testing.T) {
	files := &MapFiles{}
	now := time.Date(2026, 12, 2, 8, 0, 0, 123456700, time.UTC)
	run := func(op Op, share string, old, content []byte) string {
		parts := map[Op][][]string{
			OpLeaseRead: {leaseReadLines}, OpLeaseCreate: {leaseCreateLines},
			OpLeaseReplace: {leaseOpenLines, leaseReplaceLines}, OpLeaseDelete: {leaseOpenLines, leaseDeleteLines},
		}[op]
		p, err := parseScript(leaseScriptText(`C:\L\f.lease`, `C:\L`, share, old, content, parts...))
		require.NoError(t, err)
		return executeLease(files, "dc01", now, p).stdout
	}
	assert.Equal(t, "BALANCED-NOW 2026-12-02T08:00:00.1234567Z\r\nBALANCED-LEASE-NONE\r\n", run(OpLeaseRead, "", nil, nil), ".NET round-trip time")
	assert.Equal(t, "BALANCED-LEASE-CREATED\r\n", run(OpLeaseCreate, "", nil, []byte("v1")))
	assert.Equal(t, "BALANCED-LEASE-EXISTS\r\n", run(OpLeaseCreate, "", nil, []byte("v2")), "CreateNew fails on an existing file")
	assert.Equal(t, "BALANCED-LEASE-CHANGED "+base64.StdEncoding.EncodeToString([]byte("v1"))+"\r\n", run(OpLeaseReplace, "None", []byte("v0"), []byte("v2")))
	assert.Equal(t, "BALANCED-LEASE-REPLACED\r\n", run(OpLeaseReplace, "None", []byte("v1"), []byte("v2")))
	got, _ := files.Get("dc01", `c:\l\F.LEASE`)
	assert.Equal(t, "v2", got, "paths compare ignoring case, as on NTFS")
	files.Lock("dc01", `C:\L\f.lease`)
	assert.Contains(t, run(OpLeaseRead, "", nil, nil), "BALANCED-LEASE-BUSY")
	assert.Equal(t, "BALANCED-LEASE-BUSY\r\n", run(OpLeaseDelete, "Delete", []byte("v2"), nil))
	files.Unlock("dc01", `C:\L\f.lease`)
	assert.Equal(t, "BALANCED-LEASE-DELETED\r\n", run(OpLeaseDelete, "Delete", []byte("v2"), nil))
	assert.Equal(t, "BALANCED-LEASE-NONE\r\n", run(OpLeaseDelete, "Delete", []byte("v2"), nil))
}

package f5test_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
)

func TestFakeTransactions(t *testing.T) {
	store := f5test.NewMemStore("a:80", "b:80")
	s := f5test.New(f5test.Config{Store: store})
	c := s.Client()
	_, _ = call(t, c, "POST", "/mgmt/shared/authn/login", "", `{"username":"admin","password":"admin","loginProviderName":"tmos"}`)
	tok := s.IssuedTokens()[0]
	const members = "/mgmt/tm/ltm/pool/~Common~pool/members/~Common~"

	start := func() string {
		code, body := call(t, c, "POST", "/mgmt/tm/transaction", tok, `{}`)
		require.Equal(t, 200, code)
		var tx struct {
			TransID json.Number `json:"transId"`
			State   string      `json:"state"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &tx))
		assert.Equal(t, "STARTED", tx.State)
		return tx.TransID.String()
	}
	queue := func(id, member, body string) int {
		req, err := http.NewRequest("PUT", "https://bigip.test"+members+member, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-F5-Auth-Token", tok)
		req.Header.Set(f5test.CoordinationHeader, id)
		resp, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	id := start()
	require.Equal(t, 200, queue(id, "a:80", `{"state":"unchecked","session":"user-disabled"}`))
	require.Equal(t, 200, queue(id, "b:80", `{"state":"user-down","session":"user-disabled"}`))
	a, _ := store.Member("a:80")
	assert.False(t, a.Disabled, "queued commands are not applied before the commit")
	code, body := call(t, c, "PATCH", "/mgmt/tm/transaction/"+id, tok, `{"state":"VALIDATING"}`)
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"state":"COMPLETED"`)
	a, _ = store.Member("a:80")
	b, _ := store.Member("b:80")
	assert.True(t, a.Disabled && !a.ForcedOffline)
	assert.True(t, b.Disabled && b.ForcedOffline)
	assert.Equal(t, 1, s.Transactions())
	code, _ = call(t, c, "PATCH", "/mgmt/tm/transaction/"+id, tok, `{"state":"VALIDATING"}`)
	assert.Equal(t, 400, code, "a transaction commits once")
	assert.Equal(t, 400, queue(id, "a:80", `{"session":"user-enabled"}`), "no queueing after the commit")

	// One bad command fails the whole transaction: nothing is applied.
	id = start()
	require.Equal(t, 200, queue(id, "a:80", `{"state":"unchecked","session":"user-enabled"}`))
	require.Equal(t, 200, queue(id, "zz:80", `{"session":"user-enabled"}`))
	code, body = call(t, c, "PATCH", "/mgmt/tm/transaction/"+id, tok, `{"state":"VALIDATING"}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "transaction failed")
	a, _ = store.Member("a:80")
	assert.True(t, a.Disabled, "a failed transaction applies nothing")
	code, body = call(t, c, "GET", "/mgmt/tm/transaction/"+id, tok, "")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"state":"FAILED"`)

	// Deleted and unknown transactions.
	id = start()
	code, _ = call(t, c, "DELETE", "/mgmt/tm/transaction/"+id, tok, "")
	assert.Equal(t, 200, code)
	assert.Equal(t, 404, queue(id, "a:80", `{"session":"user-enabled"}`))
	assert.Equal(t, 404, queue("12345", "a:80", `{"session":"user-enabled"}`))
	code, _ = call(t, c, "POST", "/mgmt/tm/transaction", "", `{}`)
	assert.Equal(t, 401, code, "transactions need a token")
	assert.Equal(t, 1, s.Transactions())
}

package f5test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// CoordinationHeader names the transaction a request is queued in.
const CoordinationHeader = "X-F5-REST-Coordination-Id"

// txn is an iControl REST transaction: commands queued with the
// coordination header and applied together when the transaction is
// committed (PATCH state VALIDATING).
type txn struct {
	id    int64
	state string // STARTED, COMPLETED, FAILED
	cmds  []txnCmd
}

// txnCmd is one queued member update.
type txnCmd struct {
	member string
	body   map[string]any
}

// Transactions returns how many transactions were committed successfully.
func (s *Server) Transactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

func (s *Server) txnJSON(t *txn) map[string]any {
	return map[string]any{
		"transId": t.id, "state": t.state, "timeoutSeconds": 120, "asyncExecution": false,
		"validateOnly": false, "executionTimeout": 300, "kind": "tm:transactionstate",
		"selfLink": "https://localhost/mgmt/tm/transaction/" + strconv.FormatInt(t.id, 10) + "?ver=16.1.0",
	}
}

// startTxn handles POST /mgmt/tm/transaction.
func (s *Server) startTxn(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.nextTxn++
	t := &txn{id: 1389812350 + s.nextTxn, state: "STARTED"}
	s.txns[t.id] = t
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.txnJSON(t))
}

// lookupTxn resolves a transaction id; it writes the error answer itself.
func (s *Server) lookupTxn(w http.ResponseWriter, id string) (*txn, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	s.mu.Lock()
	t, ok := s.txns[n]
	s.mu.Unlock()
	if err != nil || !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Transaction %q not found.", id))
		return nil, false
	}
	return t, true
}

// getTxn handles GET /mgmt/tm/transaction/{id}.
func (s *Server) getTxn(w http.ResponseWriter, r *http.Request) {
	if t, ok := s.lookupTxn(w, r.PathValue("id")); ok {
		s.mu.Lock()
		body := s.txnJSON(t)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, body)
	}
}

// deleteTxn handles DELETE /mgmt/tm/transaction/{id}: the queued commands
// are dropped.
func (s *Server) deleteTxn(w http.ResponseWriter, r *http.Request) {
	if t, ok := s.lookupTxn(w, r.PathValue("id")); ok {
		s.mu.Lock()
		delete(s.txns, t.id)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}
}

// queue handles a member PUT or PATCH sent with the coordination header:
// the command is queued, not applied.
func (s *Server) queue(w http.ResponseWriter, r *http.Request) {
	t, ok := s.lookupTxn(w, r.Header.Get(CoordinationHeader))
	if !ok {
		return
	}
	prefix := s.poolPath() + "/~" + s.cfg.Partition + "~"
	name, isMember := strings.CutPrefix(r.URL.Path, prefix)
	if (r.Method != http.MethodPut && r.Method != http.MethodPatch) || !isMember || name == "" || strings.Contains(name, "/") {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("The fake queues only member PUT/PATCH in a transaction, not %s %s.", r.Method, r.URL.Path))
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Found invalid JSON body in the request.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.state != "STARTED" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Transaction %d is %s.", t.id, t.state))
		return
	}
	t.cmds = append(t.cmds, txnCmd{member: name, body: body})
	writeJSON(w, http.StatusOK, map[string]any{
		"transId": t.id, "evalOrder": len(t.cmds), "commandId": len(t.cmds),
		"method": r.Method, "uri": "https://localhost" + r.URL.Path, "body": body,
		"kind": "tm:transaction:commandsstate",
	})
}

// commitTxn handles PATCH /mgmt/tm/transaction/{id} {"state":"VALIDATING"}:
// every queued command is validated, then all are applied at once, or none.
func (s *Server) commitTxn(w http.ResponseWriter, r *http.Request) {
	t, ok := s.lookupTxn(w, r.PathValue("id"))
	if !ok {
		return
	}
	var req struct {
		State string `json:"state"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.State != "VALIDATING" {
		writeError(w, http.StatusBadRequest, `Invalid transaction update: want {"state":"VALIDATING"}.`)
		return
	}
	s.mu.Lock()
	state, cmds := t.state, t.cmds
	if state == "STARTED" {
		t.state = "VALIDATING"
	}
	s.mu.Unlock()
	if state != "STARTED" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Transaction %d is %s.", t.id, state))
		return
	}
	err := s.apply(r.Context(), cmds)
	s.mu.Lock()
	t.state = "COMPLETED"
	if err != nil {
		t.state = "FAILED"
	} else {
		s.committed++
	}
	body := s.txnJSON(t)
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, "transaction failed:"+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// apply validates the commands against the current members and applies
// them together.
func (s *Server) apply(ctx context.Context, cmds []txnCmd) error {
	next := map[string]Member{}
	var order []string
	for _, c := range cmds {
		m, ok := next[c.member]
		if !ok {
			var err error
			if m, ok, err = s.cfg.Store.Get(ctx, c.member); err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("01020036:3: The requested Pool Member (/%s/%s /%s/%s) was not found.", s.cfg.Partition, s.cfg.Pool, s.cfg.Partition, c.member)
			}
			order = append(order, c.member)
		}
		m, err := applyBody(m, c.body)
		if err != nil {
			return err
		}
		next[c.member] = m
	}
	changes := make([]Change, len(order))
	for i, n := range order {
		changes[i] = Change{Name: n, Disabled: next[n].Disabled, ForcedOffline: next[n].ForcedOffline}
	}
	if b, ok := s.cfg.Store.(Batcher); ok {
		return b.SetAll(ctx, changes)
	}
	for _, c := range changes {
		if err := s.cfg.Store.Set(ctx, c.Name, c.Disabled, c.ForcedOffline); err != nil {
			return err
		}
	}
	return nil
}

package f5

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// coordinationHeader names the iControl REST transaction a request is
// queued in.
const coordinationHeader = "X-F5-REST-Coordination-Id"

var _ drivers.Switcher = (*Driver)(nil)

// change is one member to move in a switch.
type change struct {
	member, name string
	state        drivers.MemberState
}

// Switch enables the serve members and disables (drains) the drain members
// in one iControl REST transaction (/mgmt/tm/transaction): BIG-IP applies
// all the member updates together when the transaction is committed, or
// none of them. A member named in both lists is [drivers.ErrInvalidArgument];
// an unknown member is [drivers.ErrNotFound]; both change nothing.
//
// A failure before the commit leaves every member as it was (the commands
// were only queued), so a transient one is [drivers.ErrUnavailable]. If the
// commit itself fails ambiguously, the driver reads the members back and
// succeeds if all reached their state.
func (d *Driver) Switch(ctx context.Context, serve, drain []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("f5: switch: %w", err)
	}
	var all []change
	seen := map[string]drivers.MemberState{}
	for _, set := range []struct {
		members []string
		state   drivers.MemberState
	}{{serve, drivers.Serving}, {drain, drivers.Draining}} {
		names, err := d.memberNames(set.members)
		if err != nil {
			return err
		}
		for i, n := range names {
			if prev, ok := seen[n]; ok {
				if prev != set.state {
					return fmt.Errorf("%w: f5: switch: member %q is both served and drained", drivers.ErrInvalidArgument, set.members[i])
				}
				continue
			}
			seen[n] = set.state
			all = append(all, change{member: set.members[i], name: n, state: set.state})
		}
	}
	var todo []change
	for _, c := range all {
		m, err := d.getMember(ctx, c.name)
		if err != nil {
			return fmt.Errorf("f5: switch: read %s: %w", c.member, err)
		}
		if have, _ := m.adminState(); have != c.state {
			todo = append(todo, c)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := d.transact(ctx, todo); err != nil {
		return fmt.Errorf("f5: switch (serve %s, drain %s): %w", strings.Join(serve, ", "), strings.Join(drain, ", "), err)
	}
	d.cfg.Logger.Info("f5: switched in one transaction", "pool", d.cfg.Pool, "serve", serve, "drain", drain)
	return nil
}

// transact applies todo in one transaction: start it, queue one PUT per
// member, commit. A failure before the commit discards the transaction and
// changed nothing; an ambiguous commit failure is resolved by reading the
// members back.
func (d *Driver) transact(ctx context.Context, todo []change) error {
	id, err := d.startTxn(ctx)
	if err != nil {
		return d.notApplied(ctx, err)
	}
	for _, c := range todo {
		if _, err := d.doTx(ctx, id, http.MethodPut, memberPath(d.cfg.Partition, d.cfg.Pool, c.name), updateFor(c.state)); err != nil {
			d.discardTxn(ctx, id)
			return fmt.Errorf("queue %s to %s: %w", c.member, c.state, d.notApplied(ctx, err))
		}
	}
	err = d.commitTxn(ctx, id)
	if err != nil && drivers.Class(err) == nil && ctx.Err() == nil && d.reached(ctx, todo) {
		d.cfg.Logger.Warn("f5: transaction commit answered with an error but took effect", "transaction", id, "error", err)
		err = nil
	}
	return err
}

// notApplied classifies an error after which nothing was applied: a
// transient or unclassified failure is ErrUnavailable (unless the caller's
// context ended); other classes stay.
func (d *Driver) notApplied(ctx context.Context, err error) error {
	if ctx.Err() != nil || drivers.Class(err) != nil {
		return err
	}
	return drivers.Classify(drivers.ErrUnavailable, err)
}

// txnBody is the part of a transaction resource the driver reads.
type txnBody struct {
	TransID json.Number `json:"transId"`
	State   string      `json:"state"`
}

// startTxn creates a transaction and returns its id.
func (d *Driver) startTxn(ctx context.Context) (string, error) {
	data, err := d.do(ctx, http.MethodPost, "/mgmt/tm/transaction", struct{}{})
	if err != nil {
		return "", fmt.Errorf("start transaction: %w", err)
	}
	var t txnBody
	if err := json.Unmarshal(data, &t); err != nil || t.TransID == "" {
		return "", fmt.Errorf("start transaction: answer has no transId")
	}
	if _, err := t.TransID.Int64(); err != nil {
		return "", fmt.Errorf("start transaction: transId %q is not an integer", t.TransID)
	}
	return t.TransID.String(), nil
}

// commitTxn commits the transaction; BIG-IP validates and applies it before
// answering (asyncExecution is false).
func (d *Driver) commitTxn(ctx context.Context, id string) error {
	data, err := d.do(ctx, http.MethodPatch, "/mgmt/tm/transaction/"+id, map[string]string{"state": "VALIDATING"})
	if err != nil {
		return fmt.Errorf("commit transaction %s: %w", id, err)
	}
	var t txnBody
	if err := json.Unmarshal(data, &t); err != nil || t.State != "COMPLETED" {
		return fmt.Errorf("commit transaction %s: state %q, want COMPLETED", id, t.State)
	}
	return nil
}

// discardTxn deletes a transaction that will not be committed, best
// effort: an uncommitted transaction changes nothing and expires anyway.
func (d *Driver) discardTxn(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := d.do(ctx, http.MethodDelete, "/mgmt/tm/transaction/"+id, nil); err != nil {
		d.cfg.Logger.Debug("f5: could not delete an abandoned transaction", "transaction", id, "error", err)
	}
}

// reached reports whether every change reads back as applied.
func (d *Driver) reached(ctx context.Context, todo []change) bool {
	for _, c := range todo {
		m, err := d.getMember(ctx, c.name)
		if err != nil {
			return false
		}
		if have, _ := m.adminState(); have != c.state {
			return false
		}
	}
	return true
}

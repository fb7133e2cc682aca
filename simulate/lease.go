package simulate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// The simulated farm lease. Each server keeps the leases created on it, as
// the WinRM driver keeps a lock file on the Deployment Controller: leases on
// two different servers do not exclude each other. Every Sim is a farm of its
// own ([LoadBalancer.Identity]), and every [Sim.Services] of one Sim reaches
// the same servers, so two orchestrators (two "hosts") driving one Sim
// exclude each other through it. Lease calls take no simulated time and are
// not recorded among the driver calls (Sim.Actions).

var (
	_ drivers.FarmLeaser = (*Services)(nil)
	_ drivers.Identifier = (*LoadBalancer)(nil)
	_ drivers.Identifier = plainLoadBalancer{}
)

func newFarmID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Identity returns "simulate:" and a random ID drawn by [New]: the same for
// every load balancer of one Sim, different for every Sim.
func (lb *LoadBalancer) Identity() string { return "simulate:" + lb.s.farmID }

// Identity returns the identity of the load balancer it hides Switch of.
func (p plainLoadBalancer) Identity() string { return p.lb.Identity() }

func leaseKey(server, farm string) string { return server + "\x00" + farm }

// leaseCall checks the target and the farm and runs fn under s.mu with the
// server's key.
func (c *Services) leaseCall(ctx context.Context, t drivers.Target, farm string, fn func(key string, now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if farm == "" {
		return fmt.Errorf("%w: farm lease with an empty farm identity: want Farm.Identity()", drivers.ErrInvalidArgument)
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	srv, err := s.lookup(t)
	if err != nil {
		return err
	}
	if s.leases == nil {
		s.leases = map[string]drivers.Lease{}
	}
	return fn(leaseKey(srv.name, farm), time.Now())
}

// AcquireLease takes the farm lease on t, as [drivers.FarmLeaser] documents:
// when there is none, when it expired, when req.Holder.RunID already holds
// it, or when req.Force names its holder's RunID. Otherwise it returns a
// [*drivers.LeaseHeldError]. A TTL that is not positive is refused with
// [drivers.ErrInvalidArgument].
func (c *Services) AcquireLease(ctx context.Context, t drivers.Target, req drivers.LeaseRequest) (drivers.Lease, error) {
	var out drivers.Lease
	if req.TTL <= 0 {
		return out, fmt.Errorf("%w: farm lease TTL %s: want a positive duration", drivers.ErrInvalidArgument, req.TTL)
	}
	if req.Holder.RunID == "" {
		return out, fmt.Errorf("%w: farm lease holder without a run ID", drivers.ErrInvalidArgument)
	}
	err := c.leaseCall(ctx, t, req.Farm, func(key string, now time.Time) error {
		cur, held := c.s.leases[key]
		switch {
		case !held || cur.Expired(now):
			cur = drivers.Lease{Farm: req.Farm, Holder: req.Holder, Acquired: now}
		case cur.Holder.RunID == req.Holder.RunID:
			cur.Holder = req.Holder // a resume, maybe from another process
		case req.Force && req.ForceHolder == cur.Holder.RunID:
			cur = drivers.Lease{Farm: req.Farm, Holder: req.Holder, Acquired: now}
		default:
			return &drivers.LeaseHeldError{Lease: cur}
		}
		cur.Renewed, cur.Expires = now, now.Add(req.TTL)
		c.s.leases[key] = cur
		out = cur
		return nil
	})
	return out, err
}

// RenewLease extends the lease runID holds on t by ttl. It fails with
// [drivers.ErrNotFound] when there is no lease, and with a
// [*drivers.LeaseHeldError] when another run holds it. A lease that expired
// but that no other run took is renewed.
func (c *Services) RenewLease(ctx context.Context, t drivers.Target, farm, runID string, ttl time.Duration) (drivers.Lease, error) {
	var out drivers.Lease
	if ttl <= 0 {
		return out, fmt.Errorf("%w: farm lease TTL %s: want a positive duration", drivers.ErrInvalidArgument, ttl)
	}
	err := c.leaseCall(ctx, t, farm, func(key string, now time.Time) error {
		cur, held := c.s.leases[key]
		if !held {
			return fmt.Errorf("%w: no farm lease of %s on %s", drivers.ErrNotFound, farm, t.Name)
		}
		if cur.Holder.RunID != runID {
			return &drivers.LeaseHeldError{Lease: cur}
		}
		cur.Renewed, cur.Expires = now, now.Add(ttl)
		c.s.leases[key] = cur
		out = cur
		return nil
	})
	return out, err
}

// ReleaseLease removes the lease on t if runID holds it; otherwise it does
// nothing.
func (c *Services) ReleaseLease(ctx context.Context, t drivers.Target, farm, runID string) error {
	return c.leaseCall(ctx, t, farm, func(key string, _ time.Time) error {
		if cur, held := c.s.leases[key]; held && cur.Holder.RunID == runID {
			delete(c.s.leases, key)
		}
		return nil
	})
}

// ReadLease returns the lease on t, expired or not; ok is false when there
// is none.
func (c *Services) ReadLease(ctx context.Context, t drivers.Target, farm string) (drivers.Lease, bool, error) {
	var out drivers.Lease
	var ok bool
	err := c.leaseCall(ctx, t, farm, func(key string, _ time.Time) error {
		out, ok = c.s.leases[key]
		return nil
	})
	return out, ok, err
}

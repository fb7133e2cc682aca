package winrm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
)

// clock is the fake server's clock, moved by the tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

const leaseFarm = `haproxy:/run/haproxy/admin.sock#be_outsystems|fe01,fe02 'quoted' $(x)`

type leaseFixture struct {
	srv    *winrmtest.Server
	files  *winrmtest.MapFiles
	clock  *clock
	target drivers.Target
}

func newLeaseFixture(t *testing.T) *leaseFixture {
	t.Helper()
	c := &clock{now: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	files := &winrmtest.MapFiles{}
	srv := winrmtest.NewServer(winrmtest.Config{Host: "dc01", Username: testUser, Password: testPassword, TLS: true, Files: files, Now: c.Now})
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the fake refused: %q", srv.Refusals())
		}
	})
	return &leaseFixture{srv: srv, files: files, clock: c, target: drivers.Target{Name: "dc01", Address: srv.Addr()}}
}

func (f *leaseFixture) driver(t *testing.T) *winrm.Driver {
	t.Helper()
	d, err := winrm.New(winrm.Config{Username: testUser, Password: drivers.NewSecret(testPassword), CACert: f.srv.CACertPEM(), Timeout: 10 * time.Second})
	require.NoError(t, err)
	return d
}

func holder(run string) drivers.LeaseHolder {
	return drivers.LeaseHolder{Host: "ops-1", PID: 4242, User: "alice", RunID: run, Release: "2.4.0"}
}

func TestLeaseLifecycle(t *testing.T) {
	f := newLeaseFixture(t)
	d := f.driver(t)
	ctx := context.Background()

	_, ok, err := d.ReadLease(ctx, f.target, leaseFarm)
	require.NoError(t, err)
	assert.False(t, ok)

	l, err := d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-A"), TTL: time.Minute})
	require.NoError(t, err)
	t0 := f.clock.Now()
	assert.Equal(t, drivers.Lease{Farm: leaseFarm, Holder: holder("run-A"), Acquired: t0, Renewed: t0, Expires: t0.Add(time.Minute)}, l, "times from the server's clock")

	path := d.LeasePath(leaseFarm)
	assert.Regexp(t, `^C:\\ProgramData\\balanced\\[0-9a-f]{16}\.lease$`, path)
	content, ok := f.files.Get("dc01", path)
	require.True(t, ok, "the lease is a file on the server")
	var onDisk drivers.Lease
	require.NoError(t, json.Unmarshal([]byte(content), &onDisk))
	assert.Equal(t, l, onDisk)
	for _, key := range []string{`"host":"ops-1"`, `"pid":4242`, `"user":"alice"`, `"run_id":"run-A"`, `"release":"2.4.0"`, `"acquired"`, `"renewed"`, `"expires"`} {
		assert.Contains(t, content, key)
	}

	got, ok, err := d.ReadLease(ctx, f.target, leaseFarm)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, l, got)

	f.clock.Add(30 * time.Second)
	r, err := d.RenewLease(ctx, f.target, leaseFarm, "run-A", 2*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, t0, r.Acquired)
	assert.Equal(t, f.clock.Now(), r.Renewed)
	assert.Equal(t, f.clock.Now().Add(2*time.Minute), r.Expires)

	// A resume (same run, new process) keeps Acquired.
	h := holder("run-A")
	h.PID = 5151
	again, err := d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: h, TTL: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, t0, again.Acquired)
	assert.Equal(t, 5151, again.Holder.PID)

	require.NoError(t, d.ReleaseLease(ctx, f.target, leaseFarm, "run-A"))
	_, ok = f.files.Get("dc01", path)
	assert.False(t, ok, "released: the file is gone")
	require.NoError(t, d.ReleaseLease(ctx, f.target, leaseFarm, "run-A"), "releasing an absent lease succeeds")
	_, err = d.RenewLease(ctx, f.target, leaseFarm, "run-A", time.Minute)
	require.ErrorIs(t, err, drivers.ErrNotFound)

	assert.Empty(t, f.srv.Unrecognised())
	for _, sc := range f.srv.Scripts() {
		assert.NotContains(t, sc.Text, "::new(", "PowerShell 4 has no ::new()")
		assert.NotContains(t, sc.Text, "alice", "lease content travels as base64 only")
		assert.NotContains(t, sc.Text, "$(x)", "the farm identity is hashed into the path")
	}
}

func TestLeaseHeldExpiredAndForced(t *testing.T) {
	f := newLeaseFixture(t)
	d := f.driver(t)
	ctx := context.Background()
	a, err := d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-A"), TTL: time.Minute})
	require.NoError(t, err)

	_, err = d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-B"), TTL: time.Minute})
	require.ErrorIs(t, err, drivers.ErrLeaseHeld)
	var held *drivers.LeaseHeldError
	require.ErrorAs(t, err, &held)
	assert.Equal(t, a, held.Lease)
	assert.Contains(t, err.Error(), "alice@ops-1 pid 4242 run run-A")

	_, err = d.RenewLease(ctx, f.target, leaseFarm, "run-B", time.Minute)
	require.ErrorIs(t, err, drivers.ErrLeaseHeld, "only the holder renews")
	require.NoError(t, d.ReleaseLease(ctx, f.target, leaseFarm, "run-B"))
	_, ok, _ := d.ReadLease(ctx, f.target, leaseFarm)
	assert.True(t, ok, "another run's release leaves the lease")

	// Force must name the holder's RunID.
	_, err = d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-B"), TTL: time.Minute, Force: true, ForceHolder: "run-Z"})
	require.ErrorIs(t, err, drivers.ErrLeaseHeld)
	assert.Contains(t, err.Error(), `force names run "run-Z"`)
	b, err := d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-B"), TTL: time.Minute, Force: true, ForceHolder: "run-A"})
	require.NoError(t, err)
	assert.Equal(t, "run-B", b.Holder.RunID)

	// Expired: anyone takes it over; the old holder can neither renew nor
	// release it.
	f.clock.Add(time.Minute)
	c, err := d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-C"), TTL: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, f.clock.Now(), c.Acquired)
	_, err = d.RenewLease(ctx, f.target, leaseFarm, "run-B", time.Minute)
	require.ErrorIs(t, err, drivers.ErrLeaseHeld)
	require.NoError(t, d.ReleaseLease(ctx, f.target, leaseFarm, "run-B"))
	got, ok, err := d.ReadLease(ctx, f.target, leaseFarm)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "run-C", got.Holder.RunID)

	// One second before expiry it is still held.
	f.clock.Add(time.Minute - time.Second)
	_, err = d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-D"), TTL: time.Minute})
	require.ErrorIs(t, err, drivers.ErrLeaseHeld)
}

// TestLeaseConcurrentAcquirers starts acquirers on separate drivers (as
// orchestrators on separate machines) at once: exactly one wins, every
// other is told who holds the lease.
func TestLeaseConcurrentAcquirers(t *testing.T) {
	f := newLeaseFixture(t)
	const n = 8
	drvs := make([]*winrm.Driver, n)
	for i := range drvs {
		drvs[i] = f.driver(t)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	leases := make([]drivers.Lease, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			leases[i], errs[i] = drvs[i].AcquireLease(context.Background(), f.target,
				drivers.LeaseRequest{Farm: leaseFarm, Holder: holder(fmt.Sprintf("run-%d", i)), TTL: time.Minute})
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	var winner string
	for i, err := range errs {
		if err == nil {
			winners++
			winner = leases[i].Holder.RunID
			continue
		}
		require.ErrorIs(t, err, drivers.ErrLeaseHeld, "acquirer %d", i)
	}
	require.Equal(t, 1, winners, "exactly one acquirer wins: %v", errs)
	for i, err := range errs {
		var held *drivers.LeaseHeldError
		if errors.As(err, &held) {
			assert.Equal(t, winner, held.Lease.Holder.RunID, "acquirer %d is told the winner", i)
		}
	}
	got, ok, err := drvs[0].ReadLease(context.Background(), f.target, leaseFarm)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, winner, got.Holder.RunID)
}

func TestLeaseFileProblems(t *testing.T) {
	f := newLeaseFixture(t)
	d := f.driver(t)
	ctx := context.Background()
	path := d.LeasePath(leaseFarm)

	// Not a lease: reported with its path, left alone.
	f.files.Set("dc01", path, "hello")
	_, err := d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-A"), TTL: time.Minute})
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	content, _ := f.files.Get("dc01", path)
	assert.Equal(t, "hello", content)

	// Another farm's lease at the same path (a shared LeaseDir and a hash
	// collision): refused, not taken.
	other, _ := json.Marshal(drivers.Lease{Farm: "other", Holder: holder("run-X"), Expires: f.clock.Now().Add(time.Hour)})
	f.files.Set("dc01", path, string(other))
	_, err = d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-A"), TTL: time.Minute})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `farm "other"`)

	// Empty: its creator died before writing it; taken over.
	f.files.Set("dc01", path, "")
	_, err = d.AcquireLease(ctx, f.target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-A"), TTL: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, f.srv.Unrecognised())
}

func TestLeaseBusyFileIsRetriedThenUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		files := &winrmtest.MapFiles{}
		srv := winrmtest.NewInMemoryServer(winrmtest.Config{Host: "dc01", Username: testUser, Password: testPassword,
			AllowBasic: true, AllowUnencrypted: true, Files: files})
		defer srv.Close()
		d, err := winrm.New(winrm.Config{PlainHTTP: true, Auth: winrm.AuthBasic, Username: testUser, Password: drivers.NewSecret(testPassword), Dial: srv.Dial})
		require.NoError(t, err)
		target := drivers.Target{Name: "dc01", Address: srv.Addr()}
		ctx := context.Background()
		path := d.LeasePath(leaseFarm)
		l, err := d.AcquireLease(ctx, target, drivers.LeaseRequest{Farm: leaseFarm, Holder: holder("run-A"), TTL: time.Minute})
		require.NoError(t, err)

		files.Lock("dc01", path) // another process holds the file open
		before := len(srv.Scripts())
		_, err = d.RenewLease(ctx, target, leaseFarm, "run-A", time.Minute)
		require.ErrorIs(t, err, drivers.ErrUnavailable, "busy throughout: retryable")
		assert.Contains(t, err.Error(), "busy")
		assert.Equal(t, 6, len(srv.Scripts())-before, "one read per attempt")
		_, _, err = d.ReadLease(ctx, target, leaseFarm)
		require.ErrorIs(t, err, drivers.ErrUnavailable)

		files.Unlock("dc01", path)
		got, ok, err := d.ReadLease(ctx, target, leaseFarm)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, l, got)
	})
}

func TestLeaseArgumentsAndDirRefused(t *testing.T) {
	f := newLeaseFixture(t)
	d := f.driver(t)
	ctx := context.Background()
	for name, req := range map[string]drivers.LeaseRequest{
		"no farm":           {Holder: holder("r"), TTL: time.Minute},
		"no run":            {Farm: "f", TTL: time.Minute},
		"no ttl":            {Farm: "f", Holder: holder("r")},
		"force without run": {Farm: "f", Holder: holder("r"), TTL: time.Minute, Force: true},
	} {
		_, err := d.AcquireLease(ctx, f.target, req)
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, name)
	}
	_, err := d.RenewLease(ctx, f.target, "f", "", time.Minute)
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	require.ErrorIs(t, d.ReleaseLease(ctx, f.target, "", "r"), drivers.ErrInvalidArgument)
	assert.Empty(t, f.srv.Scripts(), "nothing sent for a refused argument")

	for _, dir := range []string{`relative\dir`, `\\server\share\x`, `C:`, `C:\`, `C:\a\..\b`, `C:\a\.\b`, `C:\a;b`, `C:\a'b`, `C:\a$(x)`, `C:\a\ b`, "C:\\a\nb", `D:\` + strings.Repeat("x", 200)} {
		_, err := winrm.New(winrm.Config{Username: "u", LeaseDir: dir})
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, dir)
		assert.Contains(t, err.Error(), "LeaseDir")
	}
	d2, err := winrm.New(winrm.Config{Username: "u", LeaseDir: `D:\Ops Data\balanced (leases)\`})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(d2.LeasePath("f"), `D:\Ops Data\balanced (leases)\`), d2.LeasePath("f"))
	assert.NotEqual(t, d2.LeasePath("f"), d2.LeasePath("g"), "one file per farm")
}

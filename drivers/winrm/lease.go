package winrm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// DefaultLeaseDir is the folder on the Deployment Controller server that
// holds the farm lease files when Config.LeaseDir is empty.
const DefaultLeaseDir = `C:\ProgramData\balanced`

var _ drivers.FarmLeaser = (*Driver)(nil)

// leaseAttempts bounds how often one lease call reads and writes again when
// the file changed or was busy between its read and its write.
const leaseAttempts = 6

// LeasePath returns the path of farm's lease file on the Deployment
// Controller server: <LeaseDir>\<first 16 hex digits of SHA-256(farm)>.lease.
// The farm identity is hashed so that any identity makes a valid file name.
func (d *Driver) LeasePath(farm string) string {
	sum := sha256.Sum256([]byte(farm))
	return d.s.leaseDir + `\` + hex.EncodeToString(sum[:8]) + ".lease"
}

// AcquireLease implements drivers.FarmLeaser. The lease is the file
// LeasePath(req.Farm) on t, created atomically (FileMode.CreateNew), holding
// the lease as JSON (holder host, pid, user, run, release; acquired, renewed
// and expires, all from the server's clock). An existing lease is taken over
// when it has expired, when req.Holder.RunID already holds it (a resume:
// Acquired is kept), or with req.Force naming the holder's RunID; otherwise
// the call returns a *drivers.LeaseHeldError. Every change is a
// compare-and-replace of the content read, so of two concurrent callers
// exactly one wins.
func (d *Driver) AcquireLease(ctx context.Context, t drivers.Target, req drivers.LeaseRequest) (drivers.Lease, error) {
	wrap := func(err error) error { return fmt.Errorf("winrm: acquire farm lease on %s: %w", t.Name, err) }
	switch {
	case req.Farm == "":
		return drivers.Lease{}, wrap(fmt.Errorf("%w: LeaseRequest.Farm is empty; want the farm identity", drivers.ErrInvalidArgument))
	case req.Holder.RunID == "":
		return drivers.Lease{}, wrap(fmt.Errorf("%w: LeaseRequest.Holder.RunID is empty; want the run's ID", drivers.ErrInvalidArgument))
	case req.TTL <= 0:
		return drivers.Lease{}, wrap(fmt.Errorf("%w: LeaseRequest.TTL %v; want a positive duration", drivers.ErrInvalidArgument, req.TTL))
	case req.Force && req.ForceHolder == "":
		return drivers.Lease{}, wrap(fmt.Errorf("%w: LeaseRequest.Force without ForceHolder; want the RunID of the holder to take over from", drivers.ErrInvalidArgument))
	}
	path := d.LeasePath(req.Farm)
	for range leaseAttempts {
		cur, now, err := d.readLease(ctx, t, path, req.Farm)
		if err != nil {
			return drivers.Lease{}, wrap(err)
		}
		if cur.busy {
			if err := leaseBackoff(ctx); err != nil {
				return drivers.Lease{}, wrap(err)
			}
			continue
		}
		next := drivers.Lease{Farm: req.Farm, Holder: req.Holder, Acquired: now, Renewed: now, Expires: now.Add(req.TTL)}
		if !cur.exists {
			created, err := d.createLease(ctx, t, path, next)
			if err != nil {
				return drivers.Lease{}, wrap(err)
			}
			if created {
				return next, nil
			}
			continue // created by someone else meanwhile: read it
		}
		if cur.valid {
			held := cur.lease
			switch {
			case held.Holder.RunID == req.Holder.RunID:
				next.Acquired = held.Acquired
			case !held.Expired(now) && req.Force && req.ForceHolder != held.Holder.RunID:
				return drivers.Lease{}, wrap(fmt.Errorf("force names run %q but the lease is held by run %q: %w",
					req.ForceHolder, held.Holder.RunID, &drivers.LeaseHeldError{Lease: held}))
			case !held.Expired(now) && !req.Force:
				return drivers.Lease{}, wrap(&drivers.LeaseHeldError{Lease: held})
			case held.Expired(now):
				d.s.log.Warn("winrm: taking over an expired farm lease", "server", t.Name, "path", path,
					"holder", held.Holder.String(), "expired", held.Expires)
			default:
				d.s.log.Warn("winrm: taking over the farm lease by force", "server", t.Name, "path", path, "holder", held.Holder.String())
			}
		} else {
			// An empty file: its creator died between creating and writing
			// it (a creator that is still writing holds it exclusively, so
			// it reads busy, not empty). It holds no lease.
			d.s.log.Warn("winrm: replacing an empty farm lease file", "server", t.Name, "path", path)
		}
		replaced, err := d.replaceLease(ctx, t, path, cur.raw, next)
		if err != nil {
			return drivers.Lease{}, wrap(err)
		}
		if replaced {
			return next, nil
		}
	}
	return drivers.Lease{}, wrap(drivers.Classify(drivers.ErrUnavailable,
		fmt.Errorf("the lease file %s kept changing or stayed busy over %d attempts", path, leaseAttempts)))
}

// RenewLease implements drivers.FarmLeaser: it extends the lease runID holds
// to the server's clock plus ttl.
func (d *Driver) RenewLease(ctx context.Context, t drivers.Target, farm, runID string, ttl time.Duration) (drivers.Lease, error) {
	wrap := func(err error) error { return fmt.Errorf("winrm: renew farm lease on %s: %w", t.Name, err) }
	if farm == "" || runID == "" || ttl <= 0 {
		return drivers.Lease{}, wrap(fmt.Errorf("%w: farm %q, run %q, ttl %v; want a farm, a run ID and a positive ttl", drivers.ErrInvalidArgument, farm, runID, ttl))
	}
	path := d.LeasePath(farm)
	for range leaseAttempts {
		cur, now, err := d.readLease(ctx, t, path, farm)
		switch {
		case err != nil:
			return drivers.Lease{}, wrap(err)
		case cur.busy:
			if err := leaseBackoff(ctx); err != nil {
				return drivers.Lease{}, wrap(err)
			}
			continue
		case !cur.exists || !cur.valid:
			return drivers.Lease{}, wrap(fmt.Errorf("%w: no farm lease at %s", drivers.ErrNotFound, path))
		case cur.lease.Holder.RunID != runID:
			return drivers.Lease{}, wrap(&drivers.LeaseHeldError{Lease: cur.lease})
		}
		next := cur.lease
		next.Renewed, next.Expires = now, now.Add(ttl)
		replaced, err := d.replaceLease(ctx, t, path, cur.raw, next)
		if err != nil {
			return drivers.Lease{}, wrap(err)
		}
		if replaced {
			return next, nil
		}
	}
	return drivers.Lease{}, wrap(drivers.Classify(drivers.ErrUnavailable,
		fmt.Errorf("the lease file %s kept changing or stayed busy over %d attempts", path, leaseAttempts)))
}

// ReleaseLease implements drivers.FarmLeaser: it deletes the lease file if
// runID holds the lease, and does nothing otherwise.
func (d *Driver) ReleaseLease(ctx context.Context, t drivers.Target, farm, runID string) error {
	wrap := func(err error) error { return fmt.Errorf("winrm: release farm lease on %s: %w", t.Name, err) }
	if farm == "" || runID == "" {
		return wrap(fmt.Errorf("%w: farm %q, run %q; want both", drivers.ErrInvalidArgument, farm, runID))
	}
	path := d.LeasePath(farm)
	for range leaseAttempts {
		cur, _, err := d.readLease(ctx, t, path, farm)
		switch {
		case err != nil:
			return wrap(err)
		case cur.busy:
			if err := leaseBackoff(ctx); err != nil {
				return wrap(err)
			}
			continue
		case !cur.exists || !cur.valid || cur.lease.Holder.RunID != runID:
			return nil
		}
		out, err := d.leaseScript(ctx, t, "release", leaseScript(path, leaseOpenLines, leaseDeleteLines, "Delete", cur.raw, nil))
		if err != nil {
			return wrap(err)
		}
		if out.outcome == "BALANCED-LEASE-DELETED" || out.outcome == "BALANCED-LEASE-NONE" {
			return nil
		}
		if out.outcome == "BALANCED-LEASE-BUSY" {
			if err := leaseBackoff(ctx); err != nil {
				return wrap(err)
			}
		}
	}
	return wrap(drivers.Classify(drivers.ErrUnavailable,
		fmt.Errorf("the lease file %s kept changing or stayed busy over %d attempts", path, leaseAttempts)))
}

// ReadLease implements drivers.FarmLeaser.
func (d *Driver) ReadLease(ctx context.Context, t drivers.Target, farm string) (drivers.Lease, bool, error) {
	wrap := func(err error) error { return fmt.Errorf("winrm: read farm lease on %s: %w", t.Name, err) }
	if farm == "" {
		return drivers.Lease{}, false, wrap(fmt.Errorf("%w: farm is empty; want the farm identity", drivers.ErrInvalidArgument))
	}
	path := d.LeasePath(farm)
	for range leaseAttempts {
		cur, _, err := d.readLease(ctx, t, path, farm)
		if err != nil {
			return drivers.Lease{}, false, wrap(err)
		}
		if !cur.busy {
			return cur.lease, cur.exists && cur.valid, nil
		}
		if err := leaseBackoff(ctx); err != nil {
			return drivers.Lease{}, false, wrap(err)
		}
	}
	return drivers.Lease{}, false, wrap(drivers.Classify(drivers.ErrUnavailable, fmt.Errorf("the lease file %s stayed busy over %d attempts", path, leaseAttempts)))
}

// leaseBackoff waits a little before another attempt, or until ctx ends.
func leaseBackoff(ctx context.Context) error {
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leaseFile is the lease file as read.
type leaseFile struct {
	exists, busy, valid bool
	raw                 []byte
	lease               drivers.Lease
}

// readLease reads the lease file and the server's clock.
func (d *Driver) readLease(ctx context.Context, t drivers.Target, path, farm string) (leaseFile, time.Time, error) {
	out, err := d.leaseScript(ctx, t, "read lease", leaseScript(path, leaseReadLines, nil, "", nil, nil))
	if err != nil {
		return leaseFile{}, time.Time{}, err
	}
	if out.now.IsZero() {
		return leaseFile{}, time.Time{}, fmt.Errorf("the lease script printed no server time")
	}
	f := leaseFile{}
	switch out.outcome {
	case "BALANCED-LEASE-NONE":
		return f, out.now, nil
	case "BALANCED-LEASE-BUSY":
		f.busy = true
		return f, out.now, nil
	case "BALANCED-LEASE":
	default:
		return f, out.now, fmt.Errorf("the lease script printed %q", out.outcome)
	}
	f.exists, f.raw = true, out.content
	if len(bytes.TrimSpace(f.raw)) == 0 {
		return f, out.now, nil
	}
	dec := json.NewDecoder(bytes.NewReader(f.raw))
	if err := dec.Decode(&f.lease); err != nil || f.lease.Holder.RunID == "" || f.lease.Expires.IsZero() {
		return f, out.now, fmt.Errorf("the lease file %s on the server holds no lease (%.80q); remove it once no run uses the farm", path, f.raw)
	}
	if f.lease.Farm != farm {
		return f, out.now, fmt.Errorf("the lease file %s holds the lease of farm %q, not %q; set Config.LeaseDir (services.lease_dir in a spec) apart", path, f.lease.Farm, farm)
	}
	f.valid = true
	return f, out.now, nil
}

// createLease creates the lease file; created is false when it existed.
func (d *Driver) createLease(ctx context.Context, t drivers.Target, path string, l drivers.Lease) (bool, error) {
	content, err := json.Marshal(l)
	if err != nil {
		return false, err
	}
	out, err := d.leaseScript(ctx, t, "create lease", leaseScript(path, leaseCreateLines, nil, "", nil, content))
	if err != nil {
		return false, err
	}
	switch out.outcome {
	case "BALANCED-LEASE-CREATED":
		return true, nil
	case "BALANCED-LEASE-EXISTS":
		return false, nil
	}
	return false, fmt.Errorf("the lease script printed %q", out.outcome)
}

// replaceLease writes l over old; replaced is false when the file no longer
// held old (or was busy or gone).
func (d *Driver) replaceLease(ctx context.Context, t drivers.Target, path string, old []byte, l drivers.Lease) (bool, error) {
	content, err := json.Marshal(l)
	if err != nil {
		return false, err
	}
	out, err := d.leaseScript(ctx, t, "replace lease", leaseScript(path, leaseOpenLines, leaseReplaceLines, "None", old, content))
	if err != nil {
		return false, err
	}
	switch out.outcome {
	case "BALANCED-LEASE-REPLACED":
		return true, nil
	case "BALANCED-LEASE-CHANGED", "BALANCED-LEASE-NONE", "BALANCED-LEASE-BUSY":
		return false, nil
	}
	return false, fmt.Errorf("the lease script printed %q", out.outcome)
}

// leaseOutput is what a lease script printed.
type leaseOutput struct {
	now     time.Time
	outcome string // the BALANCED-LEASE... marker
	content []byte // for BALANCED-LEASE and BALANCED-LEASE-CHANGED
}

// leaseScript runs a lease script and reads its markers.
func (d *Driver) leaseScript(ctx context.Context, t drivers.Target, op, script string) (leaseOutput, error) {
	out, err := d.runScript(ctx, t, op, "", script)
	if err != nil {
		return leaseOutput{}, err
	}
	if out.code != 0 {
		msg := readableStderr(out.stderr)
		err := fmt.Errorf("lease script exited with code %d: %s", out.code, msg)
		if isAccessDenied(msg) {
			err = drivers.Classify(drivers.ErrPermissionDenied, err)
		}
		return leaseOutput{}, err
	}
	var lo leaseOutput
	for _, line := range strings.Split(out.stdout, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "BALANCED-NOW "):
			now, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(line, "BALANCED-NOW "))
			if err != nil {
				return lo, fmt.Errorf("the server's clock %q: %w", line, err)
			}
			lo.now = now.UTC()
		case strings.HasPrefix(line, "BALANCED-LEASE"):
			if lo.outcome != "" {
				return lo, errors.New("the lease script printed two outcomes")
			}
			marker, data, _ := strings.Cut(line, " ")
			lo.outcome = marker
			if data != "" {
				b, err := base64.StdEncoding.DecodeString(data)
				if err != nil {
					return lo, fmt.Errorf("the lease script printed %s with content that is not base64: %w", marker, err)
				}
				lo.content = b
			}
		}
	}
	if lo.outcome == "" {
		return lo, fmt.Errorf("the lease script printed no outcome (stdout %.120q)", out.stdout)
	}
	return lo, nil
}

// leaseScript builds a lease script from the prelude, lines and tail, with
// share (an enum name from a closed set) and old and content as base64.
func leaseScript(path string, lines, tail []string, share string, old, content []byte) string {
	dir := path[:strings.LastIndex(path, `\`)]
	r := strings.NewReplacer(
		"%PATH%", quotePS(path), "%DIR%", quotePS(dir), "%SHARE%", share,
		"%OLD%", "'"+base64.StdEncoding.EncodeToString(old)+"'",
		"%NEW%", "'"+base64.StdEncoding.EncodeToString(content)+"'",
	)
	var out []string
	for _, part := range [][]string{leasePrelude, lines, tail} {
		for _, l := range part {
			out = append(out, r.Replace(l))
		}
	}
	return strings.Join(out, "\n")
}

// The lease scripts. Like the service scripts they are fixed templates,
// Windows PowerShell 4.0 compatible, whose only variable parts are the lease
// file's path and folder (single-quoted literals made by quotePS, after
// validLeaseDir) and lease contents (single-quoted base64 literals). Package
// winrmtest recognises exactly these shapes; change both together.
//
// Atomicity comes from the file system: CreateNew fails when the file exists
// (FileMode.CreateNew), so of two creators exactly one succeeds; a
// compare-and-replace opens the file with FileShare.None, so no other script
// reads or writes it meanwhile (they report BUSY and the driver tries again);
// a compare-and-delete opens it with FileShare.Delete only and deletes it
// while holding it, so nobody else can open it between the comparison and
// the deletion. Every script reports an expected outcome on stdout; only
// unexpected errors (no rights, a full disk) end in a PowerShell error.
var (
	// leasePrelude starts every lease script; %PATH% is the lease file.
	leasePrelude = []string{
		`$ErrorActionPreference = 'Stop'`,
		`function Get-Inner($e) { while ($e.InnerException) { $e = $e.InnerException }; $e }`,
		`function Test-Missing($e) { ($e -is [System.IO.FileNotFoundException]) -or ($e -is [System.IO.DirectoryNotFoundException]) }`,
		`function Test-Busy($e) { ($e -is [System.IO.IOException]) -or ($e -is [System.UnauthorizedAccessException]) }`,
		`$p = %PATH%`,
	}
	// leaseReadLines print the server's clock and the lease file, if any.
	leaseReadLines = []string{
		`[Console]::Out.WriteLine('BALANCED-NOW ' + [DateTime]::UtcNow.ToString('o'))`,
		`try { $b = [System.IO.File]::ReadAllBytes($p) } catch { $i = Get-Inner $_.Exception; if (Test-Missing $i) { [Console]::Out.WriteLine('BALANCED-LEASE-NONE'); exit 0 }; if (Test-Busy $i) { [Console]::Out.WriteLine('BALANCED-LEASE-BUSY'); exit 0 }; throw }`,
		`[Console]::Out.WriteLine('BALANCED-LEASE ' + [System.Convert]::ToBase64String($b))`,
	}
	// leaseCreateLines create the lease file with %NEW% unless it exists;
	// %DIR% is its folder, created if missing.
	leaseCreateLines = []string{
		`$new = [System.Convert]::FromBase64String(%NEW%)`,
		`[void][System.IO.Directory]::CreateDirectory(%DIR%)`,
		`try { $fs = [System.IO.File]::Open($p, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None) } catch { $i = Get-Inner $_.Exception; if (Test-Busy $i) { [Console]::Out.WriteLine('BALANCED-LEASE-EXISTS'); exit 0 }; throw }`,
		`try { $fs.Write($new, 0, $new.Length); $fs.Flush($true) } finally { $fs.Close() }`,
		`[Console]::Out.WriteLine('BALANCED-LEASE-CREATED')`,
	}
	// leaseOpenLines open the lease file for a compare-and-replace
	// (%SHARE% None) or a compare-and-delete (%SHARE% Delete), and read it.
	leaseOpenLines = []string{
		`$old = [System.Convert]::FromBase64String(%OLD%)`,
		`try { $fs = [System.IO.File]::Open($p, [System.IO.FileMode]::Open, [System.IO.FileAccess]::ReadWrite, [System.IO.FileShare]::%SHARE%) } catch { $i = Get-Inner $_.Exception; if (Test-Missing $i) { [Console]::Out.WriteLine('BALANCED-LEASE-NONE'); exit 0 }; if (Test-Busy $i) { [Console]::Out.WriteLine('BALANCED-LEASE-BUSY'); exit 0 }; throw }`,
		`$out = ''`,
	}
	// leaseReplaceLines write %NEW% if the file still holds %OLD%.
	leaseReplaceLines = []string{
		`$new = [System.Convert]::FromBase64String(%NEW%)`,
		`try { $cur = New-Object -TypeName byte[] -ArgumentList $fs.Length; $n = 0; while ($n -lt $cur.Length) { $r = $fs.Read($cur, $n, $cur.Length - $n); if ($r -le 0) { break }; $n += $r }; if ([System.Convert]::ToBase64String($cur) -cne [System.Convert]::ToBase64String($old)) { $out = 'BALANCED-LEASE-CHANGED ' + [System.Convert]::ToBase64String($cur) } else { $fs.SetLength(0); $fs.Position = 0; $fs.Write($new, 0, $new.Length); $fs.Flush($true); $out = 'BALANCED-LEASE-REPLACED' } } finally { $fs.Close() }`,
		`[Console]::Out.WriteLine($out)`,
	}
	// leaseDeleteLines delete the file if it still holds %OLD%.
	leaseDeleteLines = []string{
		`try { $cur = New-Object -TypeName byte[] -ArgumentList $fs.Length; $n = 0; while ($n -lt $cur.Length) { $r = $fs.Read($cur, $n, $cur.Length - $n); if ($r -le 0) { break }; $n += $r }; if ([System.Convert]::ToBase64String($cur) -cne [System.Convert]::ToBase64String($old)) { $out = 'BALANCED-LEASE-CHANGED ' + [System.Convert]::ToBase64String($cur) } else { [System.IO.File]::Delete($p); $out = 'BALANCED-LEASE-DELETED' } } finally { $fs.Close() }`,
		`[Console]::Out.WriteLine($out)`,
	}
)

// validLeaseDir checks Config.LeaseDir: an absolute local path, drive letter
// first, below the drive's root, of plain path characters, without "." or
// ".." segments.
func validLeaseDir(dir string) (string, error) {
	if dir == "" {
		return DefaultLeaseDir, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%w: Config.LeaseDir %q %s; want an absolute local Windows path such as %s", drivers.ErrInvalidArgument, dir, why, DefaultLeaseDir)
	}
	drive := len(dir) >= 3 && (dir[0] >= 'A' && dir[0] <= 'Z' || dir[0] >= 'a' && dir[0] <= 'z')
	if !drive || dir[1] != ':' || dir[2] != '\\' {
		return "", bad("does not start with a drive letter, a colon and a backslash")
	}
	if len(dir) > 200 {
		return "", bad("is longer than 200 characters")
	}
	rest := strings.TrimRight(dir[3:], `\`)
	if rest == "" {
		return "", bad("is a drive's root")
	}
	for _, seg := range strings.Split(rest, `\`) {
		if seg == "" || seg == "." || seg == ".." || strings.TrimSpace(seg) != seg || strings.HasSuffix(seg, ".") {
			return "", bad("has an empty, dot or space-padded segment")
		}
		for _, r := range seg {
			ok := r == ' ' || r == '-' || r == '_' || r == '.' || r == '(' || r == ')' ||
				r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
			if !ok {
				return "", bad(fmt.Sprintf("has character %q", r))
			}
		}
	}
	return dir[:3] + rest, nil
}

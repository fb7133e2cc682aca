package winrmtest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The lease script shapes of package winrm, copied on purpose (see the
// service shapes in interp.go). On Windows their atomicity comes from the
// file system (FileMode.CreateNew; FileShare.None while comparing and
// replacing; FileShare.Delete while comparing and deleting, see package
// winrm); the fake runs each script atomically under MapFiles' lock, and
// MapFiles.Lock makes a file read busy as another process holding it open
// would.
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

// The lease operations the fake recognises.
const (
	OpLeaseRead    Op = "lease-read"
	OpLeaseCreate  Op = "lease-create"
	OpLeaseReplace Op = "lease-replace"
	OpLeaseDelete  Op = "lease-delete"
)

// leaseArgs are a lease script's variable parts.
type leaseArgs struct {
	path, dir, share string
	old, new         []byte
	hasOld, hasNew   bool
}

var placeholderRe = regexp.MustCompile(`%(PATH|DIR|OLD|NEW|SHARE)%`)

// lineMatcher turns a template line into a regexp whose groups capture its
// placeholders, and the placeholders' names in order.
func lineMatcher(tmpl string) (*regexp.Regexp, []string) {
	var names []string
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range placeholderRe.FindAllStringSubmatchIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]))
		name := tmpl[m[2]:m[3]]
		names = append(names, name)
		switch name {
		case "PATH", "DIR":
			b.WriteString(`('(?:[^']|'')*')`)
		case "OLD", "NEW":
			b.WriteString(`'([A-Za-z0-9+/=]*)'`)
		case "SHARE":
			b.WriteString(`(None|Delete)`)
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(tmpl[last:]))
	b.WriteString("$")
	return regexp.MustCompile(b.String()), names
}

// matchLines matches lines against templates, filling a.
func matchLines(lines, templates []string, a *leaseArgs) error {
	if len(lines) != len(templates) {
		return fmt.Errorf("lease script has %d lines here; want %d", len(lines), len(templates))
	}
	for i, tmpl := range templates {
		re, names := lineMatcher(tmpl)
		m := re.FindStringSubmatch(lines[i])
		if m == nil {
			return fmt.Errorf("lease script line %.80q; want %.80q", lines[i], tmpl)
		}
		for j, name := range names {
			v := m[j+1]
			switch name {
			case "PATH", "DIR":
				s, err := unquotePS(v)
				if err != nil {
					return err
				}
				if name == "PATH" {
					a.path = s
				} else {
					a.dir = s
				}
			case "OLD", "NEW":
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					return fmt.Errorf("%s is not base64: %w", name, err)
				}
				if name == "OLD" {
					a.old, a.hasOld = b, true
				} else {
					a.new, a.hasNew = b, true
				}
			case "SHARE":
				a.share = v
			}
		}
	}
	return nil
}

// parseLeaseScript recognises one of the lease shapes.
func parseLeaseScript(lines []string) (parsed, error) {
	var p parsed
	if len(lines) < len(leasePrelude) {
		return p, errors.New("lease script too short")
	}
	var a leaseArgs
	if err := matchLines(lines[:len(leasePrelude)], leasePrelude, &a); err != nil {
		return p, err
	}
	body := lines[len(leasePrelude):]
	try := func(op Op, parts ...[]string) bool {
		var all []string
		for _, part := range parts {
			all = append(all, part...)
		}
		b := a
		if matchLines(body, all, &b) != nil {
			return false
		}
		if op == OpLeaseReplace && b.share != "None" || op == OpLeaseDelete && b.share != "Delete" {
			return false
		}
		p.op, p.lease = op, b
		return true
	}
	switch {
	case try(OpLeaseRead, leaseReadLines):
	case try(OpLeaseCreate, leaseCreateLines):
		if !strings.HasPrefix(strings.ToLower(p.lease.path), strings.ToLower(p.lease.dir)+`\`) {
			return p, fmt.Errorf("lease folder %q does not hold lease file %q", p.lease.dir, p.lease.path)
		}
	case try(OpLeaseReplace, leaseOpenLines, leaseReplaceLines):
	case try(OpLeaseDelete, leaseOpenLines, leaseDeleteLines):
	default:
		return p, errors.New("lease script body matches no known shape")
	}
	p.name = p.lease.path
	return p, nil
}

// dotNetRoundTrip is .NET's DateTime.ToString("o") for a UTC time.
const dotNetRoundTrip = "2006-01-02T15:04:05.0000000Z"

// executeLease runs a recognised lease script against files on host, at
// the server's time now.
func executeLease(files *MapFiles, host string, now time.Time, p parsed) result {
	a := p.lease
	files.mu.Lock()
	defer files.mu.Unlock()
	key := fileKey(host, a.path)
	content, exists := files.files[key]
	locked := files.locked[key]
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var out string
	switch p.op {
	case OpLeaseRead:
		out = "BALANCED-NOW " + now.UTC().Format(dotNetRoundTrip) + "\r\n"
		switch {
		case !exists:
			out += "BALANCED-LEASE-NONE\r\n"
		case locked:
			out += "BALANCED-LEASE-BUSY\r\n"
		default:
			out += "BALANCED-LEASE " + b64(content) + "\r\n"
		}
	case OpLeaseCreate:
		if exists || locked {
			return result{stdout: "BALANCED-LEASE-EXISTS\r\n"}
		}
		if files.files == nil {
			files.files = make(map[string]string)
		}
		files.files[key] = string(a.new)
		out = "BALANCED-LEASE-CREATED\r\n"
	case OpLeaseReplace, OpLeaseDelete:
		switch {
		case !exists:
			out = "BALANCED-LEASE-NONE\r\n"
		case locked:
			out = "BALANCED-LEASE-BUSY\r\n"
		case !bytes.Equal([]byte(content), a.old):
			out = "BALANCED-LEASE-CHANGED " + b64(content) + "\r\n"
		case p.op == OpLeaseReplace:
			files.files[key] = string(a.new)
			out = "BALANCED-LEASE-REPLACED\r\n"
		default:
			delete(files.files, key)
			out = "BALANCED-LEASE-DELETED\r\n"
		}
	}
	return result{stdout: out}
}

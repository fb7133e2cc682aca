package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// maxReply bounds how much of a reply the driver reads (a "show stat" of a
// large backend is a few hundred kilobytes).
const maxReply = 16 << 20

// exchange sends cmds as one request line and returns one reply per
// command. Errors wrap ctx.Err() when the context ended the exchange.
func (d *Driver) exchange(ctx context.Context, cmds []string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("haproxy %s: %w", d.cfg.Address, err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	line := strings.Join(cmds, ";") + "\n"
	d.log.DebugContext(ctx, "haproxy runtime api", "address", d.cfg.Address, "commands", line[:len(line)-1])

	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, d.network, d.cfg.Address)
	if err != nil {
		return nil, d.dialError(ctx, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return nil, fmt.Errorf("haproxy %s: set deadline: %w", d.cfg.Address, err)
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := io.WriteString(conn, line); err != nil {
		return nil, d.ioError(ctx, "send", err)
	}
	data, err := io.ReadAll(io.LimitReader(conn, maxReply+1))
	if err != nil {
		return nil, d.ioError(ctx, "read reply", err)
	}
	if len(data) > maxReply {
		return nil, fmt.Errorf("haproxy %s: reply longer than %d bytes", d.cfg.Address, maxReply)
	}
	replies := splitReplies(string(data))
	if len(replies) < len(cmds) {
		return nil, fmt.Errorf("haproxy %s: got %d replies to %d commands (connection closed early?): %q",
			d.cfg.Address, len(replies), len(cmds), truncate(string(data), 200))
	}
	return replies[:len(cmds)], nil
}

// dialError classifies a failure to connect. Nothing was sent. A local
// unix socket that is missing (ENOENT, ENOTDIR) or refuses connections
// (ECONNREFUSED: the file exists but no process listens on it, so HAProxy
// is not running or the path belongs to an old process) does not fix itself
// by retrying: it is a configuration error, [drivers.ErrInvalidArgument],
// whose message names the path and the haproxy.cfg line it needs. Over TCP,
// a refused or unreachable address may be a restart in progress and stays
// [drivers.ErrUnavailable].
func (d *Driver) dialError(ctx context.Context, err error) error {
	if cerr := ctxErr(ctx, err); cerr != nil {
		return fmt.Errorf("haproxy %s: connect: %w (%w)", d.cfg.Address, cerr, err)
	}
	switch {
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return drivers.Classify(drivers.ErrPermissionDenied, fmt.Errorf("haproxy %s: connect: %w", d.cfg.Address, err))
	case d.network == "unix" && (errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR)):
		return drivers.Classify(drivers.ErrInvalidArgument, fmt.Errorf(
			"haproxy: no Runtime API socket at %s (%w): set Address to the path of HAProxy's admin socket, and declare it in the global section of haproxy.cfg: %q",
			d.cfg.Address, errno(err), socketLine(d.cfg.Address)))
	case d.network == "unix" && errors.Is(err, syscall.ECONNREFUSED):
		return drivers.Classify(drivers.ErrInvalidArgument, fmt.Errorf(
			"haproxy: the socket %s refuses connections (%w): no HAProxy process listens on it (HAProxy stopped, or the file is left from an old process); check that HAProxy runs with %q in the global section of haproxy.cfg",
			d.cfg.Address, errno(err), socketLine(d.cfg.Address)))
	default:
		// TCP refused or unreachable, dial timeout: no byte was sent, the
		// change certainly did not happen; HAProxy may be restarting.
		return drivers.Classify(drivers.ErrUnavailable, fmt.Errorf("haproxy %s: connect: %w", d.cfg.Address, err))
	}
}

// socketLine is the haproxy.cfg line that declares the socket at path.
func socketLine(path string) string {
	return "stats socket " + path + " mode 600 level admin"
}

// errno returns the system error inside err (its text without the dial
// prefix that would repeat the path), or err.
func errno(err error) error {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return err
}

// ioError reports a failure after the connection was made. The request may
// have reached HAProxy, so it is never ErrUnavailable.
func (d *Driver) ioError(ctx context.Context, what string, err error) error {
	if cerr := ctxErr(ctx, err); cerr != nil {
		return fmt.Errorf("haproxy %s: %s: %w (%w)", d.cfg.Address, what, cerr, err)
	}
	return fmt.Errorf("haproxy %s: %s: %w", d.cfg.Address, what, err)
}

// ctxErr returns the context error that explains err: ctx.Err(), or
// context.DeadlineExceeded when err is the socket deadline (set from the
// context's deadline) firing a moment before the context's own timer.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	var ne net.Error
	if dl, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// splitReplies cuts the output of a request line into the replies of its
// commands: each reply ends with an empty line. A successful "set server"
// replies with nothing.
func splitReplies(data string) []string {
	if data == "" {
		return nil
	}
	// The final newline ends the last line; it opens no new one.
	data = strings.TrimSuffix(data, "\n")
	var out, cur []string
	for line := range strings.SplitSeq(data, "\n") {
		if line == "" {
			out = append(out, strings.Join(cur, "\n"))
			cur = cur[:0]
			continue
		}
		cur = append(cur, line)
	}
	// Lines after the last empty line belong to a reply HAProxy did not
	// finish: they are dropped and the caller sees a missing reply.
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// replyError maps the reply of a mutating command to an error; nil when the
// command succeeded (an empty reply).
func replyError(cmd, reply string) error {
	reply = strings.TrimSpace(reply)
	if reply == "" {
		return nil
	}
	err := fmt.Errorf("haproxy refused %q: %q", cmd, truncate(firstLine(reply), 200))
	return classifyReply(reply, err)
}

// classifyReply wraps err in the class that HAProxy's error text names.
func classifyReply(reply string, err error) error {
	switch {
	case strings.HasPrefix(reply, "No such server"), strings.HasPrefix(reply, "No such backend"),
		strings.HasPrefix(reply, "Can't find backend"), strings.HasPrefix(reply, "No such proxy"):
		return drivers.Classify(drivers.ErrNotFound, err)
	case strings.Contains(reply, "Permission denied"):
		return drivers.Classify(drivers.ErrPermissionDenied, err)
	case strings.HasPrefix(reply, "Unknown command"):
		return drivers.Classify(drivers.ErrUnimplemented, err)
	}
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

package f5

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// maxBody bounds what the driver reads from one answer.
const maxBody = 4 << 20

// redacted replaces secrets in text that came from the device.
const redacted = "[redacted]"

// reply is one HTTP answer.
type reply struct {
	status int
	body   []byte
}

// send performs one HTTP exchange with the given token (none for login).
// A transport failure is classified ErrUnavailable when the request
// certainly did not reach the device (dial and DNS failures) or when it
// could not change anything (reads); otherwise it is left unclassified.
func (d *Driver) send(parent context.Context, method, path string, body any, token drivers.Secret, txID string) (reply, error) {
	ctx, cancel := context.WithTimeout(parent, d.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, fmt.Errorf("f5: encoding %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := *d.base
	// path is already escaped (memberPath escapes each segment).
	unescaped, err := url.PathUnescape(path)
	if err != nil {
		return reply{}, fmt.Errorf("%w: f5: bad request path: %w", drivers.ErrInvalidArgument, err)
	}
	u.Path, u.RawPath = unescaped, path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return reply{}, fmt.Errorf("%w: f5: building %s %s: %w", drivers.ErrInvalidArgument, method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !token.IsZero() {
		req.Header.Set("X-F5-Auth-Token", token.Reveal())
	}
	if txID != "" {
		req.Header.Set(coordinationHeader, txID)
	}
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		return reply{}, d.transportError(parent, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return reply{}, d.transportError(parent, method, path, err)
	}
	return reply{status: resp.StatusCode, body: data}, nil
}

// transportError classifies an error from the HTTP client. When the
// caller's context ended, the error wraps ctx.Err() and is not retryable.
func (d *Driver) transportError(parent context.Context, method, path string, err error) error {
	err = fmt.Errorf("f5: %s %s: %w", method, path, d.scrubErr(err))
	var opErr *net.OpError
	var dnsErr *net.DNSError
	notSent := (errors.As(err, &opErr) && opErr.Op == "dial") || errors.As(err, &dnsErr)
	if notSent || method == http.MethodGet {
		if parent.Err() != nil {
			return fmt.Errorf("%w (%w)", err, parent.Err())
		}
		return drivers.Classify(drivers.ErrUnavailable, err)
	}
	return err
}

// statusError turns a non-2xx answer into a classified error. For a
// mutating request, 429 and 503 are the only answers after which the change
// certainly did not happen (the device refused the request before handling
// it); 500, 502 and 504 may come after a partial or complete change, so
// they stay unclassified and the caller reads the member back.
func (d *Driver) statusError(method, path string, r reply) error {
	msg := ""
	var eb errorBody
	if json.Unmarshal(r.body, &eb) == nil && eb.Message != "" {
		msg = ": " + d.scrub(eb.Message)
	}
	err := fmt.Errorf("f5: %s %s: HTTP %d%s", method, path, r.status, msg)
	switch {
	case r.status == http.StatusBadRequest:
		return drivers.Classify(drivers.ErrInvalidArgument, err)
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		return drivers.Classify(drivers.ErrPermissionDenied, err)
	case r.status == http.StatusNotFound:
		return drivers.Classify(drivers.ErrNotFound, err)
	case r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable:
		return drivers.Classify(drivers.ErrUnavailable, err)
	case r.status >= 500 && method == http.MethodGet:
		return drivers.Classify(drivers.ErrUnavailable, err)
	}
	return err
}

// scrub removes the password and the current token from text that came
// from the device or the network, so neither reaches an error or a log.
func (d *Driver) scrub(s string) string {
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	s = strings.ReplaceAll(s, d.cfg.Password.Reveal(), redacted)
	d.tok.mu.Lock()
	tok := d.tok.token
	d.tok.mu.Unlock()
	if !tok.IsZero() {
		s = strings.ReplaceAll(s, tok.Reveal(), redacted)
	}
	return s
}

// scrubbedError keeps the error chain (errors.Is/As still work) while its
// message is scrubbed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubErr wraps err so that its message is scrubbed.
func (d *Driver) scrubErr(err error) error {
	msg := d.scrub(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// do sends an authenticated request and returns the body of a 2xx answer.
// It logs in when there is no valid token (or it is about to expire), and
// on a 401 it logs in again once and repeats the request: a 401 means the
// device refused the token, so the request changed nothing. A second 401
// is ErrPermissionDenied.
func (d *Driver) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	return d.doTx(ctx, "", method, path, body)
}

// doTx is do for a request queued in the transaction txID (none when
// empty).
func (d *Driver) doTx(ctx context.Context, txID, method, path string, body any) ([]byte, error) {
	tok, err := d.token(ctx)
	if err != nil {
		return nil, err
	}
	r, err := d.send(ctx, method, path, body, tok, txID)
	if err != nil {
		return nil, err
	}
	if r.status == http.StatusUnauthorized {
		d.cfg.Logger.Info("f5: token refused, logging in again", "method", method, "path", path)
		d.invalidate(tok)
		if tok, err = d.token(ctx); err != nil {
			return nil, err
		}
		if r, err = d.send(ctx, method, path, body, tok, txID); err != nil {
			return nil, err
		}
	}
	if r.status < 200 || r.status > 299 {
		return nil, d.statusError(method, path, r)
	}
	return r.body, nil
}

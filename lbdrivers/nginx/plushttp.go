package nginx

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/balanced-deploy/balanced/drivers"
)

// apiError is the NGINX Plus API error body:
// {"error":{"status":404,"text":"...","code":"UpstreamNotFound"},"request_id":"...","href":"..."}.
type apiError struct {
	Error struct {
		Status int    `json:"status"`
		Text   string `json:"text"`
		Code   string `json:"code"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

// do sends one request and decodes a 2xx JSON answer into out (when not nil).
func (d *Plus) do(ctx context.Context, method, u, body string, out any) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%w: nginx plus: build %s request: %w", drivers.ErrInvalidArgument, method, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if d.cfg.Username != "" || !d.cfg.Password.IsZero() {
		req.SetBasicAuth(d.cfg.Username, d.cfg.Password.Reveal())
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return classifyTransport(method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("nginx plus: %s %s: read answer: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		return d.statusError(method, u, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("nginx plus: %s %s: answer is not the expected JSON: %w", method, u, err)
	}
	return nil
}

// statusError maps an HTTP error answer to a driver error class.
func (d *Plus) statusError(method, u string, status int, body []byte) error {
	var e apiError
	detail := http.StatusText(status)
	if json.Unmarshal(body, &e) == nil && e.Error.Text != "" {
		detail = e.Error.Text
		if e.Error.Code != "" {
			detail += " (" + e.Error.Code + ")"
		}
		if e.RequestID != "" {
			detail += ", request_id " + e.RequestID
		}
		detail = d.scrub(detail)
	}
	err := fmt.Errorf("nginx plus: %s %s: HTTP %d: %s", method, u, status, detail)
	switch {
	case status == http.StatusNotFound:
		return drivers.Classify(drivers.ErrNotFound, err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return drivers.Classify(drivers.ErrPermissionDenied, err)
	case status == http.StatusMethodNotAllowed:
		// MethodDisabled: the API location is read-only (api write=off).
		return drivers.Classify(drivers.ErrPermissionDenied, err)
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		return drivers.Classify(drivers.ErrInvalidArgument, err)
	case status == http.StatusTooManyRequests || status >= 500:
		return drivers.Classify(drivers.ErrUnavailable, err)
	}
	return err
}

// scrub removes the password, alone or inside the Basic credentials, from
// text the server sent back (a proxy or debug page may echo the request), so
// that it never reaches an error or a log.
func (d *Plus) scrub(s string) string {
	pw := d.cfg.Password.Reveal()
	if pw == "" {
		return s
	}
	basic := base64.StdEncoding.EncodeToString([]byte(d.cfg.Username + ":" + pw))
	s = strings.ReplaceAll(s, basic, "[redacted]")
	return strings.ReplaceAll(s, pw, "[redacted]")
}

// classifyTransport classifies an error from http.Client.Do. Only failures
// that certainly happened before the request reached NGINX (connection
// refused, name not resolved) are drivers.ErrUnavailable.
func classifyTransport(method, u string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is already in our message
	}
	wrapped := fmt.Errorf("nginx plus: %s %s: %w", method, u, err)
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return wrapped
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &dnsErr):
		return drivers.Classify(drivers.ErrUnavailable, wrapped)
	}
	return wrapped
}

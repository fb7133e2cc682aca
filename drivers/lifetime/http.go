package lifetime

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// do sends one request to path (relative to BaseURL, query included) and
// returns the response body of a 2xx answer. in, when not nil, is sent as
// JSON. Errors are classified as the package documentation says.
func (c *Client) do(ctx context.Context, method, path string, in any) ([]byte, int, error) {
	u := c.base.String() + path
	var body io.Reader
	if in != nil {
		b, err := jsonMarshal(in)
		if err != nil {
			return nil, 0, fmt.Errorf("lifetime: encode %s %s: %w", method, path, err)
		}
		body = strings.NewReader(string(b))
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, 0, fmt.Errorf("lifetime: %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token.reveal())
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, c.transportError(method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		err = fmt.Errorf("lifetime: %s %s: read response: %w", method, path, err)
		if method == http.MethodGet {
			err = drivers.Classify(drivers.ErrUnavailable, err)
		}
		return nil, resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, resp.StatusCode, c.statusError(method, path, resp.StatusCode, b)
	}
	c.logger.Debug("lifetime: request", "method", method, "path", path, "status", resp.StatusCode)
	return b, resp.StatusCode, nil
}

// maxBody bounds how much of a response is read.
const maxBody = 16 << 20

// transportError classifies an error from http.Client.Do.
func (c *Client) transportError(method, path string, err error) error {
	wrapped := fmt.Errorf("lifetime: %s %s: %w", method, path, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller gave up (or Timeout passed); errors.Is(err,
		// ctx.Err()) holds. Not classified: the caller decides.
		return wrapped
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return wrapped // retrying will not fix a certificate
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		// The connection was never opened: nothing was sent.
		return drivers.Classify(drivers.ErrUnavailable, wrapped)
	}
	if method == http.MethodGet {
		return drivers.Classify(drivers.ErrUnavailable, wrapped)
	}
	// A POST or DELETE cut off after it was sent may have taken effect.
	return wrapped
}

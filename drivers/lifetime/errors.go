package lifetime

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// APIError is an error answer from LifeTime: the HTTP status and the
// messages of its {"Errors":[...],"StatusCode":n} body. Errors returned by a
// [Client] wrap it together with a drivers error class, so both
// errors.As(err, &apiErr) and errors.Is(err, drivers.ErrNotFound) work.
type APIError struct {
	// Method and Path name the request (path relative to BaseURL).
	Method, Path string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Messages are the body's Errors, or the start of a body that was not
	// in the documented shape.
	Messages []string
}

// Error returns "lifetime: METHOD PATH: HTTP n: messages".
func (e *APIError) Error() string {
	msg := strings.Join(e.Messages, "; ")
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("lifetime: %s %s: HTTP %d: %s", e.Method, e.Path, e.StatusCode, msg)
}

// errorBody is LifeTime's documented error shape.
type errorBody struct {
	Errors     []string `json:"Errors"`
	StatusCode int      `json:"StatusCode"`
}

// ParseErrorBody reads LifeTime's error body {"Errors":[string],"StatusCode":int}.
// ok is false when b is not in that shape (no Errors array and no
// StatusCode); messages then holds nothing.
func ParseErrorBody(b []byte) (messages []string, statusCode int, ok bool) {
	var eb errorBody
	if err := json.Unmarshal(b, &eb); err != nil {
		return nil, 0, false
	}
	if eb.Errors == nil && eb.StatusCode == 0 {
		return nil, 0, false
	}
	out := make([]string, 0, len(eb.Errors))
	for _, m := range eb.Errors {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out, eb.StatusCode, true
}

// maxMessage bounds how much of an unexpected body is quoted in an error.
const maxMessage = 200

// statusError turns a non-2xx answer into a classified error.
func (c *Client) statusError(method, path string, status int, body []byte) error {
	msgs, _, ok := ParseErrorBody(body)
	if !ok {
		if text := strings.TrimSpace(string(body)); text != "" {
			if len(text) > maxMessage {
				text = text[:maxMessage] + "…"
			}
			msgs = []string{text}
		}
	}
	for i := range msgs {
		msgs[i] = c.scrub(msgs[i])
	}
	apiErr := &APIError{Method: method, Path: path, StatusCode: status, Messages: msgs}
	if class := classifyStatus(method, status); class != nil {
		return drivers.Classify(class, apiErr)
	}
	return apiErr
}

// classifyStatus maps an HTTP status to an error class, or nil.
func classifyStatus(method string, status int) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return drivers.ErrPermissionDenied
	case status == http.StatusNotFound:
		return drivers.ErrNotFound
	case status == http.StatusBadRequest:
		return drivers.ErrInvalidArgument
	case status == http.StatusTooManyRequests:
		return drivers.ErrUnavailable
	case status >= 500 && method == http.MethodGet:
		return drivers.ErrUnavailable
	case status == http.StatusServiceUnavailable:
		// Answered before the request was handled.
		return drivers.ErrUnavailable
	}
	// 500/502/504 to a POST or DELETE: it may have taken effect.
	return nil
}

// scrub removes the token from text that came from the server.
func (c *Client) scrub(s string) string {
	if tok := c.token.reveal(); tok != "" {
		s = strings.ReplaceAll(s, tok, redacted)
	}
	return s
}

package progress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm/event"
)

// DefaultWebhookTimeout bounds one notification when WebhookConfig.Timeout
// is zero.
const DefaultWebhookTimeout = 5 * time.Second

// WebhookConfig configures a [Webhook]. URL is required; every other zero
// value is a working default.
type WebhookConfig struct {
	// URL is where each notification is POSTed. It is a secret (a chat
	// webhook URL is its own credential): it never appears in a log or an
	// error.
	URL drivers.Secret
	// Notify says which events are sent. Nil means the run's start and end
	// (event.RunStarted, event.RunFinished).
	Notify func(event.Event) bool
	// Timeout bounds each POST. Zero means DefaultWebhookTimeout.
	Timeout time.Duration
	// Client sends the requests. Nil means a client of its own with
	// http.DefaultTransport's settings (TLS verified) and no keep-alive.
	Client *http.Client
	// Logger receives the notifications that failed, at Warn. Nil
	// discards them.
	Logger *slog.Logger
	// Label names the run in the text ("release 2.4.0"). Optional.
	Label string
}

// WebhookPayload is the JSON body of each notification.
type WebhookPayload struct {
	// SchemaVersion is the version of this layout, 1.
	SchemaVersion int `json:"schema_version"`
	// Text is one line for a person; chat webhooks (Slack, Teams
	// workflows, Mattermost) display it.
	Text string `json:"text"`
	// Label is WebhookConfig.Label.
	Label string `json:"label,omitempty"`
	// Event is the event, as JSON lines write it: its error as text only,
	// never a secret.
	Event JSONEvent `json:"event"`
}

// Webhook is an [event.Observer] that POSTs a JSON notification
// ([WebhookPayload]) for each event WebhookConfig.Notify selects: the start
// and end of the run, or of chosen steps. It needs nothing but net/http.
//
// A notification is sent when its event happens, synchronously, for at most
// the timeout: a slow or failing webhook delays the step boundary it
// reports by at most that, and never fails the run. Failures (no answer, a
// status other than 2xx) are logged with the reason, never with the URL.
type Webhook struct {
	cfg WebhookConfig
	mu  sync.Mutex
	err error
}

var _ event.Observer = (*Webhook)(nil)

// NewWebhook returns a Webhook, or an error naming what is wrong with cfg
// (no URL, a URL that is not absolute http or https).
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.URL.IsZero() {
		return nil, fmt.Errorf("%w: webhook: no URL", drivers.ErrInvalidArgument)
	}
	u, err := url.Parse(cfg.URL.Reveal())
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: webhook URL: want an absolute http or https URL", drivers.ErrInvalidArgument)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: webhook timeout %s: want zero (the default) or more", drivers.ErrInvalidArgument, cfg.Timeout)
	}
	if cfg.Client == nil {
		// Notifications are few and far between: no connection is kept
		// open between them.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DisableKeepAlives = true
		cfg.Client = &http.Client{Transport: tr}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Notify == nil {
		cfg.Notify = func(e event.Event) bool { return e.Kind == event.RunStarted || e.Kind == event.RunFinished }
	}
	return &Webhook{cfg: cfg}, nil
}

// Observe sends e if Notify selects it. It implements [event.Observer].
func (w *Webhook) Observe(e event.Event) {
	if !w.cfg.Notify(e) {
		return
	}
	if err := w.send(e); err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
		w.cfg.Logger.Warn("webhook notification failed", "event", string(e.Kind), "step", e.Step, "error", err.Error())
	}
}

// Err returns the first notification that failed, or nil.
func (w *Webhook) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Webhook) send(e event.Event) error {
	body, err := json.Marshal(WebhookPayload{SchemaVersion: 1, Text: notificationText(e, w.cfg.Label), Label: w.cfg.Label, Event: jsonEvent(e)})
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL.Reveal(), bytes.NewReader(body))
	if err != nil {
		return errors.New("webhook: cannot build the request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "balanced-webhook/1")
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		// *url.Error holds the URL, which is the secret: keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook: POST: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: POST answered %s: want 2xx", resp.Status)
	}
	return nil
}

// jsonEvent is e as a JSONEvent (what JSONLines writes).
func jsonEvent(e event.Event) JSONEvent {
	je := JSONEvent{Time: e.Time, Kind: string(e.Kind), Step: e.Step, Zone: e.Zone, Server: e.Server,
		Attempt: e.Attempt, Done: e.Done, Total: e.Total, Message: e.Message}
	if e.Err != nil {
		je.Error = ErrorText(e.Err)
		if fs := Failures(e.Err); len(fs) > 1 || len(fs) == 1 && fs[0].Step != "" {
			je.Errors = fs
		}
	}
	return je
}

// notificationText is the one line a person reads.
func notificationText(e event.Event, label string) string {
	var b strings.Builder
	b.WriteString("balanced")
	if label != "" {
		b.WriteString(" (" + oneLine(label) + ")")
	}
	b.WriteString(": ")
	switch e.Kind {
	case event.RunStarted:
		b.WriteString("run started")
		if e.Message != "" {
			b.WriteString(": " + oneLine(e.Message))
		}
	case event.RunFinished:
		msg := oneLine(e.Message)
		if msg == "" {
			msg = "run finished"
		}
		b.WriteString(msg)
		if e.Step != "" && e.Err != nil {
			b.WriteString(" at " + oneLine(e.Step))
		}
	case event.StepStarted:
		b.WriteString("step " + oneLine(e.Step) + " started")
		if e.Message != "" {
			b.WriteString(": " + oneLine(e.Message))
		}
	case event.StepFinished:
		if e.Err != nil {
			b.WriteString("step " + oneLine(e.Step) + " FAILED")
		} else {
			b.WriteString("step " + oneLine(e.Step) + " done")
		}
	default:
		b.WriteString(string(e.Kind))
		if e.Step != "" {
			b.WriteString(" " + oneLine(e.Step))
		}
		if e.Message != "" {
			b.WriteString(": " + oneLine(e.Message))
		}
	}
	if e.Err != nil {
		b.WriteString(": " + ErrorText(e.Err))
	}
	return b.String()
}

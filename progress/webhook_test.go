package progress_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/progress"
)

const hookSecret = "T000/B000/XXXXsecretXXXX"

func TestWebhookPostsSelectedEvents(t *testing.T) {
	var mu sync.Mutex
	var got []progress.WebhookPayload
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.Equal(t, "/services/"+hookSecret, r.URL.Path)
		b, _ := io.ReadAll(r.Body)
		var p progress.WebhookPayload
		assert.NoError(t, json.Unmarshal(b, &p), string(b))
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	defer srv.Close()
	wh, err := progress.NewWebhook(progress.WebhookConfig{URL: drivers.NewSecret(srv.URL + "/services/" + hookSecret), Label: "release v2",
		Notify: func(e event.Event) bool {
			return e.Kind == event.RunFinished || e.Kind == event.StepStarted && e.Step == "switch-traffic"
		}})
	require.NoError(t, err)
	s := newSeq()
	s.emit(event.Event{Kind: event.RunStarted, Total: 12})
	s.start(7, 12, "switch-traffic", "Switch traffic")
	s.finish(7, 12, "Switch traffic", nil)
	s.emit(event.Event{Kind: event.RunFinished, Step: "switch-traffic", Message: "run halted",
		Err: stepErr("switch-traffic", "east", "", 1, errors.New("haproxy: permission denied"))})
	for _, e := range s.events {
		wh.Observe(e)
	}
	require.NoError(t, wh.Err())
	require.Len(t, got, 2)
	assert.Equal(t, 1, got[0].SchemaVersion)
	assert.Equal(t, "balanced (release v2): step switch-traffic started: Switch traffic", got[0].Text)
	assert.Equal(t, "step-started", got[0].Event.Kind)
	assert.Equal(t, "balanced (release v2): run halted at switch-traffic: step switch-traffic: zone east: haproxy: permission denied", got[1].Text)
	assert.Equal(t, "haproxy: permission denied", got[1].Event.Errors[0].Error)
}

// TestWebhookFailuresAreLoggedNotFatal: an error status, a timeout and a
// refused connection are logged, without the URL (its own credential).
func TestWebhookFailuresAreLoggedNotFatal(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer failing.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for name, tc := range map[string]struct {
		url, want string
	}{
		"status":  {failing.URL, "webhook: POST answered 500 Internal Server Error: want 2xx"},
		"timeout": {slow.URL, "context deadline exceeded"},
		"refused": {closedURL, "connection refused"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			wh, err := progress.NewWebhook(progress.WebhookConfig{URL: drivers.NewSecret(tc.url + "/hook/" + hookSecret),
				Timeout: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			wh.Observe(event.Event{Kind: event.RunStarted, Time: time.Now()})
			require.Error(t, wh.Err())
			assert.Contains(t, wh.Err().Error(), tc.want)
			assert.Contains(t, logs.String(), "webhook notification failed")
			assert.NotContains(t, wh.Err().Error()+logs.String(), hookSecret, "the URL is a secret")
		})
	}
}

func TestNewWebhookRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]progress.WebhookConfig{
		"no url":   {},
		"relative": {URL: drivers.NewSecret("/hook")},
		"ftp":      {URL: drivers.NewSecret("ftp://example.com/x")},
		"negative": {URL: drivers.NewSecret("https://example.com/x"), Timeout: -time.Second},
	} {
		_, err := progress.NewWebhook(cfg)
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, name)
	}
}

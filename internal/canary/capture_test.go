package canary

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/stretchr/testify/assert"
)

// The canaries: one distinct, recognisable value per secret-bearing setting.
const (
	winrmUser     = "deploy-svc"
	winrmPassword = "canary-winrm-3f9a1c7e"
	lifetimeToken = "canary-lifetime-8b2d4e61"
	f5User        = "admin"
	f5Password    = "canary-f5-c47e09ab"
	nginxUser     = "nginx-api"
	nginxPassword = "canary-nginxplus-5d13f8c2"
	awsKeyID      = "AKIDCANARYNOTSECRET"
	awsSecretKey  = "canary-aws-secret-9e6b2a74"
	probeUser     = "probe"
	probePassword = "canary-probe-17c4d9e0"
)

// canary is one secret and the forms in which it would betray itself: the
// value, and the HTTP Basic credentials that carry it (an echoed
// Authorization header).
type canary struct {
	name  string
	value string
	user  string // for the Basic form; empty when the secret is not sent with Basic
}

func (c canary) forms() []string {
	f := []string{c.value, base64.StdEncoding.EncodeToString([]byte(c.value))}
	if c.user != "" {
		f = append(f, base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.value)))
	}
	return f
}

var canaries = []canary{
	{"winrm password", winrmPassword, winrmUser},
	{"lifetime token", lifetimeToken, ""},
	{"f5 password", f5Password, ""},
	{"nginx plus password", nginxPassword, nginxUser},
	{"aws secret access key", awsSecretKey, ""},
	{"probe url password", probePassword, probeUser},
}

// leak returns a description of the first canary form found in text, or "".
func leak(text string) string {
	for _, c := range canaries {
		for _, f := range c.forms() {
			if i := strings.Index(text, f); i >= 0 {
				lo, hi := max(0, i-120), min(len(text), i+len(f)+40)
				return fmt.Sprintf("%s (%q) found in: …%s…", c.name, f, text[lo:hi])
			}
		}
	}
	return ""
}

// sink collects every text a run produces, labelled by where it came from.
type sink struct {
	mu    sync.Mutex
	texts []labelled
}

type labelled struct{ where, text string }

func (s *sink) add(where, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.texts = append(s.texts, labelled{where, text})
}

// addErr records every rendering of err a caller might print.
func (s *sink) addErr(where string, err error) {
	if err == nil {
		return
	}
	s.add(where, err.Error())
	s.add(where+" %v", fmt.Sprintf("%v", err))
	s.add(where+" %+v", fmt.Sprintf("%+v", err))
	s.add(where+" %#v", fmt.Sprintf("%#v", err))
	s.add(where+" %q", fmt.Sprintf("%q", err))
}

func (s *sink) all() []labelled {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]labelled(nil), s.texts...)
}

// check asserts that no collected text holds a canary, and returns how many
// texts and bytes it looked at. A leak is reported once, with the first few
// places it was found.
func (s *sink) check(t *testing.T) (texts, size int) {
	t.Helper()
	all := s.all()
	var found []string
	for _, l := range all {
		if lk := leak(l.text); lk != "" {
			found = append(found, l.where+": "+lk)
		}
		size += len(l.text)
	}
	if len(found) > 0 {
		assert.Fail(t, fmt.Sprintf("secret leaked into %d of %d texts", len(found), len(all)), strings.Join(found[:min(len(found), 4)], "\n"))
	}
	return len(all), size
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// logs is one logger at Debug level writing every record twice: through a
// JSON handler and through a text handler.
type logs struct {
	json, text syncBuffer
	logger     *slog.Logger
}

func newLogs() *logs {
	l := &logs{}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	l.logger = slog.New(slog.NewMultiHandler(slog.NewJSONHandler(&l.json, opts), slog.NewTextHandler(&l.text, opts)))
	return l
}

// memJournal is a journal.Journal that keeps each record as its JSON line.
type memJournal struct {
	mu    sync.Mutex
	lines []string
}

var _ journal.Journal = (*memJournal)(nil)

func (j *memJournal) Append(rec journal.Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, string(b))
	return nil
}

func (j *memJournal) LastRun(context.Context) (journal.State, bool, error) {
	recs, err := journal.Read(strings.NewReader(j.text()))
	if err != nil {
		return journal.State{}, false, err
	}
	return journal.LastRunOf(recs)
}

func (j *memJournal) text() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.lines, "\n")
}

// TestLeakDetector proves the detector sees every form of every canary, so a
// clean result elsewhere means something.
func TestLeakDetector(t *testing.T) {
	for _, c := range canaries {
		for _, f := range c.forms() {
			assert.NotEmpty(t, leak("error: x "+f+" y"), c.name)
		}
	}
	assert.Empty(t, leak("error: [redacted] canary-"))
	seen := map[string]bool{}
	for _, c := range canaries {
		assert.False(t, seen[c.value], "canaries must be distinct")
		seen[c.value] = true
	}
}

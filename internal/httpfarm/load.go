package httpfarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// LoadConfig configures [StartLoad]. The zero value of every optional field
// means the default next to it.
type LoadConfig struct {
	// URL is where requests go (the load balancer's frontend). Required.
	URL string
	// Rate is the number of requests started per second, whether or not
	// earlier ones finished (open loop). Default 250.
	Rate int
	// MinDelay and MaxDelay bound how long each request lasts on the
	// backend (drawn uniformly). Defaults 20ms and 100ms.
	MinDelay, MaxDelay time.Duration
	// Clients is the number of simulated clients; request i belongs to
	// client i mod Clients. Default 20.
	Clients int
	// Timeout bounds each request. Default 5s.
	Timeout time.Duration
}

// Sample is one request of the load generator.
type Sample struct {
	Client  int
	Start   time.Time
	End     time.Time
	Status  int    // 0 when no response came
	Version string // X-Version of a 200 reply
	Backend string // X-Backend of the reply
	Err     string // transport error or non-200 status
}

// Load is a running load generator.
type Load struct {
	cfg    LoadConfig
	client *http.Client
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	samples []Sample
}

// StartLoad starts sending requests to cfg.URL at cfg.Rate per second. Call
// [Load.Stop] to stop it and read the result; it is stopped at the end of the
// test otherwise.
func StartLoad(t testing.TB, cfg LoadConfig) *Load {
	t.Helper()
	if cfg.URL == "" {
		t.Fatal("httpfarm: LoadConfig.URL is required")
	}
	if cfg.Rate == 0 {
		cfg.Rate = 250
	}
	if cfg.MinDelay == 0 {
		cfg.MinDelay = 20 * time.Millisecond
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = 100 * time.Millisecond
	}
	if cfg.Clients == 0 {
		cfg.Clients = 20
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Rate < 0 || cfg.MaxDelay < cfg.MinDelay || cfg.Clients < 0 {
		t.Fatalf("httpfarm: bad LoadConfig %+v: want Rate, Clients >= 0 and MinDelay <= MaxDelay", cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{
		cfg:    cfg,
		cancel: cancel,
		done:   make(chan struct{}),
		client: &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 0}},
	}
	go l.run(ctx)
	t.Cleanup(func() { l.Stop() })
	return l
}

func (l *Load) run(ctx context.Context) {
	defer close(l.done)
	tick := time.NewTicker(time.Second / time.Duration(l.cfg.Rate))
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Open loop: start every request due by now, even if ticks were
		// late or dropped, whatever the requests in flight do.
		due := int(time.Since(start).Seconds()*float64(l.cfg.Rate)) - sent
		for range due {
			delay := l.cfg.MinDelay + rand.N(l.cfg.MaxDelay-l.cfg.MinDelay+1)
			client := sent % l.cfg.Clients
			sent++
			l.wg.Go(func() { l.one(client, delay) })
		}
	}
}

func (l *Load) one(client int, delay time.Duration) {
	s := Sample{Client: client, Start: time.Now()}
	u := l.cfg.URL + "?" + url.Values{DelayParam: {strconv.Itoa(int(delay / time.Millisecond))}}.Encode()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err == nil {
		req.Header.Set(HeaderLoad, strconv.Itoa(client))
		var resp *http.Response
		resp, err = l.client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			s.Status = resp.StatusCode
			s.Backend = resp.Header.Get(HeaderBackend)
			if resp.StatusCode == http.StatusOK {
				s.Version = resp.Header.Get(HeaderVersion)
			} else if err == nil {
				s.Err = "status " + strconv.Itoa(resp.StatusCode)
			}
		}
	}
	if err != nil {
		s.Err = classify(err)
	}
	s.End = time.Now()
	l.mu.Lock()
	l.samples = append(l.samples, s)
	l.mu.Unlock()
}

func classify(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timeout"
		}
		err = ue.Err
	}
	return err.Error()
}

// Stop stops starting requests, waits for those in flight and returns the
// result. Calling it again returns the same result.
func (l *Load) Stop() Result {
	l.cancel()
	<-l.done
	l.wg.Wait()
	l.client.CloseIdleConnections()
	l.mu.Lock()
	defer l.mu.Unlock()
	return newResult(slices.Clone(l.samples))
}

// Snapshot returns the result so far without stopping.
func (l *Load) Snapshot() Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return newResult(slices.Clone(l.samples))
}

// Result summarises the requests of a load run.
type Result struct {
	Samples  []Sample
	OK       int
	Failed   int
	Causes   map[string]int // failure cause -> count
	Versions map[string]int // version -> successful replies
	Duration time.Duration  // first start to last end
}

func newResult(samples []Sample) Result {
	r := Result{Samples: samples, Causes: map[string]int{}, Versions: map[string]int{}}
	slices.SortFunc(r.Samples, func(a, b Sample) int { return a.Start.Compare(b.Start) })
	var first, last time.Time
	for _, s := range samples {
		if first.IsZero() || s.Start.Before(first) {
			first = s.Start
		}
		if s.End.After(last) {
			last = s.End
		}
		if s.Err != "" {
			r.Failed++
			r.Causes[s.Err]++
			continue
		}
		r.OK++
		r.Versions[s.Version]++
	}
	r.Duration = last.Sub(first)
	return r
}

// Rate returns the requests started per second over the run.
func (r Result) Rate() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(len(r.Samples)) / r.Duration.Seconds()
}

// Regressions returns, for each client, the requests that started after the
// client had received newVersion and yet were answered with oldVersion:
// a client going back to the old version. Requests already in flight when
// the client first saw newVersion do not count.
func (r Result) Regressions(oldVersion, newVersion string) []string {
	firstNew := map[int]time.Time{}
	for _, s := range r.Samples {
		if s.Version == newVersion {
			if t, ok := firstNew[s.Client]; !ok || s.End.Before(t) {
				firstNew[s.Client] = s.End
			}
		}
	}
	var out []string
	for _, s := range r.Samples {
		if t, ok := firstNew[s.Client]; ok && s.Version == oldVersion && s.Start.After(t) {
			out = append(out, fmt.Sprintf("client %d: request started %s after it saw %s at %s got %s from %s",
				s.Client, s.Start.Format("15:04:05.000"), newVersion, t.Format("15:04:05.000"), oldVersion, s.Backend))
		}
	}
	return out
}

// LastVersion returns the version of the last successful reply.
func (r Result) LastVersion() string {
	for i := len(r.Samples) - 1; i >= 0; i-- {
		if r.Samples[i].Err == "" {
			return r.Samples[i].Version
		}
	}
	return ""
}

// String summarises the result in one line.
func (r Result) String() string {
	return fmt.Sprintf("%d requests in %v (%.0f/s): %d ok, %d failed %v, versions %v",
		len(r.Samples), r.Duration.Round(time.Millisecond), r.Rate(), r.OK, r.Failed, r.Causes, r.Versions)
}

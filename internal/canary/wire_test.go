package canary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// wire records what the drivers sent to their fakes: the control that shows
// each secret really travels where the test can see it.
type wire struct {
	mu   sync.Mutex
	b    strings.Builder
	reqs []*http.Request // copies with their bodies, for signature checks
	body [][]byte
}

func (w *wire) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func (w *wire) write(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
}

// recorder is an http.RoundTripper that writes each request's headers and
// body to a wire before passing it on.
type recorder struct {
	next http.RoundTripper
	w    *wire
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	var b bytes.Buffer
	b.WriteString(req.Method + " " + req.URL.String() + "\n")
	_ = req.Header.Write(&b)
	b.Write(body)
	b.WriteString("\n")
	r.w.mu.Lock()
	r.w.b.Write(b.Bytes())
	r.w.reqs = append(r.w.reqs, req.Clone(context.Background()))
	r.w.body = append(r.w.body, body)
	r.w.mu.Unlock()
	return r.next.RoundTrip(req)
}

// client returns an http.Client sending through next and recording on w.
func (w *wire) client(next http.RoundTripper) *http.Client {
	return &http.Client{Transport: recorder{next: next, w: w}}
}

// conn is a net.Conn that records what it writes (the WinRM driver's HTTP
// requests) on a wire.
type conn struct {
	net.Conn
	w *wire
}

func (c conn) Write(p []byte) (int, error) {
	c.w.write(p)
	return c.Conn.Write(p)
}

// dialer wraps a dial function so that every connection is recorded on w.
func (w *wire) dialer(dial func(network, addr string) (net.Conn, error)) func(network, addr string) (net.Conn, error) {
	return func(network, addr string) (net.Conn, error) {
		c, err := dial(network, addr)
		if err != nil {
			return nil, err
		}
		return conn{Conn: c, w: w}, nil
	}
}

// sigV4Checks counts the recorded requests whose AWS Signature Version 4 is
// the one the secret key makes (signed again here with the same time and
// headers) and those it is not. A request signed with any other key fails.
func (w *wire) sigV4Checks(keyID, secret, service, region string) (good, bad int) {
	w.mu.Lock()
	reqs, bodies := append([]*http.Request(nil), w.reqs...), append([][]byte(nil), w.body...)
	w.mu.Unlock()
	signer := v4.NewSigner()
	for i, req := range reqs {
		got := req.Header.Get("Authorization")
		at, err := time.Parse("20060102T150405Z", req.Header.Get("X-Amz-Date"))
		if got == "" || err != nil {
			bad++
			continue
		}
		again := req.Clone(context.Background())
		again.Header.Del("Authorization")
		sum := sha256.Sum256(bodies[i])
		err = signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret},
			again, hex.EncodeToString(sum[:]), service, region, at)
		if err == nil && again.Header.Get("Authorization") == got {
			good++
		} else {
			bad++
		}
	}
	return good, bad
}

package albtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"

	"github.com/balanced-deploy/balanced/fault"
)

// Namespace is the XML namespace of ELBv2 answers.
const Namespace = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// APIVersion is the only Version the fake accepts.
const APIVersion = "2015-12-01"

// DefaultTargetGroupARN is the target group the fake serves by default.
const DefaultTargetGroupARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"

// Config configures a fake [Server]. Every field is optional.
type Config struct {
	// TargetGroupARN is the one target group the fake knows; other ARNs
	// get TargetGroupNotFound. Default [DefaultTargetGroupARN].
	TargetGroupARN string
	// Store holds the targets. Default: a [MemStore] with no known target.
	Store Store
	// Credentials, when set, maps access key ids to secret access keys and
	// makes the fake verify every request's Signature Version 4 signature
	// (service elasticloadbalancing), as ELBv2 does: a missing, malformed
	// or wrong signature, or an unknown key, is refused with
	// MissingAuthenticationToken, IncompleteSignature,
	// SignatureDoesNotMatch or InvalidClientTokenId. Nil accepts unsigned
	// requests (aws.AnonymousCredentials).
	Credentials map[string]string
}

// Request is one API call the fake received, for assertions.
type Request struct {
	Action string
	Form   url.Values
	// Code is the error code answered, empty on success.
	Code string
}

// Server is a fake ELBv2 endpoint speaking the awsQuery protocol: form
// POSTs to "/" with Action and Version, XML answers. It serves
// RegisterTargets, DeregisterTargets, DescribeTargetHealth and
// DescribeTargetGroupAttributes for one target group. Point an SDK client
// at it with BaseEndpoint (httptest.NewServer(srv).URL, loopback) or call it
// in process with [Server.Client]. Its methods are safe for concurrent use.
type Server struct {
	cfg Config

	mu       sync.Mutex
	faults   fault.Set
	requests []Request
	// mangle, when set (by this package's tests only), rewrites every
	// answer body: a deliberately broken wire format, to prove that the
	// third-party client check notices drift.
	mangle func([]byte) []byte
}

// New returns a fake endpoint.
func New(cfg Config) *Server {
	if cfg.TargetGroupARN == "" {
		cfg.TargetGroupARN = DefaultTargetGroupARN
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore(MemConfig{})
	}
	return &Server{cfg: cfg}
}

// Store returns the target store.
func (s *Server) Store() Store { return s.cfg.Store }

// Requests returns the calls received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ServeHTTP implements [http.Handler].
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mangle := s.mangle
	s.mu.Unlock()
	if mangle != nil {
		rec := httptest.NewRecorder()
		s.serve(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(mangle(rec.Body.Bytes()))
		return
	}
	s.serve(w, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, &APIError{Code: "InvalidAction", Message: "awsQuery wants POST /", Status: http.StatusNotFound})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if s.cfg.Credentials != nil {
		body, err := readBody(r, 1<<20)
		if err != nil {
			writeError(w, &APIError{Code: "MalformedQueryString", Message: "cannot read the body"})
			return
		}
		if ae := verifySigV4(r, body, s.cfg.Credentials); ae != nil {
			writeError(w, ae)
			s.mu.Lock()
			s.requests = append(s.requests, Request{Action: "", Code: ae.Code})
			s.mu.Unlock()
			return
		}
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, &APIError{Code: "MalformedQueryString", Message: "cannot parse the form body"})
		return
	}
	action := r.PostForm.Get("Action")
	err := s.handle(r.Context(), w, action, r.PostForm)
	code := ""
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = &APIError{Code: "InternalFailure", Message: err.Error(), Status: http.StatusInternalServerError}
		}
		code = ae.Code
		writeError(w, ae)
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Action: action, Form: r.PostForm, Code: code})
	s.mu.Unlock()
}

// handle runs one action and writes its answer, or returns the error to
// answer with.
func (s *Server) handle(ctx context.Context, w http.ResponseWriter, action string, form url.Values) error {
	if f, hit := s.faults.Match(action); hit {
		if err := f.Wait(ctx); err != nil {
			return err
		}
		if f.Status != 0 {
			return &APIError{Code: f.Code, Message: cmp.Or(f.Message, "injected fault"), Status: f.Status}
		}
	}
	if v := form.Get("Version"); v != APIVersion {
		return &APIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("Version %q: want %s", v, APIVersion)}
	}
	switch action {
	case "RegisterTargets", "DeregisterTargets", "DescribeTargetHealth", "DescribeTargetGroupAttributes":
	default:
		return &APIError{Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %q", action)}
	}
	if arn := form.Get("TargetGroupArn"); arn != s.cfg.TargetGroupARN {
		return &APIError{Code: "TargetGroupNotFound", Message: fmt.Sprintf("Target groups '%s' not found", arn)}
	}
	targets, err := parseTargets(form)
	if err != nil {
		return err
	}
	switch action {
	case "RegisterTargets", "DeregisterTargets":
		if len(targets) == 0 {
			return &APIError{Code: "ValidationError", Message: "1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null"}
		}
		if action == "RegisterTargets" {
			err = s.cfg.Store.Register(ctx, targets)
		} else {
			err = s.cfg.Store.Deregister(ctx, targets)
		}
		if err != nil {
			return err
		}
		writeXML(w, action, struct{}{})
	case "DescribeTargetHealth":
		hs, err := s.cfg.Store.Describe(ctx, targets)
		if err != nil {
			return err
		}
		var res describeResult
		for _, h := range hs {
			d := describeMember{Target: targetXML{ID: h.Target.ID}, TargetHealth: healthXML{State: h.State, Reason: h.Reason}}
			if h.Target.Port != 0 {
				d.Target.Port = strconv.Itoa(int(h.Target.Port))
				d.HealthCheckPort = d.Target.Port
			}
			res.Descriptions = append(res.Descriptions, d)
		}
		writeXML(w, action, res)
	case "DescribeTargetGroupAttributes":
		secs := strconv.Itoa(int(s.cfg.Store.DeregistrationDelay().Seconds()))
		writeXML(w, action, attributesResult{Attributes: []attributeXML{
			{Key: "deregistration_delay.timeout_seconds", Value: secs},
			{Key: "stickiness.enabled", Value: "false"},
			{Key: "load_balancing.algorithm.type", Value: "round_robin"},
		}})
	}
	return nil
}

// parseTargets reads Targets.member.N.Id / .Port, N = 1, 2, ...
func parseTargets(form url.Values) ([]Target, error) {
	var out []Target
	for i := 1; ; i++ {
		p := "Targets.member." + strconv.Itoa(i) + "."
		id, ok := form[p+"Id"]
		if !ok {
			return out, nil
		}
		t := Target{ID: id[0]}
		if ps := form.Get(p + "Port"); ps != "" {
			n, err := strconv.ParseUint(ps, 10, 16)
			if err != nil || n == 0 {
				return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("Port %q: must be 1-65535", ps)}
			}
			t.Port = int32(n)
		}
		out = append(out, t)
	}
}

// The XML shapes of the answers (element names as in the SDK's response
// snapshots for v1.64.0).
type (
	responseXML struct {
		XMLName   xml.Name
		Xmlns     string `xml:"xmlns,attr"`
		Result    any
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	describeResult struct {
		Descriptions []describeMember `xml:"TargetHealthDescriptions>member"`
	}
	describeMember struct {
		Target          targetXML `xml:"Target"`
		HealthCheckPort string    `xml:"HealthCheckPort,omitempty"`
		TargetHealth    healthXML `xml:"TargetHealth"`
	}
	targetXML struct {
		ID   string `xml:"Id"`
		Port string `xml:"Port,omitempty"`
	}
	healthXML struct {
		State  string `xml:"State"`
		Reason string `xml:"Reason,omitempty"`
	}
	attributesResult struct {
		Attributes []attributeXML `xml:"Attributes>member"`
	}
	attributeXML struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	}
	errorXML struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}
)

// writeXML writes <ActionResponse><ActionResult>result</ActionResult>....
func writeXML(w http.ResponseWriter, action string, result any) {
	body, err := xml.Marshal(responseXML{
		XMLName:   xml.Name{Local: action + "Response"},
		Xmlns:     Namespace,
		Result:    wrapped{name: action + "Result", v: result},
		RequestID: requestID(),
	})
	if err != nil {
		writeError(w, &APIError{Code: "InternalFailure", Message: err.Error(), Status: 500})
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID())
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

// wrapped marshals v as an element of the given name.
type wrapped struct {
	name string
	v    any
}

func (x wrapped) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	return e.EncodeElement(x.v, xml.StartElement{Name: xml.Name{Local: x.name}})
}

// writeError writes an awsQuery error document.
func writeError(w http.ResponseWriter, e *APIError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	body, _ := xml.Marshal(errorXML{Xmlns: Namespace, Type: typ, Code: e.Code, Message: e.Message, RequestID: requestID()})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

package winrmtest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/fault"
)

// Config configures a fake server. The zero value behaves as a stock
// Windows Server WinRM service does ("Installation and configuration for
// Windows Remote Management", Microsoft docs: winrm/config/service/auth
// Basic=false, Negotiate=true, Kerberos=true; AllowUnencrypted=false): it
// offers Negotiate (NTLM) only, and over plain HTTP it accepts only
// messages encrypted with the NTLM session (MS-WSMV 2.2.9.1).
type Config struct {
	// Host is the name the server passes to Services: the host name the
	// driver's target would have. Empty means "localhost". It is also the
	// computer name the NTLM challenge announces.
	Host string
	// Services is the table of services the scripts act on. Nil means an
	// empty MapServices.
	Services Services
	// Files is the file system the lease scripts act on. Nil means an empty
	// MapFiles of this server's own.
	Files *MapFiles
	// Username and Password are the only credentials accepted (NTLM, or
	// Basic when AllowBasic is set); every other request gets 401. Username
	// may carry a domain, "FARM\\deployer" or "deployer@farm.example". Both
	// empty accepts any credentials (NTLM responses are then not checked,
	// and message encryption is impossible: its keys derive from the
	// password).
	Username, Password string
	// Domain is the NetBIOS domain name the NTLM challenge announces. Empty
	// means the domain of Username, or "FARM" when it has none.
	Domain string
	// AllowBasic enables Basic authentication (winrm/config/service/auth
	// Basic=true). Off by default, as on Windows. Even when on, Basic is
	// refused for a domain account (Username with a domain): WinRM accepts
	// Basic for local accounts only ("Authentication for Remote
	// Connections", Microsoft docs).
	AllowBasic bool
	// AllowUnencrypted accepts unencrypted messages over plain HTTP
	// (winrm/config/service AllowUnencrypted=true). Off by default, as on
	// Windows: over plain HTTP a request with a SOAP body that is not
	// encrypted with the NTLM session is answered 401 after the
	// authentication succeeded (the behaviour analysed in
	// hashicorp/packer#6205), and Basic is refused. HTTPS requests are
	// encrypted by TLS and always accepted.
	AllowUnencrypted bool
	// NoOutputReceives is how many Receive requests of each command find no
	// output yet and are answered with the w:TimedOut fault, as WinRM does
	// when a command printed nothing within the request's OperationTimeout
	// (MS-WSMV 3.1.4.14; fault code 2150858793). The client must ask again.
	NoOutputReceives int
	// Defect breaks one detail of the wire format on purpose, for tests
	// that prove a third-party client notices (see Defect). Zero means none.
	Defect Defect
	// TLS serves HTTPS with a self-signed certificate for 127.0.0.1 (see
	// Server.CACertPEM) instead of HTTP.
	TLS bool
	// Now is the server's clock, as the lease scripts read it
	// ([DateTime]::UtcNow). Nil means time.Now.
	Now func() time.Time
}

// Defect is a deliberate wire-format error, for tests only.
type Defect int

const (
	// DefectNone is the correct wire format.
	DefectNone Defect = iota
	// DefectStreamEncoding sends command output whose base64 (MS-WSMV
	// requires rsp:Stream to be base64) lacks its last character.
	DefectStreamEncoding
)

// Script is one command the server received.
type Script struct {
	// Host is Config.Host.
	Host string
	// Command is the command line as received.
	Command string
	// Text is the decoded PowerShell script (empty when the command could
	// not be decoded).
	Text string
	// Recognised tells whether Text is one of the driver's script shapes.
	// An unrecognised script is not run.
	Recognised bool
	// Reason says why an unrecognised script was refused.
	Reason string
	// Op and Name are the recognised shape and the service name parsed back
	// from its literal.
	Op   Op
	Name string
}

// CommandFailed replaces, as the Err of a fault on ActionCommand, the
// result of the command without running it: Stderr (plain text or CLIXML,
// see CLIXMLError) and the exit code, as a script failing on the host would
// report them.
type CommandFailed struct {
	Stderr   string
	ExitCode int
}

// Error describes the failure.
func (c CommandFailed) Error() string {
	return fmt.Sprintf("winrmtest: command failed with exit code %d: %s", c.ExitCode, c.Stderr)
}

// Server is a fake WinRM (WS-Management) endpoint on loopback. It
// authenticates as a stock Windows host does (see Config), answers the
// Windows remote shell actions Create, Command, Receive, Signal and Delete as
// MS-WSMV specifies them (and as github.com/masterzen/winrm and pywinrm
// read them), decodes "powershell.exe -EncodedCommand", and runs the
// driver's scripts against Config.Services and Config.Files.
type Server struct {
	cfg     Config
	addr    string // host:port the server answers on
	url     string
	cert    []byte       // PEM, TLS only
	stop    func()       // closes the listener and every connection
	mem     *memListener // in-memory servers only
	closing chan struct{}

	mu         sync.Mutex
	shells     map[string]bool
	commands   map[string]*runningCommand
	scripts    []Script
	actions    []string
	faults     fault.Set
	refused    int
	refusals   []string
	receives   int
	encrypted  int
	challenges int
}

// NewServer starts a server on 127.0.0.1. Close it when done.
func NewServer(cfg Config) *Server {
	s := newServer(cfg)
	hs := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS tests provoke handshake errors on purpose
	hs.Config.ConnContext = connContext
	if cfg.TLS {
		hs.StartTLS()
		s.cert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})
	} else {
		hs.Start()
	}
	s.addr = hs.Listener.Addr().String()
	s.url = hs.URL + "/wsman"
	s.stop = func() {
		hs.CloseClientConnections()
		hs.Close()
	}
	return s
}

func newServer(cfg Config) *Server {
	if cfg.Host == "" {
		cfg.Host = "localhost"
	}
	if cfg.Services == nil {
		cfg.Services = &MapServices{}
	}
	if cfg.Files == nil {
		cfg.Files = &MapFiles{}
	}
	return &Server{
		cfg:      cfg,
		closing:  make(chan struct{}),
		shells:   make(map[string]bool),
		commands: make(map[string]*runningCommand),
	}
}

// Close stops the server, cutting short any injected delay.
func (s *Server) Close() {
	close(s.closing)
	s.stop()
}

// CACertPEM returns the PEM certificate of a TLS server, for
// winrm.Config.CACert; nil for a plain HTTP server.
func (s *Server) CACertPEM() []byte { return s.cert }

// URL is the endpoint URL, http(s)://127.0.0.1:port/wsman.
func (s *Server) URL() string { return s.url }

// Addr is the address the server answers on, "127.0.0.1:port" (or
// "<Host>:5985" for an in-memory server); use it as a target's Address.
func (s *Server) Addr() string { return s.addr }

// Port is the listening port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr())
	n, _ := strconv.Atoi(p)
	return n
}

// Scripts returns every command received so far, in order.
func (s *Server) Scripts() []Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Script(nil), s.scripts...)
}

// Unrecognised returns the received commands that were not one of the
// driver's script shapes (and were therefore not run).
func (s *Server) Unrecognised() []Script {
	var out []Script
	for _, sc := range s.Scripts() {
		if !sc.Recognised {
			out = append(out, sc)
		}
	}
	return out
}

// Actions returns the action URI of every authenticated request so far.
func (s *Server) Actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.actions...)
}

// Refused returns how many requests that carried credentials were answered
// 401 (see Refusals for why). The 401 that challenges an anonymous request,
// the first leg of every NTLM sign-in, is not a refusal (see Challenges).
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// OpenShells returns how many shells were created and not deleted.
func (s *Server) OpenShells() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.shells)
}

// Inject adds a fault (package fault documents every field; faults are tried
// in the order added). The fake names a request by its action URI
// (fault.Fault.Op: ActionCreate, ActionCommand, ActionReceive, ActionSignal
// or ActionDelete) and has no targets. A hit request waits Latency (the
// wait ends early when the client goes away or the server closes), then:
// with Status 500 it gets a WS-Management fault body (as WinRM sends) whose
// subcode is Code (default "InternalError"; "TimedOut" is WinRM's answer to
// a Receive when the command printed nothing within the OperationTimeout,
// and the client then asks again); with another Status, an empty
// text/plain body; with Err a [CommandFailed] (ActionCommand only), the
// command's result is replaced without running it; with none of these it
// is answered normally. Inject panics on a fault the fake cannot honour (a
// field it does not read, such as Target, Message or AfterEffect, or an
// Err that is not a CommandFailed on ActionCommand): the test is wrong.
func (s *Server) Inject(f fault.Fault) {
	var cf CommandFailed
	if f.Err != nil && (f.Op != ActionCommand || !errors.As(f.Err, &cf)) {
		panic(fmt.Sprintf("winrmtest: fault Err %v on %q: want a CommandFailed on ActionCommand", f.Err, f.Op))
	}
	s.faults.MustAdd("winrmtest", f, fault.FieldLatency, fault.FieldStatus, fault.FieldCode, fault.FieldErr)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// connKey finds a connection's state in a request's context.
type connKey struct{}

// connState is what the server remembers about one TCP connection: WinRM
// authenticates connections, not requests (an NTLM handshake spans the
// requests of one connection, and later requests on it need no
// Authorization header, as with HTTP.sys).
type connState struct {
	mu   sync.Mutex
	ntlm ntlmServer
}

// connContext gives every connection its state (http.Server.ConnContext).
func connContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connState{})
}

func stateOf(r *http.Request) *connState {
	if cs, ok := r.Context().Value(connKey{}).(*connState); ok {
		return cs
	}
	return &connState{}
}

// Content type and framing of WinRM message encryption (MS-WSMV 2.2.9.1.1,
// "Negotiate"; the same bytes masterzen/winrm's encryption.go and
// pywinrm's encryption.py write).
const (
	encProtocol     = "application/HTTP-SPNEGO-session-encrypted"
	encBoundary     = "--Encrypted Boundary"
	encContentType  = `multipart/encrypted;protocol="` + encProtocol + `";boundary="Encrypted Boundary"`
	encOctetHeader  = "\tContent-Type: application/octet-stream\r\n"
	defaultDomain   = "FARM"
	wwwAuthenticate = "WWW-Authenticate"
)

// refuse answers 401 with the schemes the server offers: Negotiate always
// (winrm/config/service/auth Negotiate=true by default), Basic only when
// enabled.
//
// A 401 to a request without an Authorization header is the challenge that
// starts a sign-in, counted by Challenges; one to a request with credentials
// is a refusal, counted by Refused and explained by Refusals.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, why string) {
	s.mu.Lock()
	if r.Header.Get("Authorization") == "" {
		s.challenges++
	} else {
		s.refused++
		s.refusals = append(s.refusals, why)
	}
	s.mu.Unlock()
	w.Header().Add(wwwAuthenticate, "Negotiate")
	if s.cfg.AllowBasic {
		w.Header().Add(wwwAuthenticate, `Basic realm="WSMAN"`)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusUnauthorized)
}

func (s *Server) anyCredentials() bool { return s.cfg.Username == "" && s.cfg.Password == "" }

// domain is the NTLM target domain: Config.Domain, else the domain of
// Config.Username (a domain-joined server's domain is its accounts'), else
// "FARM".
func (s *Server) domain() string {
	_, d := splitAccount(s.cfg.Username)
	d, _, _ = strings.Cut(d, ".")
	return cmp.Or(s.cfg.Domain, strings.ToUpper(d), defaultDomain)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/wsman" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading body", http.StatusBadRequest)
		return
	}
	cs := stateOf(r)
	cs.mu.Lock() // one request at a time per connection, as HTTP/1.1 has it
	defer cs.mu.Unlock()
	https := r.TLS != nil

	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	signedIn := false // an NTLM handshake completed with this request
	switch strings.ToLower(scheme) {
	case "":
		if cs.ntlm.session == nil {
			s.refuse(w, r, "no Authorization header on an unauthenticated connection")
			return
		}
	case "basic":
		if why := s.basicRefusal(r, https); why != "" {
			s.refuse(w, r, why)
			return
		}
	case "negotiate", "ntlm":
		msg, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
		if err != nil || len(msg) == 0 {
			s.refuse(w, r, "Authorization token is not base64")
			return
		}
		if msg[0] == 0x60 || msg[0] == 0xa1 {
			// An SPNEGO (Kerberos) token: this fake speaks NTLM only.
			s.refuse(w, r, "SPNEGO/Kerberos tokens are not supported by winrmtest")
			return
		}
		if len(msg) >= 12 && binary.LittleEndian.Uint32(msg[8:]) == 1 {
			challenge, err := cs.ntlm.handleNegotiate(msg, s.cfg.Host, s.domain())
			if err != nil {
				s.refuse(w, r, err.Error())
				return
			}
			w.Header().Set(wwwAuthenticate, scheme+" "+base64.StdEncoding.EncodeToString(challenge))
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		err = cs.ntlm.handleAuthenticate(msg, ntlmCredentials{user: s.cfg.Username, password: s.cfg.Password})
		if err != nil && s.anyCredentials() && cs.ntlm.challenge != nil {
			cs.ntlm.session, err = &ntlmSession{}, nil // any credentials: no check, no keys
		}
		if err != nil {
			cs.ntlm = ntlmServer{}
			s.refuse(w, r, "NTLM: "+err.Error())
			return
		}
		signedIn = true
	default:
		s.refuse(w, r, "authentication scheme "+scheme+" is not offered")
		return
	}

	encrypted := strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/encrypted")
	switch {
	case encrypted:
		if !cs.ntlm.session.canSeal() {
			http.Error(w, "encrypted message on a connection without an NTLM sealing context", http.StatusBadRequest)
			return
		}
		body, err = unsealMessage(cs.ntlm.session, body)
		if err != nil {
			http.Error(w, "encrypted message: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.encrypted++
		s.mu.Unlock()
	case len(body) == 0 && signedIn:
		// An empty POST that completes the NTLM handshake sets up the
		// security context before the first encrypted message (pywinrm's
		// setup_encryption, masterzen/winrm's Encryption.PrepareRequest):
		// answered 200 with no body.
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	case !https && !s.cfg.AllowUnencrypted:
		// AllowUnencrypted=false: the authentication succeeded but an
		// unencrypted message over HTTP is refused with 401 (packer#6205);
		// on an authenticated connection only sealed messages and new
		// handshakes are accepted.
		if len(body) == 0 {
			s.refuse(w, r, "empty unencrypted request over HTTP without a handshake (AllowUnencrypted=false)")
		} else {
			s.refuse(w, r, "unencrypted SOAP message over HTTP (AllowUnencrypted=false)")
		}
		return
	case len(body) == 0:
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}

	status, doc, ok := s.handleSOAP(r.Context(), body)
	if !ok {
		return // the client went away or the server closed during a delay
	}
	switch {
	case status != http.StatusOK && doc == "":
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
	case encrypted:
		out := sealMessage(cs.ntlm.session, []byte(doc))
		w.Header().Set("Content-Type", encContentType)
		w.WriteHeader(status)
		_, _ = w.Write(out)
	default:
		s.soap(w, status, doc)
	}
}

// basicRefusal says why a Basic request is refused, or "" to accept it.
func (s *Server) basicRefusal(r *http.Request, https bool) string {
	if !s.cfg.AllowBasic {
		return "Basic authentication is disabled (winrm/config/service/auth Basic=false, the default)"
	}
	if !https && !s.cfg.AllowUnencrypted {
		return "Basic over HTTP needs AllowUnencrypted=true"
	}
	if s.anyCredentials() {
		return ""
	}
	if _, d := splitAccount(s.cfg.Username); d != "" {
		return "Basic authentication works only for local accounts, not domain account " + s.cfg.Username
	}
	u, p, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.Username)) != 1 ||
		subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.Password)) != 1 {
		return "Basic credentials do not match"
	}
	return ""
}

// unsealMessage reads one encrypted part (MS-WSMV 2.2.9.1.1): the
// OriginalContent header gives the plaintext length; the octet-stream part is
// a 4-byte little-endian signature length, the NTLM signature and the sealed
// message.
func unsealMessage(sess *ntlmSession, body []byte) ([]byte, error) {
	head, rest, ok := bytes.Cut(body, []byte(encOctetHeader))
	if !ok || !bytes.HasPrefix(head, []byte(encBoundary+"\r\n")) {
		return nil, errors.New("not a " + encProtocol + " multipart body")
	}
	_, lenStr, ok := bytes.Cut(head, []byte("Length="))
	if !ok {
		return nil, errors.New("no OriginalContent Length")
	}
	lenStr, _, _ = bytes.Cut(lenStr, []byte("\r\n"))
	want, err := strconv.Atoi(string(bytes.TrimSpace(lenStr)))
	if err != nil {
		return nil, fmt.Errorf("OriginalContent Length %q: %w", lenStr, err)
	}
	payload, ok := bytes.CutSuffix(rest, []byte(encBoundary+"--\r\n"))
	if !ok || len(payload) < 4 {
		return nil, errors.New("no closing boundary")
	}
	sigLen := int(binary.LittleEndian.Uint32(payload))
	if sigLen != 16 || len(payload) < 4+sigLen {
		return nil, fmt.Errorf("signature length %d; want 16", sigLen)
	}
	msg, err := sess.unseal(payload[4+sigLen:], payload[4:4+sigLen])
	if err != nil {
		return nil, err
	}
	if len(msg) != want {
		return nil, fmt.Errorf("decrypted %d bytes; OriginalContent says %d", len(msg), want)
	}
	return msg, nil
}

// sealMessage frames and seals a response as unsealMessage reads it.
func sealMessage(sess *ntlmSession, msg []byte) []byte {
	sealed, sig := sess.seal(msg)
	var b bytes.Buffer
	b.WriteString(encBoundary + "\r\n")
	b.WriteString("\tContent-Type: " + encProtocol + "\r\n")
	b.WriteString("\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + strconv.Itoa(len(msg)) + "\r\n")
	b.WriteString(encBoundary + "\r\n")
	b.WriteString(encOctetHeader)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(sig))))
	b.Write(sig)
	b.Write(sealed)
	b.WriteString(encBoundary + "--\r\n")
	return b.Bytes()
}

// handleSOAP answers one authenticated SOAP request. A non-200 status with an
// empty doc is sent as an empty text/plain answer. ok is false when the
// answer was abandoned (client gone or server closed during a delay).
func (s *Server) handleSOAP(ctx context.Context, body []byte) (status int, doc string, ok bool) {
	var env envelope
	if err := xml.Unmarshal(body, &env); err != nil {
		return http.StatusBadRequest, faultResponse("", "SchemaValidationError", "request is not a SOAP envelope: "+err.Error()), true
	}
	action := strings.TrimSpace(env.Header.Action)
	msgID := strings.TrimSpace(env.Header.MessageID)
	s.mu.Lock()
	s.actions = append(s.actions, action)
	s.mu.Unlock()

	if f, hit := s.faults.Match(action); hit {
		var cf CommandFailed
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return 0, "", false
			case <-s.closing:
				t.Stop()
				return 0, "", false
			}
		}
		switch {
		case f.Status == http.StatusInternalServerError && f.Code == "TimedOut":
			return f.Status, s.timedOut(msgID), true
		case f.Status == http.StatusInternalServerError:
			return f.Status, faultResponse(msgID, cmp.Or(f.Code, "InternalError"), "injected fault"), true
		case f.Status != 0:
			return f.Status, "", true
		case action == ActionCommand && errors.As(f.Err, &cf):
			return s.command(&env, msgID, &result{stderr: cf.Stderr, code: cf.ExitCode})
		}
	}

	switch action {
	case ActionCreate:
		id := newID()
		s.mu.Lock()
		s.shells[id] = true
		s.mu.Unlock()
		return http.StatusOK, createResponse(msgID, s.URL(), id), true
	case ActionCommand:
		return s.command(&env, msgID, nil)
	case ActionReceive:
		return s.receive(&env, msgID)
	case ActionSignal:
		if env.Body.Signal != nil {
			s.mu.Lock()
			delete(s.commands, env.Body.Signal.CommandID)
			s.mu.Unlock()
		}
		return http.StatusOK, emptyResponse(ActionSignal+"Response", msgID, "SignalResponse"), true
	case ActionDelete:
		s.mu.Lock()
		delete(s.shells, env.shellID())
		s.mu.Unlock()
		return http.StatusOK, emptyResponse(ActionDelete+"Response", msgID, ""), true
	default:
		return http.StatusInternalServerError, faultResponse(msgID, "ActionNotSupported", "action "+action+" is not supported by winrmtest"), true
	}
}

// timedOut is WinRM's answer to a Receive when the command printed nothing
// within the OperationTimeout (MS-WSMV 3.1.4.14): HTTP 500 with the
// w:TimedOut fault and WSManFault code 2150858793. masterzen/winrm
// recognises it by the word OperationTimeout in the reason, pywinrm by the
// code; both then ask again.
func (s *Server) timedOut(msgID string) string {
	return timedOutResponse(msgID, s.cfg.Host)
}

// receive answers a Receive: the command's output in pieces, one per request
// (MS-WSMV 3.1.4.14: a Receive returns what the command has printed so far,
// CommandState Running, until the last one, which carries Done and the exit
// code), after NoOutputReceives w:TimedOut answers.
func (s *Server) receive(env *envelope, msgID string) (int, string, bool) {
	if env.Body.Receive == nil {
		return http.StatusBadRequest, faultResponse(msgID, "SchemaValidationError", "Receive without a body"), true
	}
	id := env.Body.Receive.DesiredStream.CommandID
	s.mu.Lock()
	cmd, ok := s.commands[id]
	shell := s.shells[env.shellID()]
	var chunk outputChunk
	timedOut := false
	if ok && shell {
		if cmd.noOutput > 0 {
			cmd.noOutput--
			timedOut = true
		} else if len(cmd.chunks) > 0 {
			chunk = cmd.chunks[0]
			cmd.chunks = cmd.chunks[1:]
		}
	}
	s.receives++
	s.mu.Unlock()
	switch {
	case !ok || !shell:
		return http.StatusInternalServerError, faultResponse(msgID, "InvalidSelectors", "unknown shell or command"), true
	case timedOut:
		return http.StatusInternalServerError, s.timedOut(msgID), true
	}
	return http.StatusOK, receiveResponse(msgID, id, chunk, cmd.code, s.cfg.Defect), true
}

// command handles a Command request: it records the script and runs it
// (unless override is set), then answers with a command id.
func (s *Server) command(env *envelope, msgID string, override *result) (int, string, bool) {
	if env.Body.CommandLine == nil || !s.hasShell(env.shellID()) {
		return http.StatusInternalServerError, faultResponse(msgID, "InvalidSelectors", "unknown shell or no command line"), true
	}
	cmdLine := strings.TrimSpace(env.Body.CommandLine.Command + " " + env.Body.CommandLine.Arguments)
	sc := Script{Host: s.cfg.Host, Command: cmdLine}
	var res result
	text, err := decodeCommand(cmdLine)
	sc.Text = text
	if err == nil {
		var p parsed
		p, err = parseScript(text)
		if err == nil {
			sc.Recognised, sc.Op, sc.Name = true, p.op, p.name
			if override == nil {
				res = s.execute(p)
			}
		}
	}
	if err != nil {
		sc.Reason = err.Error()
		res = result{stderr: CLIXMLError("winrmtest: refused an unrecognised command: " + err.Error()), code: 1}
	}
	if override != nil {
		res = *override
	}
	id := newID()
	s.mu.Lock()
	s.scripts = append(s.scripts, sc)
	s.commands[id] = &runningCommand{chunks: splitOutput(res), code: res.code, noOutput: s.cfg.NoOutputReceives}
	s.mu.Unlock()
	return http.StatusOK, commandResponse(msgID, id), true
}

// runningCommand is a command's output not yet received.
type runningCommand struct {
	chunks   []outputChunk
	code     int
	noOutput int // Receives still to answer w:TimedOut
}

// outputChunk is what one Receive returns; the last one is marked done.
type outputChunk struct {
	stdout, stderr string
	done           bool
}

// splitOutput cuts a result into one chunk per stdout line, then the stderr,
// then the final Done answer with no data, as a command that prints line by
// line is seen by successive Receives.
func splitOutput(r result) []outputChunk {
	var chunks []outputChunk
	out := r.stdout
	for out != "" {
		line, rest, found := strings.Cut(out, "\n")
		if found {
			line += "\n"
		}
		chunks = append(chunks, outputChunk{stdout: line})
		out = rest
	}
	if r.stderr != "" {
		chunks = append(chunks, outputChunk{stderr: r.stderr})
	}
	return append(chunks, outputChunk{done: true})
}

// Receives returns how many Receive requests the server answered.
func (s *Server) Receives() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.receives
}

// Challenges returns how many requests without credentials were answered
// 401 with the offered schemes.
func (s *Server) Challenges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.challenges
}

// Refusals returns why each refusal counted by Refused was given, in order.
func (s *Server) Refusals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refusals...)
}

func (s *Server) hasShell(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shells[id]
}

func (s *Server) soap(w http.ResponseWriter, status int, doc string) {
	w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, doc)
}

// execute runs a recognised script.
func (s *Server) execute(p parsed) result {
	switch p.op {
	case OpLeaseRead, OpLeaseCreate, OpLeaseReplace, OpLeaseDelete:
		now := time.Now
		if s.cfg.Now != nil {
			now = s.cfg.Now
		}
		return executeLease(s.cfg.Files, s.cfg.Host, now(), p)
	}
	return execute(s.cfg.Services, s.cfg.Host, p)
}

// EncryptedRequests returns how many requests arrived encrypted with the
// NTLM session (WinRM message encryption).
func (s *Server) EncryptedRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.encrypted
}

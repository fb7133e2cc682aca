package winrmtest

import (
	"cmp"
	"crypto/subtle"
	"encoding/pem"
	"encoding/xml"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a fake server.
type Config struct {
	// Host is the name the server passes to Services: the host name the
	// driver's target would have. Empty means "localhost".
	Host string
	// Services is the table of services the scripts act on. Nil means an
	// empty MapServices.
	Services Services
	// Username and Password are the only credentials accepted (HTTP Basic);
	// every other request gets 401. Both empty accepts any credentials.
	Username, Password string
	// TLS serves HTTPS with a self-signed certificate for 127.0.0.1 (see
	// Server.CACertPEM) instead of HTTP.
	TLS bool
}

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

// Fault changes how the server answers requests for one action, for tests
// of timeouts and failures.
type Fault struct {
	// Action is the action URI to affect (ActionCreate, ActionCommand,
	// ActionReceive, ActionSignal or ActionDelete); empty affects every
	// request.
	Action string
	// Delay holds the answer back; the wait ends early when the client
	// goes away or the server closes.
	Delay time.Duration
	// Status, when non-zero, is the HTTP status to answer with instead:
	// 500 comes with a WS-Management fault body (as WinRM sends), other
	// codes with an empty text/plain body.
	Status int
	// Subcode is the WS-Management fault subcode sent with Status 500
	// (default "InternalError"). "TimedOut" is WinRM's answer to a Receive
	// when the command printed nothing within the OperationTimeout; the
	// client then asks again.
	Subcode string
	// Stderr and ExitCode, for ActionCommand, replace the result of the
	// command without running it (Stderr may be plain text or CLIXML, see
	// CLIXMLError).
	Stderr   string
	ExitCode int
	// Times is how many matching requests the fault affects; 0 means all.
	Times int
}

// Server is a fake WinRM (WS-Management) endpoint on loopback. It answers the
// Windows remote shell actions Create, Command, Receive, Signal and Delete as
// the github.com/masterzen/winrm client expects, decodes
// "powershell.exe -EncodedCommand", and runs the driver's scripts against
// Config.Services.
type Server struct {
	cfg     Config
	addr    string // host:port the server answers on
	url     string
	cert    []byte       // PEM, TLS only
	stop    func()       // closes the listener and every connection
	mem     *memListener // in-memory servers only
	closing chan struct{}

	mu       sync.Mutex
	shells   map[string]bool
	commands map[string]result
	scripts  []Script
	actions  []string
	faults   []*Fault
	refused  int
}

// NewServer starts a server on 127.0.0.1. Close it when done.
func NewServer(cfg Config) *Server {
	s := newServer(cfg)
	hs := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS tests provoke handshake errors on purpose
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
	return &Server{
		cfg:      cfg,
		closing:  make(chan struct{}),
		shells:   make(map[string]bool),
		commands: make(map[string]result),
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

// Refused returns how many requests were answered 401.
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

// AddFault installs f; faults are tried in the order added.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the first fault matching action, consuming one use.
func (s *Server) takeFault(action string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Action != "" && f.Action != action {
			continue
		}
		cp := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return &cp
	}
	return nil
}

func (s *Server) authorised(r *http.Request) bool {
	if s.cfg.Username == "" && s.cfg.Password == "" {
		return true
	}
	u, p, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.Username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.Password)) == 1
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/wsman" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if !s.authorised(r) {
		s.mu.Lock()
		s.refused++
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="WSMAN"`)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading body", http.StatusBadRequest)
		return
	}
	var env envelope
	if err := xml.Unmarshal(body, &env); err != nil {
		s.soap(w, http.StatusBadRequest, faultResponse("", "SchemaValidationError", "request is not a SOAP envelope: "+err.Error()))
		return
	}
	action := strings.TrimSpace(env.Header.Action)
	msgID := strings.TrimSpace(env.Header.MessageID)
	s.mu.Lock()
	s.actions = append(s.actions, action)
	s.mu.Unlock()

	if f := s.takeFault(action); f != nil {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-s.closing:
				t.Stop()
				return
			}
		}
		switch {
		case f.Status == http.StatusInternalServerError:
			s.soap(w, f.Status, faultResponse(msgID, cmp.Or(f.Subcode, "InternalError"), "injected fault"))
			return
		case f.Status != 0:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(f.Status)
			return
		case action == ActionCommand && (f.Stderr != "" || f.ExitCode != 0):
			s.command(w, &env, msgID, &result{stderr: f.Stderr, code: f.ExitCode})
			return
		}
	}

	switch action {
	case ActionCreate:
		id := newID()
		s.mu.Lock()
		s.shells[id] = true
		s.mu.Unlock()
		s.soap(w, http.StatusOK, createResponse(msgID, s.URL(), id))
	case ActionCommand:
		s.command(w, &env, msgID, nil)
	case ActionReceive:
		if env.Body.Receive == nil {
			s.soap(w, http.StatusBadRequest, faultResponse(msgID, "SchemaValidationError", "Receive without a body"))
			return
		}
		id := env.Body.Receive.DesiredStream.CommandID
		s.mu.Lock()
		res, ok := s.commands[id]
		s.mu.Unlock()
		if !ok || !s.hasShell(env.shellID()) {
			s.soap(w, http.StatusInternalServerError, faultResponse(msgID, "InvalidSelectors", "unknown shell or command"))
			return
		}
		s.soap(w, http.StatusOK, receiveResponse(msgID, id, res))
	case ActionSignal:
		if env.Body.Signal != nil {
			s.mu.Lock()
			delete(s.commands, env.Body.Signal.CommandID)
			s.mu.Unlock()
		}
		s.soap(w, http.StatusOK, emptyResponse(ActionSignal+"Response", msgID, "SignalResponse"))
	case ActionDelete:
		s.mu.Lock()
		delete(s.shells, env.shellID())
		s.mu.Unlock()
		s.soap(w, http.StatusOK, emptyResponse(ActionDelete+"Response", msgID, ""))
	default:
		s.soap(w, http.StatusInternalServerError, faultResponse(msgID, "ActionNotSupported", "action "+action+" is not supported by winrmtest"))
	}
}

func (s *Server) hasShell(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shells[id]
}

// command handles a Command request: it records the script and runs it
// (unless override is set), then answers with a command id.
func (s *Server) command(w http.ResponseWriter, env *envelope, msgID string, override *result) {
	if env.Body.CommandLine == nil || !s.hasShell(env.shellID()) {
		s.soap(w, http.StatusInternalServerError, faultResponse(msgID, "InvalidSelectors", "unknown shell or no command line"))
		return
	}
	cmdLine := env.Body.CommandLine.Command
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
				res = execute(s.cfg.Services, s.cfg.Host, p)
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
	s.commands[id] = res
	s.mu.Unlock()
	s.soap(w, http.StatusOK, commandResponse(msgID, id))
}

func (s *Server) soap(w http.ResponseWriter, status int, doc string) {
	w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, doc)
}

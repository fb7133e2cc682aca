package winrmtest

import (
	"context"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
)

// NewInMemoryServer starts a server that listens on no socket: connections
// come only through Server.Dial, over net.Pipe. Give Dial to the driver
// (winrm.Config.Dial) and use Addr, "<Host>:5985", as the target's Address.
//
// Because it does no real network I/O, it works inside a testing/synctest
// bubble, where injected delays and the driver's timeouts run in virtual
// time. Create and Close it inside the bubble. It serves plain HTTP only.
func NewInMemoryServer(cfg Config) *Server {
	s := newServer(cfg)
	l := &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	hs := &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ConnContext: connContext}
	go func() { _ = hs.Serve(l) }()
	s.mem = l
	s.addr = net.JoinHostPort(s.cfg.Host, "5985")
	s.url = "http://" + s.addr + "/wsman"
	s.stop = func() {
		_ = l.Close()
		_ = hs.Close()
	}
	return s
}

// Dial connects to an in-memory server, whatever the address; after Close
// it fails with "connection refused". It has the signature of
// winrm.Config.Dial. On a server started with NewServer it dials Addr over
// TCP.
func (s *Server) Dial(network, addr string) (net.Conn, error) {
	if s.mem == nil {
		var d net.Dialer
		return d.DialContext(context.Background(), "tcp", s.addr)
	}
	return s.mem.dial()
}

// memListener is a net.Listener fed by dial.
type memListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

type memAddr struct{}

func (memAddr) Network() string { return "pipe" }
func (memAddr) String() string  { return "winrmtest-in-memory" }

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

func (l *memListener) dial() (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		_ = client.Close()
		_ = server.Close()
		return nil, &net.OpError{Op: "dial", Net: "pipe", Addr: memAddr{}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
}

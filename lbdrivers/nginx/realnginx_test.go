package nginx_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
	"github.com/stretchr/testify/require"
)

// realNginx is an NGINX started by a test on loopback, in a temporary prefix.
type realNginx struct {
	Bin, Dir, Conf, PIDFile, File, ErrorLog string
	Addr                                    string // 127.0.0.1:port it listens on
	cmd                                     *exec.Cmd
}

// startNginx writes a main configuration that includes the managed upstream
// file (written first by the driver's Init through prepare), starts NGINX in
// the foreground and waits until it listens. NGINX is stopped at cleanup.
func startNginx(t testing.TB, prepare func(n *realNginx)) *realNginx {
	t.Helper()
	bin := httpfarm.Binary(t, "nginx") // t.Fatal when missing and CI=true, else t.Skip
	dir := t.TempDir()
	n := &realNginx{
		Bin: bin, Dir: dir,
		Conf:     filepath.Join(dir, "nginx.conf"),
		PIDFile:  filepath.Join(dir, "nginx.pid"),
		File:     filepath.Join(dir, "upstream.conf"),
		ErrorLog: filepath.Join(dir, "error.log"),
		Addr:     fmt.Sprintf("127.0.0.1:%d", httpfarm.FreePort(t)),
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must read the temporary prefix
	}
	// Sizing: every proxied request holds two connections in the one worker
	// (client side and upstream side). The load generator keeps up to 512
	// idle keep-alive connections and, open loop, starts every request that
	// is due after a stall: a 10 s stall of a loaded 2-core machine at 300
	// req/s is 3,000 requests in flight, 6,000 connections plus the idle
	// pool. The default of 1024 logged "1024 worker_connections are not
	// enough" and failed requests on a loaded CI machine; 8192 covers the
	// worst case above, and the file limit covers the connections plus the
	// worker's own files. The listen backlog (default 511) is raised to the
	// kernel's somaxconn (4096) for the same burst: a full accept queue
	// drops SYNs, and the client's retransmission after 1 s, then 3 s, turns
	// into request timeouts that the deployment did not cause.
	conf := fmt.Sprintf(`daemon off;
%[1]s
worker_processes 1;
worker_rlimit_nofile 20000;
pid %[2]s;
error_log %[3]s info;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path %[5]s/client_body;
    proxy_temp_path %[5]s/proxy;
    fastcgi_temp_path %[5]s/fastcgi;
    uwsgi_temp_path %[5]s/uwsgi;
    scgi_temp_path %[5]s/scgi;
    include %[4]s;
    server {
        listen %[6]s backlog=4096;
        location / {
            proxy_pass http://backend;
            proxy_next_upstream off;
            proxy_connect_timeout 2s;
        }
    }
}
`, user, n.PIDFile, n.ErrorLog, n.File, dir, n.Addr)
	require.NoError(t, os.WriteFile(n.Conf, []byte(conf), 0o644))
	prepare(n)
	n.cmd = exec.Command(bin, "-p", dir, "-e", n.ErrorLog, "-c", n.Conf)
	var stderr strings.Builder
	n.cmd.Stderr = &stderr
	require.NoError(t, n.cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- n.cmd.Wait() }()
	t.Cleanup(func() {
		_ = n.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case err := <-exited:
			if err != nil {
				t.Logf("nginx exited on SIGQUIT: %v; stderr: %s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			_ = n.cmd.Process.Kill()
			t.Logf("nginx killed after 10 s without exiting on SIGQUIT: %v", <-exited)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(n.ErrorLog)
			t.Fatalf("nginx exited at start: %v\nstderr: %s\nerror.log: %s", err, stderr.String(), log)
		default:
		}
		if _, err := os.Stat(n.PIDFile); err == nil {
			if c, err := net.DialTimeout("tcp", n.Addr, 200*time.Millisecond); err == nil {
				c.Close()
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 10s; stderr: %s", n.Addr, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ossConfig is the driver configuration for n with the given members.
func (n *realNginx) ossConfig(members []nginx.Member) nginx.OSSConfig {
	return nginx.OSSConfig{
		File:         n.File,
		Upstream:     "backend",
		Members:      members,
		Directives:   []string{"zone backend 64k"},
		ServerParams: []string{"max_fails=0"},
		MainConfig:   n.Conf,
		Binary:       n.Bin,
		Prefix:       n.Dir,
		PIDFile:      n.PIDFile,
		DrainPeriod:  time.Hour,
	}
}

var _ drivers.LoadBalancer = (*nginx.OSS)(nil)

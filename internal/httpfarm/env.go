package httpfarm

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Binary returns the path of a load-balancer binary ("haproxy", "nginx"),
// looked up in PATH and then in /usr/sbin and /usr/local/sbin. When it is
// missing the test fails if the environment variable CI is "true" (a test
// that needs it must never skip silently in CI) and is skipped otherwise.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("httpfarm: %s binary not found in PATH, /usr/sbin or /usr/local/sbin, and CI=true: install it", name)
	}
	t.Skipf("httpfarm: %s binary not found; install it to run this test (it fails instead of skipping when CI=true)", name)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a process that must be told its port up front.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("httpfarm: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

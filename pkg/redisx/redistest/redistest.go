// Package redistest starts a real redis-server for tests: a private one on a
// free port in a temporary directory, or the external one (a single server or
// a cluster) named by SHORTENER_TEST_REDIS_URL. Tests never skip for want of
// Redis: a missing redis-server is a test failure that says what to install.
package redistest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// EnvURL names an external Redis (or cluster seeds) to use instead of a private server.
const EnvURL = "SHORTENER_TEST_REDIS_URL"

// EnvServer names the redis-server binary to run (default: redis-server on PATH).
const EnvServer = "SHORTENER_TEST_REDIS_SERVER"

// Server is a running Redis for one test.
type Server struct {
	// URL is the redis:// URL to give to redisx.Config.
	URL string
	// Addr is host:port of the (first) node.
	Addr string
	// Prefix is a key prefix unique to this test; use it in the Keyspace so
	// tests sharing an external server never see each other's keys.
	Prefix string
	// External is true when the server came from SHORTENER_TEST_REDIS_URL.
	External bool
	// Dir is the data directory of a private server.
	Dir string

	cmd   *exec.Cmd
	extra []string
	t     testing.TB
}

// Start returns a Redis for t, stopped by t.Cleanup. Extra redis-server
// arguments (e.g. "--appendonly", "yes") apply to private servers only.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	prefix := "t" + randHex(4) + ":"
	if u := os.Getenv(EnvURL); u != "" {
		addr := strings.TrimPrefix(strings.Split(u, ",")[0], "redis://")
		return &Server{URL: u, Addr: addr, Prefix: prefix, External: true, t: t}
	}
	s := &Server{Prefix: prefix, Dir: t.TempDir(), t: t}
	s.start(t, 0, extra)
	t.Cleanup(s.Stop)
	return s
}

// StartPrivate is Start but always a private server, for tests that stop,
// pause or reconfigure Redis.
func StartPrivate(t testing.TB, extra ...string) *Server {
	t.Helper()
	s := &Server{Prefix: "t" + randHex(4) + ":", Dir: t.TempDir(), t: t}
	s.start(t, 0, extra)
	t.Cleanup(s.Stop)
	return s
}

// StartOnPort starts a private server on a given port (for tests of a
// process that was told to use that port before Redis existed).
func StartOnPort(t testing.TB, port int, extra ...string) *Server {
	t.Helper()
	s := &Server{Prefix: "t" + randHex(4) + ":", Dir: t.TempDir(), t: t}
	s.start(t, port, extra)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(t testing.TB, port int, extra []string) {
	t.Helper()
	bin := os.Getenv(EnvServer)
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("redis-server not found (%v): integration tests need a real Redis; install it with `apt-get install -y redis-server`, or set %s to the binary, or %s to a running server", err, EnvServer, EnvURL)
	}
	for attempt := 0; attempt < 5; attempt++ {
		p := port
		if p == 0 {
			p = freePort(t)
		}
		args := append([]string{
			"--port", strconv.Itoa(p), "--bind", "127.0.0.1", "--dir", s.Dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no",
			"--logfile", filepath.Join(s.Dir, "redis.log"),
		}, extra...)
		cmd := exec.Command(path, args...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("cannot start %s: %v", path, err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(p)
		if waitReady(addr, 5*time.Second) {
			s.cmd, s.extra, s.Addr, s.URL = cmd, extra, addr, "redis://"+addr
			return
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if port != 0 {
			break
		}
	}
	log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	t.Fatalf("redis-server did not become ready; log:\n%s", log)
}

// Stop kills a private server (SIGKILL: no shutdown save). It is idempotent.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Shutdown stops a private server gracefully (SIGTERM: Redis writes its
// AOF and exits), as an operator's restart does.
func (s *Server) Shutdown(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("redis-server did not shut down within 30 s")
	}
	s.cmd = nil
}

// Start starts a stopped private server again on the same port with the
// same data directory.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	_, portStr, _ := net.SplitHostPort(s.Addr)
	port, _ := strconv.Atoi(portStr)
	s.start(t, port, s.extra)
}

// Restart stops a private server and starts it again on the same port with
// the same data directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.External {
		t.Fatal("cannot restart an external redis")
	}
	s.Stop()
	_, portStr, _ := net.SplitHostPort(s.Addr)
	port, _ := strconv.Atoi(portStr)
	s.start(t, port, s.extra)
}

// Client returns a plain rueidis client (no client-side cache) closed at cleanup.
func (s *Server) Client(t testing.TB) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL("redis://" + s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.URL, ",") {
		for _, a := range strings.Split(s.URL, ",")[1:] {
			opt.InitAddress = append(opt.InitAddress, strings.TrimPrefix(a, "redis://"))
		}
	}
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("cannot connect to test redis %s: %v", s.URL, err)
	}
	t.Cleanup(c.Close)
	return c
}

// Keys lists every key under the test's prefix (SCAN on every node).
func (s *Server) Keys(t testing.TB, c rueidis.Client) []string {
	t.Helper()
	var keys []string
	ctx := context.Background()
	for _, node := range c.Nodes() {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(s.Prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				// replicas in a cluster answer MOVED-free SCAN too; any error is fatal
				t.Fatalf("scan: %v", err)
			}
			keys = append(keys, e.Elements...)
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	return keys
}

func waitReady(addr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(time.Second))
			_, _ = conn.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if strings.HasPrefix(line, "+PONG") {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// String describes the server for failure messages.
func (s *Server) String() string { return fmt.Sprintf("redis %s (prefix %s)", s.URL, s.Prefix) }

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Accounts made with the ekbom binary on every test database.
const (
	adminUser     = "admin"
	adminPassword = "correct horse battery staple"
	clinUser      = "clinician"
	clinPassword  = "another long enough password"
)

var (
	// bin is the ekbom binary built once by TestMain.
	bin string
	// artifacts is where screenshots go (EKBOM_ARTIFACTS or a temp dir).
	artifacts string
	// tmpRoot holds the binary and the databases of the shared server.
	tmpRoot string

	sharedOnce sync.Once
	shared     *server
	sharedErr  error
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	tmpRoot, err = os.MkdirTemp("", "ekbom-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmpRoot)

	artifacts = os.Getenv("EKBOM_ARTIFACTS")
	if artifacts == "" {
		// One fixed directory, replaced by each run and kept after it for
		// looking at.
		artifacts = filepath.Join(os.TempDir(), "ekbom-e2e-artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: artifacts:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: screenshots are saved in %s\n", artifacts)

	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	bin = filepath.Join(tmpRoot, "ekbom")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ekbom")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/ekbom: %v\n%s", err, out)
		return 1
	}

	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// newRunID returns a random suffix that keeps MRNs and token names unique
// on the shared database, also under go test -count=N.
func newRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// moduleRoot returns the directory of the main module (the repository).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, "cmd", "ekbom")); err != nil {
		return "", fmt.Errorf("module root %q has no cmd/ekbom: %w", dir, err)
	}
	return dir, nil
}

// ekbomCmd runs the binary with args and extra environment, failing the
// test on a non-zero exit.
func ekbomCmd(t testing.TB, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ekbom %s: %v\n%s", strings.Join(args[:2], " "), err, out)
	}
	return string(out)
}

// createAccounts makes the admin and the clinician on db with the binary's
// own commands.
func createAccounts(t testing.TB, db string) {
	t.Helper()
	out := ekbomCmd(t, []string{"EKBOM_ADMIN_PASSWORD=" + adminPassword}, "admin", "create", "-username", adminUser, "-name", "Ada Admin", "-db", db)
	if !strings.Contains(out, "created admin "+adminUser) {
		t.Fatalf("admin create said %q", out)
	}
	out = ekbomCmd(t, []string{"EKBOM_USER_PASSWORD=" + clinPassword}, "user", "create", "-username", clinUser, "-role", "clinician", "-name", "Cleo Clinician", "-db", db)
	if !strings.Contains(out, "created clinician "+clinUser) {
		t.Fatalf("user create said %q", out)
	}
}

// server is a running `ekbom serve` process.
type server struct {
	URL  string
	db   string
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit error, valid after done
}

// lockedBuffer keeps the last part of the server's log for failure reports.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.buf.Len() > 1<<20 { // keep the last 512 KiB
		rest := append([]byte(nil), b.buf.Bytes()[b.buf.Len()-512<<10:]...)
		b.buf.Reset()
		b.buf.Write(rest)
	}
	return len(p), nil
}

func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// startServer starts `ekbom serve -addr 127.0.0.1:0 -db db`, reads the URL
// it logs, and waits until /healthz answers 200.
func startServer(db string) (*server, error) {
	s := &server{db: db, log: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "-addr", "127.0.0.1:0", "-db", db)
	s.cmd.Env = os.Environ()
	// The server logs JSON lines on stderr; read them through our own pipe
	// so that Wait does not close it under the reader.
	stderr, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = w, w
	err = s.cmd.Start()
	w.Close()
	if err != nil {
		stderr.Close()
		return nil, err
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.log.Write(append(line, '\n'))
			var rec struct {
				Msg, URL string
			}
			if json.Unmarshal(line, &rec) == nil && rec.URL != "" && strings.HasPrefix(rec.Msg, "ekbom serving") {
				select {
				case urls <- rec.URL:
				default:
				}
			}
		}
		io.Copy(s.log, stderr)
		stderr.Close()
	}()
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	select {
	case s.URL = <-urls:
	case <-s.done:
		return nil, fmt.Errorf("ekbom serve exited early (%v):\n%s", s.err, s.log.tail(4000))
	case <-time.After(30 * time.Second):
		s.kill()
		return nil, fmt.Errorf("ekbom serve logged no URL in 30 s:\n%s", s.log.tail(4000))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("%s/healthz not ready in 20 s (last: %v):\n%s", s.URL, err, s.log.tail(4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustStart is startServer for a test; the server is killed when the test
// ends.
func mustStart(t testing.TB, db string) *server {
	t.Helper()
	s, err := startServer(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", s.log.tail(3000))
		}
		s.kill()
	})
	return s
}

// kill sends SIGKILL and waits for the process to end.
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Kill()
	<-s.done
}

// stop asks for a graceful shutdown (SIGTERM), killing after 20 s.
func (s *server) stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.kill()
		return errors.New("ekbom serve did not stop within 20 s of SIGTERM")
	}
	var ee *exec.ExitError
	if s.err != nil && !errors.As(s.err, &ee) {
		return s.err
	}
	if s.err != nil {
		return fmt.Errorf("ekbom serve: %v:\n%s", s.err, s.log.tail(2000))
	}
	return nil
}

// sharedServer is one server on one SQLite database for the browser and
// security tests, started on first use and stopped by TestMain.
func sharedServer(t *testing.T) *server {
	t.Helper()
	sharedOnce.Do(func() {
		db := filepath.Join(tmpRoot, "shared.db")
		createAccounts(t, db)
		shared, sharedErr = startServer(db)
	})
	if sharedErr != nil {
		t.Fatalf("shared server: %v", sharedErr)
	}
	if shared == nil {
		t.Fatal("shared server: accounts could not be created (see the first test that failed)")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared server log (tail):\n%s", shared.log.tail(3000))
		}
	})
	return shared
}

// withTimeout returns a context for a bounded piece of a test.
func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

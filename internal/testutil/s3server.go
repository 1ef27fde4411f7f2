package testutil

import "fmt"
import "net"
import "os"
import "os/exec"
import "path/filepath"
import "testing"
import "time"

// S3 test server credentials (versitygw's root user).
const (
	S3AccessKey = "memsnaptest"
	S3SecretKey = "memsnaptestsecret"
	// S3Bucket is the bucket every S3Server has.
	S3Bucket = "memsnap"
)

// S3Server is a versitygw process serving S3 on a loopback port, its posix
// backend on a temporary directory: an S3-compatible server for the
// replication tests. Stop and Start stop it (SIGKILL, by pid) and start it
// again on the same port and data.
type S3Server struct {
	t        testing.TB
	bin      string
	Dir      string // the backend's root: Dir/S3Bucket/KEY is an object's file
	Addr     string // 127.0.0.1:PORT
	Endpoint string // http://127.0.0.1:PORT
	cmd      *exec.Cmd
}

// VersitygwBinary is the versitygw the Makefile installs (make versitygw),
// or $MEMSNAP_TEST_VERSITYGW; "" when there is none.
func VersitygwBinary() string {
	if p := os.Getenv("MEMSNAP_TEST_VERSITYGW"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	for err == nil {
		p := filepath.Join(dir, ".tools", "bin", "versitygw")
		if _, serr := os.Stat(p); serr == nil {
			return p
		}
		if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	return ""
}

// StartS3 starts versitygw for the test, with bucket S3Bucket, and stops
// it when the test ends. It skips the test, saying why, when versitygw is
// not installed (make versitygw).
func StartS3(t testing.TB) *S3Server {
	t.Helper()
	bin := VersitygwBinary()
	if bin == "" {
		t.Skip("versitygw is not installed (run 'make versitygw', or set MEMSNAP_TEST_VERSITYGW)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &S3Server{t: t, bin: bin, Dir: TempDir(t), Addr: addr, Endpoint: "http://" + addr}
	if err := os.Mkdir(filepath.Join(s.Dir, S3Bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server (again) and waits until it accepts connections.
func (s *S3Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	log, err := os.OpenFile(filepath.Join(s.Dir, "..", filepath.Base(s.Dir)+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		log = nil
	}
	cmd := exec.Command(s.bin, "--port", s.Addr, "--access", S3AccessKey, "--secret", S3SecretKey, "--quiet", "posix", s.Dir)
	if log != nil {
		cmd.Stdout, cmd.Stderr = log, log
		defer log.Close()
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start versitygw: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("versitygw did not listen on %s within 20s: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (by its pid) and waits for it to exit.
func (s *S3Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// URL is s3://S3Bucket/prefix.
func (s *S3Server) URL(prefix string) string { return fmt.Sprintf("s3://%s/%s", S3Bucket, prefix) }

// Env is the environment that points memsnap's replica.* keys at the
// server (endpoint and credentials).
func (s *S3Server) Env() []string {
	return []string{"MEMSNAP_REPLICA_ENDPOINT=" + s.Endpoint, "MEMSNAP_REPLICA_ACCESS_KEY_ID=" + S3AccessKey,
		"MEMSNAP_REPLICA_SECRET_ACCESS_KEY=" + S3SecretKey, "MEMSNAP_REPLICA_REGION=us-east-1"}
}

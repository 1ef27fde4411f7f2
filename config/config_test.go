package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
)

func TestDefaultsAreValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.LogLevel = "loud"
	c.Reader.BufferPoolMB = 1
	c.Reader.Refresh = "every now and then"
	c.Writer.MaxBatchJobs = 0
	c.GC.Keep = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"log_level", "reader.buffer_pool_mb", "reader.refresh", "writer.max_batch_jobs", "gc.keep"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestLoadFileEnvPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "memsnap.yaml")
	if err := os.WriteFile(file, []byte("store: /from/file\nwriter:\n  lock_timeout: 3s\n  max_batch_jobs: 50\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEMSNAP_WRITER_MAX_BATCH_JOBS", "70")
	v := viper.New()
	v.Set("config", file)
	c, err := Load(v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != "/from/file" || c.Writer.LockTimeout != 3*time.Second {
		t.Errorf("file values not used: %+v", c)
	}
	if c.Writer.MaxBatchJobs != 70 {
		t.Errorf("env did not override file: %d", c.Writer.MaxBatchJobs)
	}
	if c.Reader.BufferPoolMB != 64 || c.GC.Keep != 3 {
		t.Errorf("defaults lost: %+v", c)
	}
}

func TestLoadRejectsBadEnv(t *testing.T) {
	t.Setenv("MEMSNAP_GC_KEEP", "0")
	if _, err := Load(viper.New()); err == nil || !strings.Contains(err.Error(), "gc.keep") {
		t.Fatalf("got %v", err)
	}
}

func TestDefaultStoreDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg")
	if got := DefaultStoreDir(); got != "/xdg/memsnap" {
		t.Fatal(got)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got := DefaultStoreDir(); got != "/home/u/.local/share/memsnap" {
		t.Fatal(got)
	}
}

package tests

import "bytes"
import "context"
import "encoding/json"
import "io"
import "net/http"
import "os/exec"
import "regexp"
import "testing"
import "time"

import dto "github.com/prometheus/client_model/go"
import "github.com/prometheus/common/expfmt"
import "github.com/prometheus/common/model"

// startDaemonHTTP starts 'memsnap daemon --addr 127.0.0.1:0' on store,
// stopped when the test ends, and returns the base URL of its /metrics and
// /healthz.
func startDaemonHTTP(t *testing.T, ctx context.Context, store string) string {
	t.Helper()
	cmd := exec.Command(bin, "--store", store, "--log-level", "info", "daemon", "--addr", "127.0.0.1:0")
	stderr := pipe(t, cmd.StderrPipe)
	mustStart(t, cmd)
	t.Cleanup(func() { _ = terminate(cmd) })
	select {
	case m, ok := <-firstMatch(stderr, daemonURL):
		if !ok {
			t.Fatal("the daemon exited without saying where it serves /metrics and /healthz")
		}
		return m[1]
	case <-ctx.Done():
		t.Fatal("the daemon did not say where it serves /metrics and /healthz")
	}
	return ""
}

// daemonURL is the log line in which a daemon says where it serves.
var daemonURL = regexp.MustCompile(`url=(http://\S+)/metrics`)

// Issue 15, done-when 4 (for the daemon, issue 15 item 3): 'daemon --addr'
// serves /metrics, which parses as Prometheus text and moves when jobs are
// committed, and /healthz.
func TestDaemonMetrics(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	base := startDaemonHTTP(t, ctx, store)
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		code, body := get("/metrics")
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d", code)
		}
		return parseMetrics(t, body)
	}
	value := func(fams map[string]*dto.MetricFamily, name string, label ...string) float64 {
		return metricValue(t, fams, name, label...)
	}
	before := scrape()
	if seq := value(before, "memsnap_snapshot_seq"); seq != 1 {
		t.Errorf("memsnap_snapshot_seq %v on a new store, want 1", seq)
	}
	code, body := get("/healthz")
	var h struct {
		OK bool `json:"ok"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &h) != nil || !h.OK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	job, _ := json.Marshal(ops(entities(entity("metered", "t", "x"))))
	mustMemsnap(t, store, job, "enqueue")
	waitUntil(t, ctx, "the metrics to show the commit", 100*time.Millisecond, func() bool {
		after := scrape()
		// The daemon updates its metrics one by one after a commit: a
		// scrape between two may not list the jobs counter yet.
		if after["memsnap_jobs_total"] == nil || after["memsnap_commit_duration_seconds"] == nil {
			return false
		}
		return value(after, "memsnap_snapshot_seq") == 2 && value(after, "memsnap_jobs_total", "outcome", "applied") == 1 &&
			value(after, "memsnap_commit_duration_seconds") >= 1 && value(after, "memsnap_queue_jobs", "state", "new") == 0
	})
	if code, _ := get("/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing: %d", code)
	}
}

// parseMetrics parses a /metrics answer with the Prometheus text parser.
func parseMetrics(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// metricValue is the value of metric name (a histogram's sample count),
// of its series with the given labels (name, value pairs) if any; 0 when no
// series has them.
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range f.Metric {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

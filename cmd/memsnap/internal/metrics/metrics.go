// Package metrics holds the Prometheus metrics (client_golang) of memsnap's
// long-running processes, 'memsnap daemon' and 'memsnap serve': the store's
// state, read when scraped, the process's own commits and, for serve, its
// MCP calls and reader swaps.
package metrics

import "context"
import "encoding/json"
import "fmt"
import "log/slog"
import "net"
import "net/http"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/collectors"
import "github.com/prometheus/client_golang/prometheus/promhttp"

import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// Metrics is one process's registry. Its methods are safe for concurrent
// use.
type Metrics struct {
	reg      *prometheus.Registry
	commits  *prometheus.CounterVec // by outcome
	jobs     *prometheus.CounterVec // by outcome
	duration prometheus.Histogram

	calls     *prometheus.CounterVec   // by tool, outcome
	inFlight  *prometheus.GaugeVec     // by tool
	callTime  *prometheus.HistogramVec // by tool
	swaps     prometheus.Histogram
	swapsDone prometheus.Counter
}

// New returns the metrics of a process on store s: snapshot seq and age,
// queue depth by state, the process's commits (CommitObserved), and the Go
// runtime's and the process's own collectors.
func New(s *snapshot.Store, log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.commits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memsnap_commits_total",
		Help: "Commit runs of this process, by outcome: published (one or more snapshots), idle (nothing queued), skipped (another writer held the lock), failed."},
		[]string{"outcome"})
	m.jobs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memsnap_jobs_total",
		Help: "Jobs this process's commits applied or rejected."}, []string{"outcome"})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "memsnap_commit_duration_seconds",
		Help: "Duration of this process's commits that published a snapshot.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)})
	current := func() (*snapshot.Manifest, bool) {
		seq, err := s.Current()
		if err != nil || seq == 0 {
			return nil, false
		}
		man, err := s.Manifest(seq)
		return man, err == nil
	}
	seq := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "memsnap_snapshot_seq", Help: "The seq of the snapshot CURRENT names (0: none)."},
		func() float64 {
			n, _ := s.Current()
			return float64(n)
		})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "memsnap_snapshot_age_seconds", Help: "Seconds since CURRENT's snapshot was published."},
		func() float64 {
			if man, ok := current(); ok {
				return time.Since(man.CreatedAt).Seconds()
			}
			return 0
		})
	m.reg.MustRegister(m.commits, m.jobs, m.duration, seq, age, &queueCollector{s: s, log: log},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WithServing adds the metrics of a serving process: MCP calls by tool and
// outcome with their durations (CallObserved), the calls in flight by tool
// (CallStarted to CallObserved), and the reader's swaps to a
// newer snapshot with their durations (SwapObserved). It returns m.
func (m *Metrics) WithServing() *Metrics {
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memsnap_mcp_calls_total",
		Help: "MCP tool calls, by tool and outcome: ok, tool_error (the tool answered with an error, such as a rejected write), error (unknown tool or bad arguments)."},
		[]string{"tool", "outcome"})
	m.callTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "memsnap_mcp_call_duration_seconds",
		Help: "Duration of MCP tool calls, by tool.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"tool"})
	m.swaps = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "memsnap_reader_swap_duration_seconds",
		Help: "Duration of the reader's swaps to a newer snapshot: open, verify, derive the search index.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	m.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "memsnap_mcp_calls_in_flight",
		Help: "MCP tool calls begun and not yet answered, by tool."}, []string{"tool"})
	m.reg.MustRegister(m.calls, m.callTime, m.swaps, m.inFlight)
	return m
}

// CommitObserved records one commit run of this process.
// ConnStats is what serve's connection guard reports.
type ConnStats interface {
	Open() int                                 // open connections
	Streams() int                              // open event streams
	Evicted() (anonymous, authenticated int64) // closed to make room
}

// WithConnections adds serve's connection gauges and counters from c:
// memsnap_serve_connections_open, memsnap_serve_streams_open and
// memsnap_serve_connections_evicted_total{authenticated}.
func (m *Metrics) WithConnections(c ConnStats) *Metrics {
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "memsnap_serve_connections_open",
		Help: "Open HTTP connections (at most serve.max_conns)."}, func() float64 { return float64(c.Open()) })
	streams := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "memsnap_serve_streams_open",
		Help: "Open event streams (/events and MCP GET streams; at most serve.max_streams)."}, func() float64 { return float64(c.Streams()) })
	evicted := func(authd bool) prometheus.CounterFunc {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "memsnap_serve_connections_evicted_total",
			Help:        "Connections closed to make room for a newer one at serve.max_conns, by whether they had carried the token.",
			ConstLabels: prometheus.Labels{"authenticated": fmt.Sprint(authd)}},
			func() float64 {
				anon, auth := c.Evicted()
				if authd {
					return float64(auth)
				}
				return float64(anon)
			})
	}
	m.reg.MustRegister(open, streams, evicted(false), evicted(true))
	return m
}

func (m *Metrics) CommitObserved(sum writer.Summary, skipped bool, err error) {
	switch {
	case skipped:
		m.commits.WithLabelValues("skipped").Inc()
	case err != nil:
		m.commits.WithLabelValues("failed").Inc()
	case sum.Batches == 0:
		m.commits.WithLabelValues("idle").Inc()
	default:
		m.commits.WithLabelValues("published").Inc()
		m.duration.Observe(sum.DurationMS / 1000)
	}
	m.jobs.WithLabelValues("applied").Add(float64(sum.Applied))
	m.jobs.WithLabelValues("rejected").Add(float64(sum.Rejected))
}

// CallObserved records one MCP tool call (see mcpserver.Options.OnCall),
// ending one CallStarted began. Without WithServing it does nothing.
func (m *Metrics) CallObserved(tool, outcome string, took time.Duration) {
	if m.calls == nil {
		return
	}
	m.calls.WithLabelValues(tool, outcome).Inc()
	m.callTime.WithLabelValues(tool).Observe(took.Seconds())
	m.inFlight.WithLabelValues(tool).Dec()
}

// CallStarted records that an MCP tool call began (see
// mcpserver.Options.OnCallStart); CallObserved records its end. Without
// WithServing it does nothing.
func (m *Metrics) CallStarted(tool string) {
	if m.inFlight == nil {
		return
	}
	m.inFlight.WithLabelValues(tool).Inc()
}

// SwapObserved records one reader swap (see reader.Options.OnSwap). Without
// WithServing it does nothing.
func (m *Metrics) SwapObserved(_ uint64, took time.Duration) {
	if m.swaps != nil {
		m.swaps.Observe(took.Seconds())
	}
}

// Handler serves the registry as Prometheus text.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// queueCollector reports the queue's depth when scraped.
type queueCollector struct {
	s   *snapshot.Store
	log *slog.Logger
}

var queueDesc = prometheus.NewDesc("memsnap_queue_jobs", "Jobs in the queue: new (waiting), claimed (being applied), dead (rejected, with a reason).", []string{"state"}, nil)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDesc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	q, err := c.s.Queue().Counts()
	if err != nil {
		c.log.Warn("metrics: count the queue", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(q.New), "new")
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(q.Cur), "claimed")
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(q.Dead), "dead")
}

// Healthz answers /healthz: 200 with {"ok":true,"current":SEQ,"state":"ok"}
// while CURRENT can be read, else 503 with the error. When health (may be
// nil) says the writer cannot commit, the state is "degraded", with the
// writer's state ("blocked", "failing") and its cause and hint, and still
// 200: reads are served and acknowledged writes are durable, so a balancer
// must not take the server out; a monitor alerts on the state. It needs no
// authentication.
func Healthz(s *snapshot.Store, health func() writer.Health) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		seq, err := s.Current()
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": err.Error()})
			return
		}
		out := map[string]any{"ok": true, "current": seq, "state": "ok"}
		if health != nil {
			if h := health(); h.State != writer.HealthOK {
				out["state"], out["writer"] = "degraded", h
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	}
}

// BindRetry is how long Listen keeps trying an address in use.
//
// A server restarted right after a kill -9 finds its address in use for a
// moment: not a TIME_WAIT (Go sets SO_REUSEADDR, and it happens with no
// connection ever made) but the killed process itself, whose listening
// socket stays open until its last thread has exited, tens of
// milliseconds after kill returns (measured: the process a zombie, the
// socket still listening) while the kernel tears down its memory mappings.
const BindRetry = 5 * time.Second

// Listen listens on addr (host:port; port 0 picks one) and returns the
// listener with an address to reach it at: localhost's when it listens on
// every interface. beyond is true when the address is not a loopback one,
// so that the caller can warn. An address in use is tried again, with
// backoff from 10 ms to 500 ms, for up to BindRetry (logged once on log)
// before the error is returned; ctx ends the wait.
func Listen(ctx context.Context, what, addr string, log *slog.Logger) (ln net.Listener, at string, beyond bool, err error) {
	give := time.Now().Add(BindRetry)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err == nil || !addrInUse(err) || time.Now().Add(wait).After(give) {
			break
		}
		if wait == 10*time.Millisecond && log != nil {
			log.Info("address in use: trying again (a server that just stopped may still hold it)", "addr", addr, "for", BindRetry)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", false, fmt.Errorf("%s --addr %s: %w", what, addr, ctx.Err())
		case <-t.C:
		}
	}
	if err != nil {
		if addrInUse(err) {
			return nil, "", false, fmt.Errorf("%s --addr %s: still in use after %v: %w", what, addr, BindRetry, err)
		}
		return nil, "", false, fmt.Errorf("%s --addr %s: %w", what, addr, err)
	}
	at = ln.Addr().String()
	if host, port, err := net.SplitHostPort(at); err == nil {
		ip := net.ParseIP(host)
		beyond = ip == nil || !ip.IsLoopback()
		if ip != nil && ip.IsUnspecified() { // every interface: this machine's own address works
			at = net.JoinHostPort("localhost", port)
		}
	}
	return ln, at, beyond, nil
}

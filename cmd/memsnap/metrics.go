package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

// daemonMetrics are the daemon's Prometheus metrics (client_golang): the
// store's state, read when scraped, and its own commits.
type daemonMetrics struct {
	reg      *prometheus.Registry
	commits  *prometheus.CounterVec // by outcome
	jobs     *prometheus.CounterVec // by outcome
	duration prometheus.Histogram
}

func newDaemonMetrics(s *snapshot.Store, log *slog.Logger) *daemonMetrics {
	m := &daemonMetrics{reg: prometheus.NewRegistry()}
	m.commits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memsnap_commits_total",
		Help: "Commit runs of this daemon, by outcome: published (one or more snapshots), idle (nothing queued), skipped (another writer held the lock), failed."},
		[]string{"outcome"})
	m.jobs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memsnap_jobs_total",
		Help: "Jobs this daemon's commits applied or rejected."}, []string{"outcome"})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "memsnap_commit_duration_seconds",
		Help: "Duration of this daemon's commits that published a snapshot.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)})
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

// observe records one commit run.
func (m *daemonMetrics) observe(sum writer.Summary, skipped bool, err error) {
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

// serveMetrics serves /metrics (Prometheus text) and /healthz on addr until
// ctx ends. It returns once it listens, with an address to reach it at
// (localhost when it listens on every interface).
func serveMetrics(ctx context.Context, addr string, s *snapshot.Store, m *daemonMetrics, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("daemon --addr %s: %w", addr, err)
	}
	at := ln.Addr().String()
	if host, port, err := net.SplitHostPort(at); err == nil {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			log.Warn("metrics are served beyond this machine, without authentication", "addr", at)
		}
		if ip != nil && ip.IsUnspecified() { // every interface: this machine's own address works
			at = net.JoinHostPort("localhost", port)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		seq, err := s.Current()
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "current": seq})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return at, nil
}

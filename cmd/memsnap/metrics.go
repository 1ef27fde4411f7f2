package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/memsnap/memsnap/cmd/memsnap/internal/metrics"
	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

// serveMetrics serves the daemon's /metrics (Prometheus text) and /healthz
// on addr until ctx ends. It returns once it listens, with an address to
// reach it at (localhost when it listens on every interface).
// health, if not nil, says whether the writer can commit (see
// metrics.Healthz).
func serveMetrics(ctx context.Context, addr string, s *snapshot.Store, m *metrics.Metrics, health func() writer.Health, log *slog.Logger) (string, error) {
	ln, at, beyond, err := metrics.Listen(ctx, "daemon", addr)
	if err != nil {
		return "", err
	}
	if beyond {
		log.Warn("metrics are served beyond this machine, without authentication", "addr", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("GET /healthz", metrics.Healthz(s, health))
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

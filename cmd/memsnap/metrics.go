package main

import "context"
import "errors"
import "log/slog"
import "net/http"
import "time"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/connguard"
import "github.com/memsnap/memsnap/cmd/memsnap/internal/metrics"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// serveMetrics serves the daemon's /metrics (Prometheus text) and /healthz
// on addr until ctx ends. It returns once it listens, with an address to
// reach it at (localhost when it listens on every interface).
// The connections are guarded as serve's are (the serve.* connection keys),
// none of them authenticated: a flood of them cannot exhaust the daemon's
// file descriptors, which its commits need. health, if not nil, says
// whether the writer can commit (see metrics.Healthz).
func serveMetrics(ctx context.Context, addr string, s *snapshot.Store, m *metrics.Metrics, guard *connguard.Guard, health func() writer.Health, log *slog.Logger) (string, error) {
	ln, at, beyond, err := metrics.Listen(ctx, "daemon", addr, log)
	if err != nil {
		return "", err
	}
	if beyond {
		log.Warn("metrics are served beyond this machine, without authentication", "addr", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("GET /healthz", metrics.Healthz(s, health))
	srv := &http.Server{Handler: mux}
	guard.Configure(srv)
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

package main

import "context"
import "crypto/tls"
import "errors"
import "fmt"
import "io/fs"
import "log/slog"
import "net"
import "net/http"
import "os"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/connguard"
import "github.com/memsnap/memsnap/cmd/memsnap/internal/mcpserver"
import "github.com/memsnap/memsnap/cmd/memsnap/internal/metrics"
import "github.com/memsnap/memsnap/cmd/memsnap/internal/web"
import "github.com/memsnap/memsnap/internal/buildinfo"
import "github.com/memsnap/memsnap/internal/servelink"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

func (a *app) newServeCommand() *cobra.Command {
	var tlsCert, tlsKey string
	c := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8765]",
		Short: "Serve MCP over HTTP to many clients, a live dashboard and metrics, until SIGINT or SIGTERM",
		Long: `One long-lived reader process serving, over HTTP on serve.addr:
  /mcp      MCP over streamable HTTP: the tools, resource and subscriptions of 'memsnap mcp',
            for any number of clients at once (writes go through the queue, as with mcp);
            protocol 2026-07-28 statelessly (no initialize, no session), earlier versions
            with sessions, routed by the version each request carries
  /         a read-only dashboard: counts and recent changes, search, entity pages with their
            neighbours drawn, the snapshot timeline, the queue and dead jobs, the writer lock;
            it updates in place when a newer snapshot is served
  /metrics  Prometheus text: snapshot seq and age, queue, commits, reader swaps, MCP calls
  /healthz  {"ok":true,"current":SEQ,"state":"ok"}, without authentication; "state":"degraded"
            (still 200) with the writer's cause while it cannot commit (a full disk)
Every endpoint but /healthz needs the token kept in STORE/serve.token (made on first start,
mode 0600): send "Authorization: Bearer TOKEN", or open the printed link with ?token=TOKEN
once in a browser, which then keeps it in a cookie. Cross-origin requests that could change
anything (other than GET and HEAD) are refused, no CORS headers are sent, and request bodies
are capped (serve.max_body_bytes). Open connections are capped (serve.max_conns): at the cap
the oldest connection that never carried the token is closed first, and a connection without
the token serves one request; headers, bodies and each write of an answer have deadlines
(serve.header_timeout, serve.read_timeout, serve.write_timeout), and event streams (/events,
MCP sessions' GET streams, 2026-07-28 subscriptions/listen requests) are capped (serve.max_streams). An address in use is tried again for 5 s. Bind beyond loopback only with --tls-cert and --tls-key,
or behind a proxy that adds TLS. The store is created if missing. On a store it cannot write
(a read-only filesystem, no write permission) it serves reads and refuses writes, with the
serve.token already there (it refuses to start without one). SIGINT or SIGTERM stops
it: calls in flight finish, then the sessions end.`,
		Args: noArgs,
		RunE: a.fromRemote(true, a.onServingStore(func(cmd *cobra.Command, s *snapshot.Store, ro error, _ []string) error {
			if (tlsCert == "") != (tlsKey == "") {
				return usageError{path: cmd.CommandPath(), err: errors.New("--tls-cert and --tls-key go together")}
			}
			return a.runServe(cmd.Context(), s, ro, tlsCert, tlsKey)
		})),
	}
	c.Flags().String("addr", "", "listen on this address (host:port; port 0 picks one; default serve.addr, 127.0.0.1:8765)")
	a.bindFlag("serve.addr", c, "addr")
	c.Flags().StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM file)")
	c.Flags().StringVar(&tlsKey, "tls-key", "", "the certificate's private key (PEM file)")
	addFromFlag(c)
	return c
}

func (a *app) runServe(ctx context.Context, s *snapshot.Store, ro error, tlsCert, tlsKey string) error {
	log := a.log.With("component", "serve")
	if err := tokenOnReadOnly(s, ro); err != nil {
		return err
	}
	token, created, err := web.LoadToken(s.Dir())
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if created {
		log.Info("made a new token", "file", s.Path(web.TokenFile))
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("serve: find own binary: %w", err)
	}
	met := metrics.New(s, log).WithServing()
	ww := a.newWarmWriter(exe, s)
	defer ww.Close(10 * time.Second)
	pool := a.newQueryPool(exe, s)
	defer pool.Close()
	var site *web.Server
	srv := mcpserver.New(mcpserver.Options{
		Store: s, Config: a.cfg, Log: a.log, Version: buildinfo.Version, QueryRunner: pool, ReadOnly: ro,
		Commit: a.unlessRemote(func(ctx context.Context) (writer.Summary, bool, error) {
			sum, skipped, err := ww.Commit(context.WithoutCancel(ctx))
			met.CommitObserved(sum, skipped, err)
			return sum, skipped, err
		}),
		OnSwap: func(seq uint64, took time.Duration) {
			met.SwapObserved(seq, took)
			site.Swapped(seq, took)
		},
		OnCall:      met.CallObserved,
		OnCallStart: met.CallStarted,
		PointView:   a.pointView(),
	})
	ln, at, beyond, err := metrics.Listen(ctx, "serve", a.cfg.Serve.Addr, log)
	if err != nil {
		return err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	guard := a.newGuard(log)
	met.WithConnections(guard)
	site, err = web.New(web.Options{Store: s, MCP: srv, Metrics: met, Token: token, Port: port, CookieMaxAge: a.cfg.Serve.CookieMaxAge, MaxBodyBytes: a.cfg.BodyCap(),
		Guard: guard, Log: a.log})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	hs := &http.Server{Handler: site, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	guard.Configure(hs)
	scheme := "http"
	if tlsCert != "" {
		// Loaded before anything is printed: a bad file fails the start.
		cert, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
		if err != nil {
			return fmt.Errorf("serve: --tls-cert %s, --tls-key %s: %w", tlsCert, tlsKey, err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme = "https"
	} else if beyond {
		log.Warn("serving beyond this machine without TLS: the token and the memory cross the network in clear text; "+
			"use --tls-cert and --tls-key, or a proxy that adds TLS", "addr", ln.Addr().String())
	}
	stop := srv.Start(ctx)
	// On shutdown, the dashboards' event streams end at once, and the MCP
	// sessions (each holds a GET stream) once the calls in flight had a
	// moment to finish.
	hs.RegisterOnShutdown(site.Shutdown)
	hs.RegisterOnShutdown(func() { time.AfterFunc(500*time.Millisecond, srv.CloseSessions) })
	served := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			served <- hs.ServeTLS(ln, "", "")
		} else {
			served <- hs.Serve(ln)
		}
	}()
	base := scheme + "://" + at
	_ = servelink.Announce(a.stdout, base, token) // a closed stdout does not stop serve
	log.Info("serving", "url", base, "store", s.Dir())
	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if serr := hs.Shutdown(sctx); serr != nil {
			_ = hs.Close()
		}
		cancel()
		err = <-served
	}
	stop()
	if errors.Is(err, http.ErrServerClosed) {
		log.Info("serve stopped")
		return nil
	}
	return fmt.Errorf("serve: %w", err)
}

// tokenOnReadOnly refuses a store that cannot be written (ro is why) and
// holds no token: none can be made there.
func tokenOnReadOnly(s *snapshot.Store, ro error) error {
	if ro == nil {
		return nil
	}
	if _, err := os.Stat(s.Path(web.TokenFile)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("serve: the store %s is read-only (%v) and has no %s to authenticate clients with; "+
			"start serve once where the store is writable to make one", s.Dir(), ro, web.TokenFile)
	}
	return nil
}

// newGuard is serve's connection guard, from the serve.* keys.
func (a *app) newGuard(log *slog.Logger) *connguard.Guard {
	sc := a.cfg.Serve
	return connguard.New(connguard.Options{MaxConns: sc.MaxConns, MaxStreams: sc.MaxStreams,
		HeaderTimeout: sc.HeaderTimeout, ReadTimeout: sc.ReadTimeout, WriteTimeout: sc.WriteTimeout,
		IdleTimeout: sc.IdleTimeout, Log: log})
}

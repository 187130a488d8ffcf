// Package ivrservice wires the voice verification service together: SQL
// store, Redis state, the outbox worker, the prompts, the HTTP server
// (health, metrics, prompt audio) and the Stasis application over ARI.
// cmd/ivr is a thin main around it, and end-to-end tests run it in-process
// against a private Asterisk.
package ivrservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/command"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/learning"
	"github.com/voipshield/tfps/notify"
	"github.com/voipshield/tfps/prompts"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

// Main is one running IVR.
type Main struct {
	Config   *config.Config
	Logger   *slog.Logger
	Registry *prometheus.Registry

	Store *store.Store
	State *state.State
	App   *ivr.App // the Stasis application, once ARI answered

	// Now is the clock of the flows and the outbox; nil: time.Now. Set it
	// before Start.
	Now func() time.Time

	mux     *http.ServeMux
	httpLn  net.Listener
	watch   *ariWatch
	client  ari.Client
	closers command.Closers // run in reverse order by Close

	stopApp context.CancelFunc // ends App.Run: no new calls, drain
	appDone chan struct{}      // closed when App.Run returned
	appErr  error
}

// New returns an IVR for cfg; Start brings it up.
func New(cfg *config.Config, logger *slog.Logger) *Main {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Main{Config: cfg, Logger: logger, Registry: reg, mux: http.NewServeMux()}
}

func (m *Main) clock() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Start opens the store (migrating it), connects Redis, starts the outbox
// worker and the HTTP server, waits for Asterisk's ARI (as long as ctx
// allows) and starts taking calls. On error, whatever was opened is closed
// again.
func (m *Main) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = m.Close(context.Background())
		}
	}()
	cfg, log := m.Config, m.Logger
	m.Store, m.State, err = command.OpenData(ctx, cfg, m.clock, log, &m.closers)
	if err != nil {
		return err
	}

	// The IVR delivers the outbox too (leased rows: safe beside gateways),
	// so a verification box without a gateway on its database still mails.
	mailer, err := notify.FromConfig(cfg, m.Store, m.Registry, log, m.clock)
	if err != nil {
		return err
	}
	stopMail := mailer.Start()
	m.closers.Push(func(ctx context.Context) error {
		if err := stopMail(ctx); err != nil {
			return fmt.Errorf("stop notifications: %w", err)
		}
		return nil
	})

	// HTTP first: with TFPS_IVR_LISTEN=...:0 the media URLs need its port.
	if cfg.IVR.Listen != "" {
		ln, err := net.Listen("tcp", cfg.IVR.Listen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", cfg.IVR.Listen, err)
		}
		m.httpLn = ln
	}
	ttsDir := cfg.IVR.TTSCacheDir
	if ttsDir == "" {
		ttsDir = filepath.Join(cfg.DataDir, "tts-cache")
	}
	source, closeTTS, err := promptSource(ctx, cfg, m.HTTPAddr(), ttsDir, log)
	if err != nil {
		if m.httpLn != nil {
			m.httpLn.Close()
		}
		return err
	}
	m.closers.Push(func(context.Context) error { closeTTS(); return nil })

	m.watch = newARIWatch(m.Registry, log)
	if m.httpLn != nil {
		media := ivr.MediaHandler(cfg.IVR.SoundsDir, ttsDir)
		m.mux.Handle("GET /sounds/", media)
		m.mux.Handle("GET /tts/", media)
		m.mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
		m.mux.HandleFunc("GET /healthz", m.healthz)
		m.serveHTTP()
	}

	client, err := connectARI(ctx, cfg, log, m.watch)
	if err != nil {
		return err
	}
	m.client = client
	m.closers.Push(func(context.Context) error { client.Close(); return nil })
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); m.watch.poll(watchCtx, client, cfg.ARIApp) }()
	m.closers.Push(func(context.Context) error { stopWatch(); <-watchDone; return nil })

	m.App = ivr.NewApp(client, m.flows(source), ivr.AppOptions{Name: cfg.ARIApp, Drain: cfg.IVR.DrainTimeout, Registerer: m.Registry, Logger: log})
	m.watch.onLost(m.App.Disconnected)
	runCtx, stop := context.WithCancel(context.Background())
	m.stopApp, m.appDone = stop, make(chan struct{})
	go func() {
		defer close(m.appDone)
		m.appErr = m.App.Run(runCtx)
	}()
	// Close first ends the app (no new calls, live ones drain), then the
	// rest closes in reverse order of start.
	m.closers.Push(func(context.Context) error {
		m.stopApp()
		<-m.appDone
		log.Info("ivr stopped")
		return nil
	})
	log.Info("ivr started", "ari", config.MaskPasswords(cfg.ARIURL), "app", cfg.ARIApp, "http", m.HTTPAddr(), "method", cfg.VerificationMethod)
	return nil
}

// flows are the voice flows on this IVR's store and Redis.
func (m *Main) flows(source prompts.Source) *ivr.Flows {
	db, cfg := m.Store, m.Config
	return &ivr.Flows{
		Tickets: m.State, Failures: m.State, Accounts: db,
		Recorder: db,
		Prompts:  source,
		Opts:     ivr.OptionsFrom(cfg),
		Now:      m.clock,
		Log:      m.Logger,
		// The change menu reads the trained limits the API and tfpsctl
		// show: one code path from the daily rows to the suggestion.
		Suggest: func(ctx context.Context, a *tfps.Account, now time.Time) (*learning.Limits, error) {
			h, err := api.AccountHistory(ctx, db, cfg, a, now)
			if err != nil || h.Trained == nil {
				return nil, err
			}
			return h.Trained.Suggested, nil
		},
	}
}

func (m *Main) serveHTTP() {
	srv := &http.Server{Handler: m.mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 60 * time.Second,
		ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)}
	shutdown := command.Serve(srv, m.httpLn, m.Logger)
	m.closers.Push(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return shutdown(ctx)
	})
}

// HTTPAddr is the address the HTTP listener got (useful with port 0); ""
// without TFPS_IVR_LISTEN.
func (m *Main) HTTPAddr() string {
	if m.httpLn == nil {
		return ""
	}
	return m.httpLn.Addr().String()
}

// Done is closed when the Stasis application stopped by itself (the ARI
// client's event bus closed); Run then shuts down.
func (m *Main) Done() <-chan struct{} {
	if m.appDone == nil {
		return nil
	}
	return m.appDone
}

// Err is why the Stasis application stopped, once Done is closed.
func (m *Main) Err() error {
	select {
	case <-m.Done():
		return m.appErr
	default:
		return nil
	}
}

// Close takes no new calls, waits for live ones (TFPS_IVR_DRAIN_TIMEOUT),
// then closes everything in reverse order of start. ctx bounds the
// shutdown of the HTTP server and the outbox worker; the drain has its own
// limit.
func (m *Main) Close(ctx context.Context) error { return m.closers.Close(ctx) }

// healthz answers without authentication: ok or failing per dependency,
// the error texts go to the log.
func (m *Main) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	h := command.NewHealth("redis", "sql", "ari")
	h.Check("redis", m.State.Ping(ctx), m.Logger)
	h.Check("sql", m.Store.Ping(ctx), m.Logger)
	if !m.watch.isUp() {
		h.Fail("ari")
	}
	h.Write(w)
}

// Run is the IVR service of cmd/ivr: it starts, takes calls until ctx ends
// (SIGINT/SIGTERM), then takes no new calls, waits for live ones and
// closes everything. Stopped before Asterisk came up, it returns nil.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	LogARIClient(logger)
	m := New(cfg, logger)
	if err := m.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	select {
	case <-ctx.Done():
	case <-m.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	closeErr := m.Close(sctx)
	return errors.Join(m.Err(), closeErr)
}

// Package gateway wires the decision service together: configuration, SQL
// store, Redis state, and the listeners that translate requests into engine
// decisions. cmd/gateway is a thin main around it, and end-to-end tests run
// it in-process on free ports.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/voipshield/tfps/command"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/console"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/engine/engineconfig"
	"github.com/voipshield/tfps/journal"
	"github.com/voipshield/tfps/notify"
	"github.com/voipshield/tfps/reputation/apiban"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

// Main is one running gateway.
type Main struct {
	Config   *config.Config
	Logger   *slog.Logger
	Registry *prometheus.Registry

	Store  *store.Store
	State  *state.State
	Engine *engine.Engine // decides calls for every listener (HTTP, SIP)
	// Notifier delivers the outbox (mail, webhook); notify.go.
	Notifier *notify.Worker

	// Set before Start to replace the defaults (tests, embedding programs).
	Now        func() time.Time  // time of each HTTP check; nil: time.Now
	Reputation engine.Reputation // nil: AbuseIPDB and APIBAN as configured, else the offline IP-country table
	PurgeEvery time.Duration     // decision-log retention rounds; 0: a minute after start, then hourly
	LearnEvery time.Duration     // learning rounds (apply at local midnight, digests); 0: every 5 minutes

	apiban     *apiban.List // nil unless TFPS_APIBAN_KEY is set
	httpServer *http.Server
	httpLn     net.Listener
	pprofLn    net.Listener
	mux        *http.ServeMux
	closers    command.Closers // run in reverse order by Close
	sipUDP     string          // SIP front addresses (sip.go)
	sipTCP     string
	sipMonUDP  string // monitor listener addresses (TFPS_SIP_MONITOR_LISTEN), sip.go
	sipMonTCP  string
	feed       *console.Feed // decisions for the console's live view (ui.go)
}

// New returns a gateway for cfg; Start brings it up.
func New(cfg *config.Config, logger *slog.Logger) *Main {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Main{Config: cfg, Logger: logger, Registry: reg, mux: http.NewServeMux()}
}

// Start opens the store (migrating it), connects Redis and starts the
// listeners. On error, whatever was opened is closed again.
func (m *Main) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close(context.Background())
		}
	}()
	if err := m.checkAPIAccess(); err != nil {
		return err
	}
	if err := m.checkPprofAccess(); err != nil {
		return err
	}
	// One clock for everything the gateway stamps: decisions, account
	// changes and outbox rows, so the outbox worker sees rows as due when
	// the engine wrote them.
	m.Store, m.State, err = command.OpenData(ctx, m.Config, m.clock, m.Logger, &m.closers)
	if err != nil {
		return err
	}
	if err := m.startNotify(); err != nil {
		return err
	}
	if err := m.startEngine(ctx); err != nil {
		return err
	}
	if err := m.startRetention(); err != nil {
		return err
	}
	if err := m.startLearning(); err != nil {
		return err
	}
	if err := m.startSIP(ctx); err != nil {
		return err
	}

	if err := m.startAPI(); err != nil {
		return err
	}
	if err := m.startUI(); err != nil {
		return err
	}
	m.mux.HandleFunc("GET /healthz", m.healthz)
	m.mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	if err := m.startHTTP(); err != nil {
		return err
	}
	if err := m.startPprof(); err != nil {
		return err
	}
	m.Logger.Info("gateway started", "http", m.HTTPAddr(), "database", m.Store.Dialect())
	return nil
}

// startEngine creates the decision engine on the store and Redis. It is
// closed after the listeners stop (so no decision is still being made) and
// before the store closes (so its queued decision-log rows are written).
func (m *Main) startEngine(ctx context.Context) error {
	opts := engineconfig.Options(m.Config)
	opts.Registerer, opts.Logger = m.Registry, m.Logger
	if m.Reputation == nil {
		rep, err := m.startReputation()
		if err != nil {
			return err
		}
		m.Reputation = rep
	}
	var jnl engine.LogJournal
	if mb := m.Config.Engine.JournalMB; mb > 0 {
		j, err := journal.Open(m.Config.DataDir, int64(mb)<<20)
		if err != nil {
			return fmt.Errorf("start engine: %w", err)
		}
		m.closers.Push(func(context.Context) error { return j.Close() })
		jnl = j
	}
	eng, err := engine.New(ctx, engine.Deps{
		Accounts:   m.Store,
		Lists:      m.Store,
		Changes:    m.Store,
		Log:        m.decisionLog(),
		Alerts:     m.Store, // burst, concurrent-calls and quota mails go to the outbox
		Ranges:     m.Store,
		Domains:    m.Store,
		Rules:      m.Store, // fraud rules (R20, V11)
		Counters:   state.NewDecideCounters(m.State),
		Calls:      state.NewDecideCounters(m.State), // call ends for the fraud rules
		Reputation: m.Reputation,
		Journal:    jnl,
	}, opts)
	if err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	m.Engine = eng
	m.closers.Push(m.Engine.Close)
	return nil
}

func (m *Main) startHTTP() error {
	ln, err := net.Listen("tcp", m.Config.HTTPListen)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", m.Config.HTTPListen, err)
	}
	m.httpLn = ln
	m.httpServer = &http.Server{
		Handler:           m.mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	// HTTP stops accepting first and finishes in-flight requests before the
	// store and Redis close.
	m.closers.Push(command.Serve(m.httpServer, ln, m.Logger))
	return nil
}

// Handle registers an HTTP handler before Start (API routes, admin pages).
func (m *Main) Handle(pattern string, h http.Handler) { m.mux.Handle(pattern, h) }

// HTTPAddr is the address the HTTP listener got (useful with port 0).
func (m *Main) HTTPAddr() string {
	if m.httpLn == nil {
		return ""
	}
	return m.httpLn.Addr().String()
}

// Close shuts down in reverse order of start: listeners stop accepting and
// finish in-flight work, queued writes are flushed, then connections close.
func (m *Main) Close(ctx context.Context) error { return m.closers.Close(ctx) }

// healthz answers without authentication: ok or failing per dependency, the
// error texts go to the log.
func (m *Main) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	h := command.NewHealth("redis", "sql")
	h.Check("redis", m.State.Ping(ctx), m.Logger)
	h.Check("sql", m.Store.Ping(ctx), m.Logger)
	h.Write(w)
}

// Run starts the gateway, waits for ctx to end (SIGINT/SIGTERM), then shuts
// down gracefully within 30 seconds.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	m := New(cfg, logger)
	if err := m.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Close(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

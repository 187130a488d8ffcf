package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/inconshreveable/log15"
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
	"github.com/voipshield/tfps/tts"
)

// run is the IVR service: SQL store, Redis state, prompts, the HTTP server
// (health, metrics, prompt audio) and the Stasis app over ARI. On SIGTERM it
// takes no new calls, waits for live ones (TFPS_IVR_DRAIN_TIMEOUT), then
// closes everything.
func run(ctx context.Context, env *command.Env) error {
	cfg, log := env.Config, env.Logger
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if applied, err := db.Migrate(ctx); err != nil {
		return err
	} else if len(applied) > 0 {
		log.Info("database migrated", "versions", applied, "dialect", db.Dialect())
	}
	st, err := state.Open(ctx, cfg.RedisURL, state.Options{Prefix: cfg.RedisPrefix, Timeout: cfg.RedisTimeout, Cluster: cfg.RedisCluster})
	if err != nil {
		return err
	}
	defer st.Close()

	// The IVR delivers the outbox too (leased rows: safe beside gateways),
	// so a verification box without a gateway on its database still mails.
	mailer, err := notify.FromConfig(cfg, db, reg, log, time.Now)
	if err != nil {
		return err
	}
	stopMail := mailer.Start()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := stopMail(sctx); err != nil {
			log.Warn("stop notifications", "err", err)
		}
	}()

	// HTTP first: with TFPS_IVR_LISTEN=...:0 the media URLs need its port.
	ttsDir := cfg.IVR.TTSCacheDir
	if ttsDir == "" {
		ttsDir = filepath.Join(cfg.DataDir, "tts-cache")
	}
	srv := &httpServer{log: log}
	if cfg.IVR.Listen != "" {
		if err := srv.listen(cfg.IVR.Listen); err != nil {
			return err
		}
	}
	source, closeTTS, err := promptSource(ctx, cfg, srv.addr(), ttsDir, log)
	if err != nil {
		return err
	}
	defer closeTTS()

	ariState := newARIWatch(reg)
	flows := &ivr.Flows{
		Tickets: st, Failures: st, Accounts: db,
		Recorder: db,
		Prompts:  source,
		Opts:     flowOptions(cfg),
		Now:      time.Now,
		Log:      log,
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

	if cfg.IVR.Listen != "" {
		mux := http.NewServeMux()
		media := ivr.MediaHandler(cfg.IVR.SoundsDir, ttsDir)
		mux.Handle("GET /sounds/", media)
		mux.Handle("GET /tts/", media)
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mux.HandleFunc("GET /healthz", healthz(st, db, ariState, log))
		srv.serve(mux)
		defer srv.shutdown()
	}

	client, err := connectARI(ctx, cfg, log, ariState)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before Asterisk came up
		}
		return err
	}
	defer client.Close()
	watchCtx, stopWatch := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ariState.watch(watchCtx, client, cfg.ARIApp, log) }()
	defer func() { stopWatch(); wg.Wait() }()

	app := ivr.NewApp(client, flows, ivr.AppOptions{Name: cfg.ARIApp, Drain: cfg.IVR.DrainTimeout, Registerer: reg, Logger: log})
	ariState.onDown(app.Disconnected)
	log.Info("ivr started", "ari", config.MaskPasswords(cfg.ARIURL), "app", cfg.ARIApp, "http", srv.addr(), "method", cfg.VerificationMethod)
	err = app.Run(ctx)
	log.Info("ivr stopped")
	return err
}

func flowOptions(cfg *config.Config) ivr.Options { return ivr.OptionsFrom(cfg) }

// promptSource picks how prompts reach Asterisk: Google TTS (cached, served
// under /tts/) when credentials or an endpoint are set, with the
// pre-rendered prompts as fallback; otherwise the pre-rendered prompts from
// TFPS_IVR_MEDIA_BASE (a folder on the Asterisk box, or this server's
// /sounds/).
func promptSource(ctx context.Context, cfg *config.Config, httpAddr, ttsDir string, log *slog.Logger) (prompts.Source, func(), error) {
	base := cfg.IVR.MediaBase
	if base == "" {
		if httpAddr == "" {
			return nil, nil, errors.New("TFPS_IVR_MEDIA_BASE is empty and TFPS_IVR_LISTEN too: Asterisk has no way to reach the prompts")
		}
		base = "http://" + httpAddr + "/sounds"
	}
	if stale := prompts.Stale(cfg.IVR.SoundsDir); len(stale) > 0 {
		log.Warn("pre-rendered prompts missing or stale: run `ivr render`", "dir", cfg.IVR.SoundsDir, "count", len(stale), "first", stale[0])
	}
	rendered := prompts.Rendered{Base: base}
	if cfg.IVR.TTSCredentials == "" && cfg.IVR.TTSEndpoint == "" {
		log.Info("prompts: pre-rendered", "base", base)
		return rendered, func() {}, nil
	}
	if httpAddr == "" {
		return nil, nil, errors.New("text-to-speech audio is served over HTTP: set TFPS_IVR_LISTEN")
	}
	g, err := tts.NewGoogle(ctx, tts.GoogleOptions{CredentialsFile: cfg.IVR.TTSCredentials, Endpoint: cfg.IVR.TTSEndpoint, Voices: cfg.IVR.TTSVoices})
	if err != nil {
		return nil, nil, err
	}
	cache, err := tts.NewCache(ttsDir, g)
	if err != nil {
		g.Close()
		return nil, nil, err
	}
	ttsBase := "http://" + httpAddr + "/tts"
	if strings.HasPrefix(cfg.IVR.MediaBase, "http") {
		ttsBase = strings.TrimSuffix(strings.TrimSuffix(cfg.IVR.MediaBase, "/"), "/sounds") + "/tts"
	}
	log.Info("prompts: Google Text-to-Speech, cached", "cache", ttsDir, "base", ttsBase, "fallback", base)
	return prompts.Spoken{Cache: cache, Voices: cfg.IVR.TTSVoices, Base: ttsBase, Fallback: rendered, Log: log}, func() { g.Close() }, nil
}

// connectARI waits for ARI to answer (backoff up to 10 s, logging each
// failure once per kind), then connects the websocket client.
func connectARI(ctx context.Context, cfg *config.Config, log *slog.Logger, w *ariWatch) (ari.Client, error) {
	// The native client logs through a package-level log15 logger; send its
	// reconnect messages to ours.
	native.Logger.SetHandler(log15.FuncHandler(func(r *log15.Record) error {
		if r.Lvl <= log15.LvlWarn {
			log.Debug("ari client: "+r.Msg, "ctx", fmt.Sprint(r.Ctx...))
			// The websocket broke or cannot be opened: the client
			// retries by itself; the watch notices when ARI is back.
			w.set(false, log)
		}
		return nil
	}))
	wsURL := strings.Replace(strings.Replace(cfg.ARIURL, "https://", "wss://", 1), "http://", "ws://", 1)
	opts := &native.Options{
		Application:  cfg.ARIApp,
		URL:          cfg.ARIURL,
		WebsocketURL: strings.TrimSuffix(wsURL, "/") + "/events",
		Username:     cfg.ARIUser,
		Password:     cfg.ARIPassword,
	}
	delay := 100 * time.Millisecond
	var last string
	for {
		err := pingARI(ctx, cfg)
		if err == nil {
			break
		}
		if msg := err.Error(); msg != last {
			log.Warn("waiting for Asterisk ARI", "url", config.MaskPasswords(cfg.ARIURL), "err", err)
			last = msg
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
	c := native.New(opts)
	done := make(chan error, 1)
	go func() { done <- c.Connect() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("connect ARI websocket: %w", err)
		}
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		c.Close()
		return nil, fmt.Errorf("connect ARI websocket %s: no connection within 30 s (ARI answers HTTP; is http://localhost in allowed_origins of ari.conf?)", opts.WebsocketURL)
	}
	w.set(true, log)
	return c, nil
}

func pingARI(ctx context.Context, cfg *config.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.ARIURL, "/")+"/asterisk/ping", nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(cfg.ARIUser, cfg.ARIPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("ARI refused user %q: check TFPS_ARI_USER/TFPS_ARI_PASSWORD and ari.conf", cfg.ARIUser)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /asterisk/ping: %s", resp.Status)
	}
	return nil
}

// ariWatch tracks whether Asterisk answers, for logs, /healthz and metrics.
// The native client reconnects its websocket by itself (about once a
// second) and reports a broken websocket through its logger, which marks ARI
// down here; the watch's ping marks it up again.
type ariWatch struct {
	mu         sync.Mutex
	up         bool
	down       func() // called when ARI is lost
	gauge      prometheus.Gauge
	reconnects prometheus.Counter
	since      time.Time
}

func newARIWatch(reg prometheus.Registerer) *ariWatch {
	w := &ariWatch{
		gauge:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "tfps_ivr_ari_up", Help: "1 while Asterisk's ARI answers the IVR."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "tfps_ivr_ari_reconnects_total", Help: "Times ARI came back after an outage (Asterisk restart, network)."}),
	}
	reg.MustRegister(w.gauge, w.reconnects)
	return w
}

func (w *ariWatch) set(up bool, log *slog.Logger) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if up == w.up {
		return
	}
	if up && !w.since.IsZero() {
		w.reconnects.Inc()
		log.Info("Asterisk ARI is back", "down_for", time.Since(w.since).Round(time.Millisecond))
	}
	if !up {
		log.Warn("Asterisk ARI lost; the client reconnects")
		if w.down != nil {
			go w.down()
		}
	}
	w.up, w.since = up, time.Now()
	w.gauge.Set(map[bool]float64{true: 1, false: 0}[up])
}

func (w *ariWatch) onDown(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.down = fn
}

func (w *ariWatch) isUp() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.up
}

// watch asks Asterisk every half second whether our Stasis application is
// registered. Asking whether Asterisk answers HTTP was not enough: after an
// Asterisk restart ARI answers before the client's websocket is back, and
// until it is, Asterisk hangs up every call sent to Stasis(app). /healthz
// said ok through that gap and a test's call fell into it.
func (w *ariWatch) watch(ctx context.Context, c ari.Client, app string, log *slog.Logger) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	key := ari.NewKey(ari.ApplicationKey, app)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := c.Application().Data(key)
		w.set(err == nil, log)
	}
}

func healthz(st *state.State, db *store.Store, w *ariWatch, log *slog.Logger) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		checks := map[string]string{"redis": "ok", "sql": "ok", "ari": "ok"}
		status := "ok"
		// Unauthenticated: ok or failing only, the error texts go to the log.
		if err := st.Ping(ctx); err != nil {
			status, checks["redis"] = "unavailable", "failing"
			log.Warn("health check: redis failing", "err", err)
		}
		if err := db.Ping(ctx); err != nil {
			status, checks["sql"] = "unavailable", "failing"
			log.Warn("health check: sql failing", "err", err)
		}
		if !w.isUp() {
			status, checks["ari"] = "unavailable", "failing"
		}
		rw.Header().Set("Content-Type", "application/json")
		if status != "ok" {
			rw.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(rw).Encode(map[string]any{"status": status, "checks": checks})
	}
}

type httpServer struct {
	log *slog.Logger
	ln  net.Listener
	srv *http.Server
}

func (s *httpServer) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	s.ln = ln
	return nil
}

func (s *httpServer) addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

func (s *httpServer) serve(h http.Handler) {
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 60 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
}

func (s *httpServer) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

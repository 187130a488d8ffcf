package ivrservice

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/inconshreveable/log15"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/websocket"

	"github.com/voipshield/tfps/config"
)

// LogARIClient sends the ARI client library's own messages (websocket
// reconnects) to log at debug level. The library has one logger per
// process, so the process's main calls this once.
func LogARIClient(log *slog.Logger) {
	native.Logger.SetHandler(log15.FuncHandler(func(r *log15.Record) error {
		log.Debug("ari client: "+r.Msg, "ctx", fmt.Sprint(r.Ctx...))
		return nil
	}))
}

// connectARI waits for ARI to answer (backoff up to 10 s, logging each
// failure once per kind), then connects the websocket client. The watch
// learns of every later websocket dial: the client dials again only when
// its websocket broke.
func connectARI(ctx context.Context, cfg *config.Config, log *slog.Logger, w *ariWatch) (ari.Client, error) {
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
	wsConfig, err := websocketConfig(opts, w.dialed)
	if err != nil {
		return nil, err
	}
	c.WSConfig = wsConfig
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
	w.connected()
	return c, nil
}

// websocketConfig is the configuration the native client would build for
// opts, with a dialer that calls dialed before each connection attempt.
func websocketConfig(opts *native.Options, dialed func()) (*websocket.Config, error) {
	v := url.Values{}
	v.Set("app", opts.Application)
	origin := opts.WebsocketOrigin
	if origin == "" {
		origin = "http://localhost/"
	}
	c, err := websocket.NewConfig(opts.WebsocketURL+"?"+v.Encode(), origin)
	if err != nil {
		return nil, fmt.Errorf("ARI websocket URL %s: %w", opts.WebsocketURL, err)
	}
	c.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(opts.Username+":"+opts.Password)))
	c.Dialer = &net.Dialer{
		Timeout: 10 * time.Second,
		ControlContext: func(context.Context, string, string, syscall.RawConn) error {
			dialed()
			return nil
		},
	}
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

// failedPolls is how many polls in a row must fail before /healthz says
// ARI is failing: one slow or refused request is no outage.
const failedPolls = 2

// ariWatch tracks whether Asterisk's ARI serves the IVR, for logs,
// /healthz and metrics, and tells the app when the websocket is lost.
//
// Only a lost websocket loses calls: the events of live channels (keys,
// hang-ups, ends of prompts) travel on it. The native client redials it by
// itself (about once a second) and only after it broke, so a dial after the
// first connection is the loss. A failed poll or a warning of the client
// library changes /healthz at most; live calls go on.
type ariWatch struct {
	log        *slog.Logger
	gauge      prometheus.Gauge
	reconnects prometheus.Counter

	mu       sync.Mutex
	up       bool      // the websocket is connected
	redialed bool      // a dial after the loss: the client is reconnecting
	failures int       // polls failed in a row
	since    time.Time // when the websocket was lost
	lost     func()    // called when the websocket is lost
}

func newARIWatch(reg prometheus.Registerer, log *slog.Logger) *ariWatch {
	w := &ariWatch{
		log:        log,
		gauge:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "tfps_ivr_ari_up", Help: "1 while Asterisk's ARI answers the IVR."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "tfps_ivr_ari_reconnects_total", Help: "Times ARI came back after an outage (Asterisk restart, network)."}),
	}
	reg.MustRegister(w.gauge, w.reconnects)
	return w
}

func (w *ariWatch) onLost(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lost = fn
}

// connected marks the first connection of the websocket.
func (w *ariWatch) connected() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.up = true
	w.gauge.Set(1)
}

// dialed is called before every websocket connection attempt.
func (w *ariWatch) dialed() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.up {
		// Connecting for the first time, or reconnecting already.
		if !w.since.IsZero() {
			w.redialed = true
		}
		return
	}
	w.up, w.redialed, w.since = false, true, time.Now()
	w.gauge.Set(0)
	w.log.Warn("Asterisk ARI websocket lost; the client reconnects")
	if w.lost != nil {
		go w.lost()
	}
}

// polled records the outcome of one poll of the application.
func (w *ariWatch) polled(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.failures++
		if w.failures == failedPolls {
			w.log.Warn("Asterisk ARI does not answer", "err", err)
		}
		return
	}
	if w.failures >= failedPolls && w.up {
		w.log.Info("Asterisk ARI answers again")
	}
	w.failures = 0
	if !w.up && w.redialed {
		// The client dialled again and Asterisk knows the application:
		// the new websocket is up.
		w.up, w.redialed = true, false
		w.reconnects.Inc()
		w.gauge.Set(1)
		w.log.Info("Asterisk ARI is back", "down_for", time.Since(w.since).Round(time.Millisecond))
	}
}

func (w *ariWatch) isUp() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.up && w.failures < failedPolls
}

// poll asks Asterisk every half second whether our Stasis application is
// registered. Asking whether Asterisk answers HTTP is not enough: after an
// Asterisk restart ARI answers before the client's websocket is back, and
// until it is, Asterisk hangs up every call sent to Stasis(app).
func (w *ariWatch) poll(ctx context.Context, c ari.Client, app string) {
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
		w.polled(err)
	}
}

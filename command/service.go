package command

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

// Closers is the shutdown of a service's Main: every start step that opened
// something pushes how to close it, and Close runs the steps in reverse order
// of start, so a listener stops accepting and finishes in-flight work before
// the stores it writes to close.
type Closers struct{ fns []func(context.Context) error }

// Push adds fn to run on Close, before everything pushed earlier.
func (c *Closers) Push(fn func(context.Context) error) { c.fns = append(c.fns, fn) }

// Close runs every step in reverse order of Push, each with ctx, and returns
// all their errors joined. It runs each step once: a second Close does nothing.
func (c *Closers) Close(ctx context.Context) error {
	var errs []error
	for i := len(c.fns) - 1; i >= 0; i-- {
		if err := c.fns[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	c.fns = nil
	return errors.Join(errs...)
}

// Serve serves srv on ln in the background; a failure other than the
// shutdown goes to logger. It returns the closing step: srv accepts no new
// connections and finishes in-flight requests within ctx.
func Serve(srv *http.Server, ln net.Listener, logger *slog.Logger) func(context.Context) error {
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", "err", err)
		}
	}()
	return srv.Shutdown
}

// Health is the answer of a service's /healthz. It is served without
// authentication, so it says only ok or failing per dependency: error texts
// name hosts, users and database names, and a prober has no use for them.
type Health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// NewHealth is a healthy answer over the named dependencies.
func NewHealth(deps ...string) *Health {
	h := &Health{Status: "ok", Checks: make(map[string]string, len(deps))}
	for _, d := range deps {
		h.Checks[d] = "ok"
	}
	return h
}

// Fail marks dep failing and the service unavailable.
func (h *Health) Fail(dep string) { h.Status, h.Checks[dep] = "unavailable", "failing" }

// Check marks dep failing when err (its ping's answer) is not nil; the error
// goes to logger, never into the answer.
func (h *Health) Check(dep string, err error, logger *slog.Logger) {
	if err != nil {
		h.Fail(dep)
		logger.Warn("health check: "+dep+" failing", "err", err)
	}
}

// Write answers with h: 200 when every dependency is ok, else 503.
func (h *Health) Write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	if h.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(h)
}

// OpenData opens a service's data for cfg: the store, migrated and stamping
// with now, and Redis. It pushes how to close each onto closers as it opens
// it, so a failure half way leaves them for the caller's Close.
func OpenData(ctx context.Context, cfg *config.Config, now func() time.Time, logger *slog.Logger, closers *Closers) (*store.Store, *state.State, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	closers.Push(func(context.Context) error { return db.Close() })
	db.Now = now
	applied, err := db.Migrate(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(applied) > 0 {
		logger.Info("database migrated", "versions", applied, "dialect", db.Dialect())
	}
	// A decision's counting script may take the decision's own time: a
	// stall shorter than that makes calls late, not refused.
	st, err := state.Open(ctx, cfg.RedisURL, state.Options{Prefix: cfg.RedisPrefix, Timeout: cfg.RedisTimeout, DecideTimeout: cfg.SIP.DecideTimeout, Cluster: cfg.RedisCluster})
	if err != nil {
		return nil, nil, err
	}
	closers.Push(func(context.Context) error { return st.Close() })
	return db, st, nil
}

package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
)

// Outbox is the durable queue the worker delivers from; *store.Store
// implements it.
type Outbox interface {
	ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]tfps.OutboxEntry, error)
	ThrottleOutbox(ctx context.Context, e *tfps.OutboxEntry, owner string, now time.Time, hold time.Duration) (deferUntil time.Time, summary []tfps.Notification, err error)
	CompleteOutbox(ctx context.Context, e *tfps.OutboxEntry, owner string, now time.Time, interval time.Duration) error
	RetryOutbox(ctx context.Context, e *tfps.OutboxEntry, owner string, next time.Time) error
	FailOutbox(ctx context.Context, e *tfps.OutboxEntry, owner string, now time.Time) error
	ReleaseOutbox(ctx context.Context, id, owner string) error
	// RenewOutbox extends a held lease; an error wrapping store's
	// ErrLeaseLost (any error) means the row is no longer ours.
	RenewOutbox(ctx context.Context, id, owner string, until time.Time) error
}

// Channel delivers one notification somewhere (mail, webhook). The error says
// whether a retry helps (see Retryable); a *RejectedError means delivered,
// with some recipients refused for good.
type Channel interface {
	Name() string
	Deliver(ctx context.Context, n *tfps.Notification, summary []tfps.Notification) error
}

// Default worker settings.
const (
	DefaultLease         = 2 * time.Minute
	DefaultPollInterval  = 2 * time.Second
	DefaultRetryMin      = 30 * time.Second
	DefaultRetryMax      = 30 * time.Minute
	DefaultMaxAge        = 72 * time.Hour
	DefaultAlertInterval = 25 * time.Minute
	DefaultBatch         = 20
	DefaultRetention     = 30 * 24 * time.Hour
	housekeepingEvery    = time.Minute
)

// Housekeeper is what the worker uses, when the outbox offers it, to export
// the backlog and purge old rows; *store.Store implements it.
type Housekeeper interface {
	OutboxBacklog(ctx context.Context) (pending int, oldest time.Time, err error)
	PurgeOutbox(ctx context.Context, before time.Time) (int64, error)
}

// WorkerConfig tunes the delivery worker; zero fields take the defaults.
type WorkerConfig struct {
	Lease         time.Duration // how long a claimed row is ours; a send must end well within it
	PollInterval  time.Duration
	RetryMin      time.Duration // first retry delay, doubled per failed try
	RetryMax      time.Duration
	MaxAge        time.Duration // give up a row still failing this long after it was queued
	AlertInterval time.Duration // one threshold alert per account and kind per interval; <0 disables
	Batch         int
	// Retention is how long delivered and merged rows stay in the outbox
	// (failed rows stay until requeued or removed); default 30 days.
	Retention  time.Duration
	Owner      string           // lease owner name; default random
	Now        func() time.Time // default time.Now
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics not registered
}

// Worker delivers the outbox: claim due rows, apply the rate limit, deliver
// through every channel, record the outcome. Several workers (in one process
// or on several machines sharing PostgreSQL) may run at once: leases keep
// each row with one of them.
type Worker struct {
	outbox   Outbox
	channels []Channel
	cfg      WorkerConfig
	log      *slog.Logger
	wake     chan struct{}
	metrics  *metrics
}

// NewWorker returns a worker delivering outbox rows through channels. With no
// channel it claims nothing, so mail stays queued until one is configured.
func NewWorker(outbox Outbox, channels []Channel, cfg WorkerConfig) (*Worker, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Lease, DefaultLease)
	def(&cfg.PollInterval, DefaultPollInterval)
	def(&cfg.RetryMin, DefaultRetryMin)
	def(&cfg.RetryMax, DefaultRetryMax)
	def(&cfg.MaxAge, DefaultMaxAge)
	def(&cfg.AlertInterval, DefaultAlertInterval)
	if cfg.AlertInterval < 0 {
		cfg.AlertInterval = 0
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = cfg.RetryMin
	}
	def(&cfg.Retention, DefaultRetention)
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Owner == "" {
		b := make([]byte, 6)
		rand.Read(b)
		cfg.Owner = "worker-" + hex.EncodeToString(b)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Worker{outbox: outbox, channels: channels, cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), metrics: m}, nil
}

// Wake makes a running worker look at the outbox now (call it after
// enqueueing in the same process); it never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Database errors are logged and retried on the
// next poll; Run returns only ctx's error.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.PollInterval)
	defer t.Stop()
	var lastHousekeeping time.Time
	for {
		if now := w.cfg.Now(); now.Sub(lastHousekeeping) >= housekeepingEvery {
			lastHousekeeping = now
			w.housekeep(ctx, now)
		}
		for {
			n, err := w.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				w.log.Error("deliver outbox", "err", err)
			}
			if n < w.cfg.Batch || err != nil || ctx.Err() != nil {
				break // a full batch means more may be due
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-w.wake:
		}
	}
}

// housekeep exports the backlog and purges delivered rows past retention.
func (w *Worker) housekeep(ctx context.Context, now time.Time) {
	hk, ok := w.outbox.(Housekeeper)
	if !ok {
		return
	}
	pending, oldest, err := hk.OutboxBacklog(ctx)
	if err != nil {
		w.log.Warn("read outbox backlog", "err", err)
		return
	}
	w.metrics.pending.Set(float64(pending))
	age := 0.0
	if !oldest.IsZero() {
		age = now.Sub(oldest).Seconds()
	}
	w.metrics.oldest.Set(age)
	if n, err := hk.PurgeOutbox(ctx, now.Add(-w.cfg.Retention)); err != nil {
		w.log.Warn("purge outbox", "err", err)
	} else if n > 0 {
		w.log.Info("purged delivered notifications", "rows", n, "older_than", w.cfg.Retention)
	}
}

// RunOnce claims due rows one at a time, up to Batch, and handles each; it
// returns how many rows it claimed. Each row is leased when its turn comes,
// not with the batch, and the lease is renewed while it is being sent: a
// slow relay never lets a row's lease run out while this worker still
// holds it, so another worker never sends it again.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	if len(w.channels) == 0 {
		return 0, nil // nothing configured: mail stays queued
	}
	var errs []error
	n := 0
	for n < w.cfg.Batch && ctx.Err() == nil {
		entries, err := w.outbox.ClaimOutbox(ctx, w.cfg.Owner, w.cfg.Now(), w.cfg.Lease, 1)
		if err != nil {
			errs = append(errs, fmt.Errorf("claim outbox: %w", err))
			break
		}
		if len(entries) == 0 {
			break
		}
		n++
		// A row already being delivered finishes even when the worker is
		// told to stop: cutting an SMTP session after DATA would send the
		// mail again later. Every SMTP step has its own timeout.
		if err := w.handle(context.WithoutCancel(ctx), &entries[0]); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// holdLease renews e's lease every third of it until the returned stop is
// called; lost is cancelled when the lease can not be renewed (another
// worker has the row), so the send stops as early as it can.
func (w *Worker) holdLease(ctx context.Context, e *tfps.OutboxEntry, lost context.CancelFunc) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(w.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := w.outbox.RenewOutbox(ctx, e.Notification.ID, w.cfg.Owner, w.cfg.Now().Add(w.cfg.Lease)); err != nil {
					w.log.Error("outbox lease not renewed: stopping the send", "notification", e.Notification.ID, "err", err)
					lost()
					return
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

func (w *Worker) handle(ctx context.Context, e *tfps.OutboxEntry) error {
	n := &e.Notification
	log := w.log.With("notification", n.ID, "kind", n.Kind, "account", n.Account())
	now := w.cfg.Now()
	var summary []tfps.Notification
	if w.cfg.AlertInterval > 0 {
		until, s, err := w.outbox.ThrottleOutbox(ctx, e, w.cfg.Owner, now, w.cfg.Lease)
		if err != nil {
			return fmt.Errorf("throttle %s: %w", n.ID, err)
		}
		if !until.IsZero() {
			w.metrics.deliveries.WithLabelValues("all", "deferred").Inc()
			log.Debug("threshold alert held back by the rate limit", "until", until)
			return nil
		}
		summary = s
	}

	// The lease is renewed while the send goes on; should it be lost
	// anyway, the send is cancelled. Lease/2 still bounds one channel's
	// try, so a hung relay does not hold the row for ever.
	sendCtx, cancel := context.WithTimeout(ctx, w.cfg.Lease/2)
	defer cancel()
	stopLease := w.holdLease(ctx, e, cancel)
	var retryErrs, finalErrs []string
	for _, ch := range w.channels {
		if slices.Contains(e.Delivered, ch.Name()) || slices.Contains(e.Delivered, ch.Name()+":failed") {
			continue
		}
		start := time.Now()
		err := ch.Deliver(sendCtx, n, summary)
		w.metrics.duration.WithLabelValues(ch.Name()).Observe(time.Since(start).Seconds())
		var rejected *RejectedError
		switch {
		case err == nil:
			e.Delivered = append(e.Delivered, ch.Name())
			w.metrics.deliveries.WithLabelValues(ch.Name(), "sent").Inc()
		case errors.As(err, &rejected):
			e.Delivered = append(e.Delivered, ch.Name())
			finalErrs = append(finalErrs, ch.Name()+": "+err.Error())
			w.metrics.deliveries.WithLabelValues(ch.Name(), "sent").Inc()
			log.Warn("delivered, but some recipients refused it", "channel", ch.Name(), "err", err)
		case Retryable(err):
			retryErrs = append(retryErrs, ch.Name()+": "+err.Error())
			w.metrics.deliveries.WithLabelValues(ch.Name(), "retry").Inc()
		default:
			e.Delivered = append(e.Delivered, ch.Name()+":failed")
			finalErrs = append(finalErrs, ch.Name()+": "+err.Error())
			w.metrics.deliveries.WithLabelValues(ch.Name(), "failed").Inc()
			log.Error("delivery failed for good", "channel", ch.Name(), "err", err)
		}
	}
	stopLease()
	e.LastError = strings.Join(append(retryErrs, finalErrs...), "; ")
	now = w.cfg.Now()
	recordCtx := context.WithoutCancel(ctx) // the outcome must be written even on shutdown
	var err error
	switch {
	case len(retryErrs) > 0 && now.Sub(e.CreatedAt) < w.cfg.MaxAge:
		next := now.Add(w.backoff(e.Attempts))
		log.Warn("delivery failed, will retry", "attempt", e.Attempts+1, "next", next, "err", e.LastError)
		err = w.outbox.RetryOutbox(recordCtx, e, w.cfg.Owner, next)
	case len(retryErrs) > 0:
		e.LastError = fmt.Sprintf("gave up after %d tries over %s: %s", e.Attempts+1, w.cfg.MaxAge, e.LastError)
		log.Error("delivery given up", "err", e.LastError)
		w.metrics.deliveries.WithLabelValues("all", "expired").Inc()
		err = w.outbox.FailOutbox(recordCtx, e, w.cfg.Owner, now)
	case !delivered(e.Delivered):
		err = w.outbox.FailOutbox(recordCtx, e, w.cfg.Owner, now)
	default:
		if len(summary) > 0 {
			log.Info("notification delivered", "summarised", len(summary))
		} else {
			log.Info("notification delivered")
		}
		err = w.outbox.CompleteOutbox(recordCtx, e, w.cfg.Owner, now, w.cfg.AlertInterval)
	}
	if err != nil {
		return fmt.Errorf("record outcome of %s: %w", n.ID, err)
	}
	return nil
}

// delivered reports whether at least one channel took the notification.
func delivered(done []string) bool {
	for _, d := range done {
		if !strings.HasSuffix(d, ":failed") {
			return true
		}
	}
	return false
}

// backoff is RetryMin doubled per failed try, capped at RetryMax.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.cfg.RetryMin
	for range attempts {
		d *= 2
		if d >= w.cfg.RetryMax {
			return w.cfg.RetryMax
		}
	}
	return d
}

type metrics struct {
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	pending    prometheus.Gauge
	oldest     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tfps", Subsystem: "notify", Name: "deliveries_total",
			Help: "Outbox delivery outcomes by channel (email, webhook; all for deferred/expired) and result (sent, retry, failed, deferred, expired).",
		}, []string{"channel", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "tfps", Subsystem: "notify", Name: "delivery_seconds",
			Help:    "Time of one delivery attempt by channel.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"channel"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "tfps", Subsystem: "notify", Name: "outbox_pending",
			Help: "Notifications waiting in the outbox (refreshed every minute).",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "tfps", Subsystem: "notify", Name: "outbox_oldest_pending_seconds",
			Help: "Age of the oldest notification waiting in the outbox; grows while the relay is down.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.deliveries, m.duration, m.pending, m.oldest} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register notify metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Start runs the worker in the background. The returned stop ends it and
// waits until the row being delivered is done (bounded by ctx); call it
// before closing the outbox's database.
func (w *Worker) Start() (stop func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			w.log.Error("notification worker stopped", "err", err)
		}
	}()
	return func(sctx context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-sctx.Done():
			return fmt.Errorf("stop notification worker: %w", sctx.Err())
		}
	}
}

package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
)

// Enqueuer stores a notification durably; *store.Store implements it.
type Enqueuer interface {
	Enqueue(ctx context.Context, n *tfps.Notification) error
}

// DefaultCoalesce is the default gap under which repeated threshold alerts of
// one account and kind are counted in memory instead of written to SQL.
const DefaultCoalesce = 10 * time.Second

// Queue is the front the engine (and any code outside a transaction) calls:
// it stores the notification in the outbox and wakes the local worker. A
// threshold alert repeated for the same account and kind within Coalesce is
// not written again (the rate limit would hold it back anyway); it is counted
// in the metric tfps_notify_coalesced_total, so an attack that trips a limit
// on every call costs no SQL write per call. Code that changes data (the IVR)
// uses store.EnqueueTx in its own transaction instead.
//
// On a hot path (a call decision) use Post, which never waits for SQL: it
// hands the notification to Run's goroutine through a bounded buffer.
type Queue struct {
	outbox   Enqueuer
	worker   *Worker // optional
	now      func() time.Time
	coalesce time.Duration

	mu        sync.Mutex
	last      map[string]time.Time
	coalesced prometheus.Counter
	dropped   prometheus.Counter
	failed    prometheus.Counter
	posted    chan tfps.Notification
	log       *slog.Logger
}

// DefaultPostBuffer is how many posted notifications may wait for Run.
const DefaultPostBuffer = 1024

// QueueConfig tunes a Queue; zero fields take the defaults.
type QueueConfig struct {
	Now        func() time.Time // stamps notifications without a time
	Coalesce   time.Duration    // 0: DefaultCoalesce; negative: off
	Buffer     int              // Post buffer; 0: DefaultPostBuffer
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// NewQueue returns a Queue writing to outbox and waking worker (may be nil).
func NewQueue(outbox Enqueuer, worker *Worker, cfg QueueConfig) (*Queue, error) {
	now, coalesce := cfg.Now, cfg.Coalesce
	if now == nil {
		now = time.Now
	}
	if coalesce == 0 {
		coalesce = DefaultCoalesce
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultPostBuffer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	reg := cfg.Registerer
	q := &Queue{outbox: outbox, worker: worker, now: now, coalesce: coalesce, last: map[string]time.Time{}, log: cfg.Logger,
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tfps", Subsystem: "notify", Name: "coalesced_total",
			Help: "Threshold alerts not queued because the same account and kind was queued moments before."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tfps", Subsystem: "notify", Name: "post_dropped_total",
			Help: "Posted notifications dropped because the buffer in front of the outbox was full."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tfps", Subsystem: "notify", Name: "post_failed_total",
			Help: "Posted notifications that could not be written to the outbox."}),
		posted: make(chan tfps.Notification, cfg.Buffer),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{q.coalesced, q.dropped, q.failed} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register notify queue metrics: %w", err)
			}
		}
	}
	return q, nil
}

// Notify queues n for delivery. It returns once n is stored (or coalesced).
func (q *Queue) Notify(ctx context.Context, n tfps.Notification) error {
	if !q.admit(&n) {
		return nil
	}
	return q.store(ctx, n)
}

// Post queues n without waiting: it is coalesced in memory, then handed to
// Run through a bounded buffer; when the buffer is full it is dropped and
// counted (tfps_notify_post_dropped_total). Post never blocks a call.
func (q *Queue) Post(n tfps.Notification) {
	if !q.admit(&n) {
		return
	}
	select {
	case q.posted <- n:
	default:
		q.dropped.Inc()
	}
}

// Run writes posted notifications to the outbox until ctx ends, then writes
// what is still buffered (for at most a few seconds) and returns. Writes do
// not depend on ctx, so stopping never loses a notification already taken
// from the buffer.
func (q *Queue) Run(ctx context.Context) error {
	for {
		select {
		case n := <-q.posted:
			q.storePosted(n)
		case <-ctx.Done():
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				select {
				case n := <-q.posted:
					q.storePosted(n)
				default:
					return ctx.Err()
				}
			}
			return ctx.Err()
		}
	}
}

// admit stamps n's time and reports whether it should be stored: false for a
// threshold alert of an account and kind stored less than Coalesce ago.
func (q *Queue) admit(n *tfps.Notification) bool {
	if n.At.IsZero() {
		n.At = q.now()
	}
	key := n.RateKey()
	if key == "" || q.coalesce <= 0 {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	last, seen := q.last[key]
	if seen && n.At.Sub(last) < q.coalesce && n.At.Sub(last) >= 0 {
		q.coalesced.Inc()
		return false
	}
	q.last[key] = n.At
	if len(q.last) > 10000 { // forget old keys; a cheap bound on memory
		for k, t := range q.last {
			if n.At.Sub(t) >= q.coalesce {
				delete(q.last, k)
			}
		}
	}
	return true
}

func (q *Queue) store(ctx context.Context, n tfps.Notification) error {
	if err := q.outbox.Enqueue(ctx, &n); err != nil {
		return fmt.Errorf("queue notification %s: %w", n.Kind, err)
	}
	if q.worker != nil {
		q.worker.Wake()
	}
	return nil
}

func (q *Queue) storePosted(n tfps.Notification) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.store(ctx, n); err != nil {
		q.failed.Inc()
		q.log.Error("notification lost: outbox write failed", "kind", n.Kind, "account", n.Account(), "err", err)
	}
}

package notify

import (
	"context"
	"fmt"
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
type Queue struct {
	outbox   Enqueuer
	worker   *Worker // optional
	now      func() time.Time
	coalesce time.Duration

	mu        sync.Mutex
	last      map[string]time.Time
	coalesced prometheus.Counter
}

// NewQueue returns a Queue writing to outbox and waking worker (may be nil).
// coalesce 0 means DefaultCoalesce; negative disables coalescing.
func NewQueue(outbox Enqueuer, worker *Worker, now func() time.Time, coalesce time.Duration, reg prometheus.Registerer) (*Queue, error) {
	if now == nil {
		now = time.Now
	}
	if coalesce == 0 {
		coalesce = DefaultCoalesce
	}
	q := &Queue{outbox: outbox, worker: worker, now: now, coalesce: coalesce, last: map[string]time.Time{},
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tfps", Subsystem: "notify", Name: "coalesced_total",
			Help: "Threshold alerts not queued because the same account and kind was queued moments before."})}
	if reg != nil {
		if err := reg.Register(q.coalesced); err != nil {
			return nil, fmt.Errorf("register notify queue metrics: %w", err)
		}
	}
	return q, nil
}

// Notify queues n for delivery. It returns once n is stored (or coalesced).
func (q *Queue) Notify(ctx context.Context, n tfps.Notification) error {
	if n.At.IsZero() {
		n.At = q.now()
	}
	if key := n.RateKey(); key != "" && q.coalesce > 0 {
		q.mu.Lock()
		last, seen := q.last[key]
		if seen && n.At.Sub(last) < q.coalesce && n.At.Sub(last) >= 0 {
			q.mu.Unlock()
			q.coalesced.Inc()
			return nil
		}
		q.last[key] = n.At
		if len(q.last) > 10000 { // forget old keys; a cheap bound on memory
			for k, t := range q.last {
				if n.At.Sub(t) >= q.coalesce {
					delete(q.last, k)
				}
			}
		}
		q.mu.Unlock()
	}
	if err := q.outbox.Enqueue(ctx, &n); err != nil {
		return fmt.Errorf("queue notification %s: %w", n.Kind, err)
	}
	if q.worker != nil {
		q.worker.Wake()
	}
	return nil
}

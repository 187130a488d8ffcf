package engine

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/voipshield/tfps"
)

// Alerts receives the threshold events TFPS mailed to the admins from the
// proxy: a caller->number pair blocked (R13), concurrent calls over the
// limit (R08, R10, or V08, V09 when it verifies) and the daily quota reached (V04, V05). *store.Store
// implements it (Enqueue puts the mail in the outbox, whose worker rate
// limits and summarises per account and kind).
type Alerts interface {
	Enqueue(ctx context.Context, n *tfps.Notification) error
}

// alertEvery bounds how often one process queues the same alert (kind and
// account): a PBX redialling into its limit must not write an outbox row per
// attempt. The outbox still rate limits mails across processes.
const alertEvery = 10 * time.Second

// alerter queues alerts and hands them to Alerts from one goroutine, so a
// decision never waits for SQL. A full queue drops the alert (counted):
// decisions come first.
type alerter struct {
	dst     Alerts
	in      chan alertItem
	done    chan struct{}
	metrics *metrics

	mu   sync.Mutex
	last map[string]time.Time // kind|user@domain -> call time of the last alert queued
}

func newAlerter(dst Alerts, m *metrics) *alerter {
	return &alerter{dst: dst, in: make(chan alertItem, 1024), done: make(chan struct{}), metrics: m, last: map[string]time.Time{}}
}

// alertItem is an alert to queue, or a flush mark: flushed is closed once
// every item before it has been handled.
type alertItem struct {
	n       *tfps.Notification
	flushed chan struct{}
}

func (a *alerter) run(log interface {
	Warn(msg string, args ...any)
}) {
	defer close(a.done)
	for it := range a.in {
		if it.flushed != nil {
			close(it.flushed)
			continue
		}
		n := it.n
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := a.dst.Enqueue(ctx, n)
		cancel()
		if err != nil {
			a.metrics.depErrors.WithLabelValues("alerts").Inc()
			a.metrics.alerts.WithLabelValues("failed").Inc()
			log.Warn("queue alert", "kind", n.Kind, "user", n.User, "domain", n.Domain, "err", err)
			continue
		}
		a.metrics.alerts.WithLabelValues("queued").Inc()
	}
}

// alertFor returns the alert a decision raises, nil for none.
func alertFor(c *Call, d *Decision, email string) *tfps.Notification {
	var kind tfps.NotificationKind
	n := &tfps.Notification{}
	f := &d.Facts
	switch d.Code {
	case R13:
		kind, n.Count = tfps.NotifyBurst, int(f.ABAttempts)
	case R08, R10, V08, V09:
		kind, n.Count, n.Limit = tfps.NotifyConcurrentCallsExceeded, f.ConcurrentCalls, f.ConcurrentLimit
	case V04, V05:
		kind, n.Count, n.Limit = tfps.NotifyQuotaExceeded, int(f.DailyCount), f.DailyLimit
	default:
		return nil
	}
	n.ID = "engine-" + string(kind) + "-" + c.CallID + "-" + strconv.FormatInt(c.Time.UnixMilli(), 10)
	if len(n.ID) > 200 {
		n.ID = ""
	}
	n.Kind, n.At, n.User, n.Domain, n.Email = kind, c.Time, c.User, c.Domain, email
	n.SourceIP, n.Caller, n.Number = c.SourceIP.String(), c.Caller, c.Number
	n.SourceCountry, n.DestinationCountry, n.OffHours = f.SourceCountry, f.DestinationCountry, f.OffHours
	n.Detail = d.Reason
	return n
}

// raise queues n unless the same alert was queued within alertEvery.
func (a *alerter) raise(n *tfps.Notification) {
	key := string(n.Kind) + "|" + n.User + "@" + n.Domain
	a.mu.Lock()
	if t, ok := a.last[key]; ok && n.At.Sub(t) < alertEvery && !n.At.Before(t) {
		a.mu.Unlock()
		a.metrics.alerts.WithLabelValues("repeated").Inc()
		return
	}
	if len(a.last) > 100_000 {
		clear(a.last)
	}
	a.last[key] = n.At
	a.mu.Unlock()
	select {
	case a.in <- alertItem{n: n}:
	default:
		a.metrics.alerts.WithLabelValues("dropped").Inc()
	}
}

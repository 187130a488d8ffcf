package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Decision-log retention: rows older than TFPS_DECISION_LOG_RETENTION are
// deleted, oldest first, in batches small enough that a batch never holds
// the SQLite write lock (or PostgreSQL row locks) for long beside the
// engine's own writer.
const (
	purgeBatch = 5000
	purgeFirst = time.Minute // after start: let a restarted gateway settle first
	purgeEvery = time.Hour
)

// startRetention runs the purge loop: decision-log rows older than
// TFPS_DECISION_LOG_RETENTION (unless it is 0) and daily statistics older
// than TFPS_HISTORY_DAYS. Several gateways sharing a database may all run
// it: the deletes are idempotent.
func (m *Main) startRetention() error {
	keep := m.Config.Engine.LogRetention
	purged := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tfps_decision_log_purged_rows_total",
		Help: "Decision-log rows deleted for being older than TFPS_DECISION_LOG_RETENTION.",
	})
	if err := m.Registry.Register(purged); err != nil {
		return fmt.Errorf("start decision-log retention: %w", err)
	}
	historyDays := m.Config.Learning.HistoryDays
	first, every := purgeFirst, purgeEvery
	if m.PurgeEvery > 0 {
		first, every = m.PurgeEvery, m.PurgeEvery
	}
	m.every(first, every, func(ctx context.Context) {
		now := m.clock()
		if keep > 0 {
			purged.Add(float64(m.purgeDecisions(ctx, now.Add(-keep))))
		}
		if historyDays > 0 {
			// Local dates run up to a day ahead of or behind UTC; a
			// day more is kept rather than one too few.
			before := now.UTC().AddDate(0, 0, -historyDays-1).Format("2006-01-02")
			if _, err := m.Store.PurgeHistory(ctx, before); err != nil && ctx.Err() == nil {
				m.Logger.Warn("purge daily statistics", "before", before, "err", err)
			}
		}
	})
	return nil
}

// purgeDecisions deletes every row older than before, batch by batch, and
// returns how many went. A failure is logged and retried next round.
func (m *Main) purgeDecisions(ctx context.Context, before time.Time) int64 {
	var total int64
	for ctx.Err() == nil {
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := m.Store.PurgeDecisions(bctx, before, purgeBatch)
		cancel()
		total += n
		if err != nil {
			if ctx.Err() == nil {
				m.Logger.Warn("purge decision log", "before", before, "err", err)
			}
			break
		}
		if n < purgeBatch {
			break
		}
	}
	if total > 0 {
		m.Logger.Info("decision log purged", "rows", total, "before", before.UTC().Format(time.RFC3339))
	}
	return total
}

package console

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
)

// Feed fans decision-log rows out to the console's live views and keeps
// per-minute counts by result for the last hour.
//
// It sits between the engine's decision-log writer and the store (Wrap): the
// writer goroutine hands it each batch after the batch is written, so
// Decide never waits for it, and the live view shows exactly what the log
// holds, at most one log flush (TFPS_DECISION_LOG_FLUSH) after the call. A
// subscriber whose buffer is full misses rows (counted in Dropped) rather
// than slowing the writer.
type Feed struct {
	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	minutes [feedMinutes]minuteCount // ring indexed by unix minute % feedMinutes
}

// feedMinutes is how many minutes of counts the feed keeps.
const feedMinutes = 60

type minuteCount struct {
	minute int64 // unix minute this slot holds; older slots are stale
	counts map[string]int
}

// Subscription receives rows from a Feed until Close.
type Subscription struct {
	C       chan tfps.DecisionRecord
	f       *Feed
	dropped int
}

// NewFeed returns an empty feed.
func NewFeed() *Feed { return &Feed{subs: make(map[*Subscription]struct{})} }

// Subscribe returns a subscription with a buffer of buf rows.
func (f *Feed) Subscribe(buf int) *Subscription {
	s := &Subscription{C: make(chan tfps.DecisionRecord, buf), f: f}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

// Close stops delivery to s. C is not closed, so a reader never mistakes
// the end for a row.
func (s *Subscription) Close() {
	s.f.mu.Lock()
	delete(s.f.subs, s)
	s.f.mu.Unlock()
}

// Dropped is how many rows s missed because its buffer was full.
func (s *Subscription) Dropped() int {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	return s.dropped
}

// Publish counts rows and hands each to every subscriber without waiting.
func (f *Feed) Publish(rows []tfps.DecisionRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range rows {
		f.count(&rows[i])
		for s := range f.subs {
			select {
			case s.C <- rows[i]:
			default:
				s.dropped++
			}
		}
	}
}

func (f *Feed) count(r *tfps.DecisionRecord) {
	m := r.At.Unix() / 60
	slot := &f.minutes[m%feedMinutes]
	if slot.minute != m || slot.counts == nil {
		if slot.minute > m && slot.counts != nil {
			return // a row older than the hour the slot now holds
		}
		slot.minute, slot.counts = m, make(map[string]int, 3)
	}
	slot.counts[r.Result]++
}

// MinuteCount is the number of decisions of one minute by result.
type MinuteCount struct {
	Minute time.Time
	Counts map[string]int
}

// PerMinute returns the 60 minutes ending with now's minute, oldest first,
// with zero counts for minutes without decisions.
func (f *Feed) PerMinute(now time.Time) []MinuteCount {
	f.mu.Lock()
	defer f.mu.Unlock()
	last := now.Unix() / 60
	out := make([]MinuteCount, 0, feedMinutes)
	for m := last - feedMinutes + 1; m <= last; m++ {
		mc := MinuteCount{Minute: time.Unix(m*60, 0).UTC(), Counts: map[string]int{}}
		if slot := f.minutes[((m%feedMinutes)+feedMinutes)%feedMinutes]; slot.minute == m {
			for k, v := range slot.counts {
				mc.Counts[k] = v
			}
		}
		out = append(out, mc)
	}
	return out
}

// Wrap returns a decision log that writes to dst and publishes each batch
// written to f.
func (f *Feed) Wrap(dst engine.DecisionLog) engine.DecisionLog { return feedLog{dst: dst, f: f} }

type feedLog struct {
	dst engine.DecisionLog
	f   *Feed
}

// QuarantineDecision passes a refused row on to the wrapped log's
// quarantine (engine.DecisionQuarantine).
func (l feedLog) QuarantineDecision(ctx context.Context, row tfps.DecisionRecord, cause error, now time.Time) error {
	q, ok := l.dst.(engine.DecisionQuarantine)
	if !ok {
		return fmt.Errorf("quarantine decision %q: the decision log has no quarantine", row.CallID)
	}
	return q.QuarantineDecision(ctx, row, cause, now)
}

func (l feedLog) WriteDecisions(ctx context.Context, rows []tfps.DecisionRecord) error {
	return l.WriteDecisionsPaced(ctx, rows, nil)
}

// WriteDecisionsPaced passes the engine's pauses on to the wrapped log
// (engine.PacedDecisionLog) when it takes them, and publishes the rows
// once they are written.
func (l feedLog) WriteDecisionsPaced(ctx context.Context, rows []tfps.DecisionRecord, pause func(context.Context)) error {
	var err error
	if p, ok := l.dst.(engine.PacedDecisionLog); ok && pause != nil {
		err = p.WriteDecisionsPaced(ctx, rows, pause)
	} else {
		err = l.dst.WriteDecisions(ctx, rows)
	}
	if err != nil {
		return err
	}
	l.f.Publish(rows)
	return nil
}

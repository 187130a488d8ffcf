package engine

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/voipshield/tfps"
)

// logWriter queues decision-log rows and writes them in batches from one
// goroutine. A full queue makes Decide wait (up to its context), never drops
// silently; a failed insert is retried with backoff, a refused one split
// (see write); close writes what is left before returning.
type logWriter struct {
	dst     DecisionLog
	batch   int
	flush   time.Duration
	in      chan *tfps.DecisionRecord // pointers: a deep queue costs 8 bytes a slot until used
	done    chan struct{}
	log     *slog.Logger
	metrics *metrics
	lost    int // rows given up at close, read after done
	now     func() time.Time
	journal LogJournal // optional: the spill while the database is down
	warned  bool       // the near-full warning was logged
}

func newLogWriter(dst DecisionLog, batch int, flush time.Duration, queue int, log *slog.Logger, m *metrics) *logWriter {
	return &logWriter{dst: dst, batch: batch, flush: flush, in: make(chan *tfps.DecisionRecord, queue), done: make(chan struct{}), log: log, metrics: m, now: time.Now}
}

// run writes until in is closed and drained; stop ends retries of the last
// batches (the Close deadline).
func (w *logWriter) run(stop <-chan struct{}) {
	defer close(w.done)
	buf := make([]tfps.DecisionRecord, 0, w.batch)
	timer := time.NewTimer(w.flush)
	defer timer.Stop()
	for {
		select {
		case r, ok := <-w.in:
			if !ok {
				w.flushRows(buf, stop, true)
				return
			}
			buf = append(buf, *r)
			if len(buf) < w.batch {
				continue
			}
		case <-timer.C:
			timer.Reset(w.flush)
			if len(buf) == 0 {
				if w.journal != nil && w.journal.Pending() > 0 {
					w.drain(stop)
				}
				continue
			}
		}
		w.flushRows(buf, stop, false)
		buf = buf[:0]
	}
}

// flushRows writes a batch, through the journal when there is one: while
// the journal holds rows (the database was down), new batches go behind
// them, so the log keeps its order; a batch the database does not take for
// another reason than a refused value goes to the journal, and the writer
// moves on, so decisions never wait for SQL while the journal has room.
// Without a journal, or with it full, the batch is retried in place (the
// queue fills, then decisions wait). closing: the engine is closing; rows
// the database does not take stay in the journal for the next start.
func (w *logWriter) flushRows(rows []tfps.DecisionRecord, stop <-chan struct{}, closing bool) {
	if len(rows) == 0 && w.journal == nil {
		return
	}
	if w.journal == nil {
		w.write(rows, stop)
		return
	}
	if w.journal.Pending() > 0 {
		w.drain(stop)
	}
	if len(rows) == 0 {
		return
	}
	if w.journal.Pending() == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.dst.WriteDecisions(ctx, rows)
		cancel()
		switch {
		case err == nil:
			w.metrics.logRows.WithLabelValues("written").Add(float64(len(rows)))
			return
		case errors.Is(err, tfps.ErrRecordRefused):
			w.write(rows, stop) // the database answers: split out the bad row
			return
		}
		w.metrics.depErrors.WithLabelValues("decision_log").Inc()
		w.log.Error("write decision log: spilling to the local journal until the database answers", "rows", len(rows), "err", err)
	}
	for backoff := 50 * time.Millisecond; ; backoff = min(backoff*2, 5*time.Second) {
		err := w.journal.Append(rows)
		if err == nil {
			w.metrics.logRows.WithLabelValues("journaled").Add(float64(len(rows)))
			w.journalSize()
			return
		}
		// Full (or the disk failed): nothing may overtake the journal, so
		// wait for it to drain; the queue fills meanwhile.
		w.log.Error("decision journal refused rows: waiting for the database", "rows", len(rows), "err", err)
		w.drain(stop)
		if w.journal.Pending() == 0 {
			w.write(rows, stop)
			return
		}
		if closing {
			w.lost += len(rows)
			w.metrics.logRows.WithLabelValues("lost").Add(float64(len(rows)))
			return
		}
		select {
		case <-stop:
			w.lost += len(rows)
			w.metrics.logRows.WithLabelValues("lost").Add(float64(len(rows)))
			return
		case <-time.After(backoff):
		}
	}
}

// drain writes the journal's rows into the database, oldest first, until
// it is empty or the database fails.
func (w *logWriter) drain(stop <-chan struct{}) {
	for {
		rows, next, err := w.journal.Peek(w.batch)
		if err != nil {
			w.log.Error("read decision journal", "err", err)
			return
		}
		if len(rows) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = w.dst.WriteDecisions(ctx, rows)
		cancel()
		switch {
		case err == nil:
			w.metrics.logRows.WithLabelValues("written").Add(float64(len(rows)))
		case errors.Is(err, tfps.ErrRecordRefused):
			w.write(rows, stop)
		default:
			return // still down: try again later
		}
		if err := w.journal.Commit(next); err != nil {
			w.log.Error("commit decision journal", "err", err)
			return
		}
		w.journalSize()
		if w.journal.Pending() == 0 {
			w.log.Info("decision journal drained into the database")
			w.warned = false
		}
	}
}

// journalSize exports the journal's size and warns once when it passes
// 80% of its limit.
func (w *logWriter) journalSize() {
	size, max := w.journal.Size(), w.journal.Max()
	w.metrics.journalBytes.Set(float64(size))
	if !w.warned && size > max/10*8 {
		w.warned = true
		w.log.Warn("decision journal nearly full: decisions will wait for the database when it is", "bytes", size, "max", max)
	}
}

// write inserts rows, retrying until it succeeds or stop is closed. A
// batch is never retried whole forever: one the database refuses for a
// value in it (tfps.ErrRecordRefused), or that failed wholeAttempts times,
// is split in halves written in order, so a single bad row is found in
// log2(batch) writes and the rows around it go in. A single row the
// database refuses is set aside in the quarantine (DecisionQuarantine),
// with the error; a row that keeps failing for another reason is retried
// (the database is down) and offered to the quarantine after
// wholeAttempts, which only takes it when the database answers.
func (w *logWriter) write(rows []tfps.DecisionRecord, stop <-chan struct{}) {
	if len(rows) == 0 {
		return
	}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.dst.WriteDecisions(ctx, rows)
		cancel()
		if err == nil {
			w.metrics.logRows.WithLabelValues("written").Add(float64(len(rows)))
			return
		}
		w.metrics.depErrors.WithLabelValues("decision_log").Inc()
		if attempt == 1 || attempt%20 == 0 {
			w.log.Error("write decision log", "rows", len(rows), "attempt", attempt, "err", err)
		}
		bad := errors.Is(err, tfps.ErrRecordRefused)
		if len(rows) > 1 && (bad || attempt >= wholeAttempts) {
			half := len(rows) / 2
			w.write(rows[:half], stop)
			w.write(rows[half:], stop)
			return
		}
		if len(rows) == 1 && (bad || attempt >= wholeAttempts) && w.quarantine(rows[0], err) {
			return
		}
		select {
		case <-stop:
			w.lost += len(rows)
			w.metrics.logRows.WithLabelValues("lost").Add(float64(len(rows)))
			w.log.Error("decision log rows lost at shutdown", "rows", len(rows), "err", err)
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// wholeAttempts is how many times a batch is tried whole before it is split.
const wholeAttempts = 5

// quarantine sets r aside with cause and reports whether it was taken.
func (w *logWriter) quarantine(r tfps.DecisionRecord, cause error) bool {
	q, ok := w.dst.(DecisionQuarantine)
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.QuarantineDecision(ctx, r, cause, w.now()); err != nil {
		w.log.Error("quarantine decision-log row", "call_id", r.CallID, "err", err)
		return false
	}
	w.metrics.logRows.WithLabelValues("quarantined").Inc()
	w.log.Error("decision-log row refused by the database, quarantined", "call_id", r.CallID, "user", r.User, "domain", r.Domain, "err", cause)
	return true
}

// enqueue queues r, waiting while the queue is full.
func (w *logWriter) enqueue(ctx context.Context, r *tfps.DecisionRecord) error {
	select {
	case w.in <- r:
		return nil
	default:
	}
	w.metrics.logFull.Inc()
	select {
	case w.in <- r:
		return nil
	case <-ctx.Done():
		w.metrics.logRows.WithLabelValues("lost").Inc()
		return errors.Join(errLogQueueFull, ctx.Err())
	}
}

var errLogQueueFull = errors.New("decision log queue full")

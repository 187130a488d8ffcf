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
// silently; a failed insert is retried with backoff; close writes what is
// left before returning.
type logWriter struct {
	dst     DecisionLog
	batch   int
	flush   time.Duration
	in      chan *tfps.DecisionRecord // pointers: a deep queue costs 8 bytes a slot until used
	done    chan struct{}
	log     *slog.Logger
	metrics *metrics
	lost    int // rows given up at close, read after done
}

func newLogWriter(dst DecisionLog, batch int, flush time.Duration, queue int, log *slog.Logger, m *metrics) *logWriter {
	return &logWriter{dst: dst, batch: batch, flush: flush, in: make(chan *tfps.DecisionRecord, queue), done: make(chan struct{}), log: log, metrics: m}
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
				w.write(buf, stop)
				return
			}
			buf = append(buf, *r)
			if len(buf) < w.batch {
				continue
			}
		case <-timer.C:
			timer.Reset(w.flush)
			if len(buf) == 0 {
				continue
			}
		}
		w.write(buf, stop)
		buf = buf[:0]
	}
}

// write inserts rows, retrying until it succeeds or stop is closed.
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

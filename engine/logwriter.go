package engine

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/voipshield/tfps"
)

// logWriter queues decision-log rows and writes them in batches from one
// goroutine. A full queue makes Decide wait (up to its context), never drops
// silently; a failed insert is retried with backoff, a refused one split
// (see write); close writes what is left before returning.
//
// With a journal the journal is the log's write-ahead file: Decide writes
// each row there (one write(2)) before it returns, the queue only carries
// the rows to the database without rereading the file, and the writer
// marks the file drained up to the rows the database took. A row the queue
// has no room for, or whose batch the database did not take, is read back
// from the file. A kill of the process loses no row that was answered; the
// file is fsynced every flush interval.
type logWriter struct {
	dst     DecisionLog
	batch   int
	flush   time.Duration
	in      chan *logRow // pointers: a deep queue costs 8 bytes a slot until used
	done    chan struct{}
	log     *slog.Logger
	metrics *metrics
	lost    int // rows given up at close, read after done
	now     func() time.Time
	journal LogJournal // optional: the write-ahead file
	// mu guards the journal group being filled; groups are written (and
	// queued) one after the other, in the order they were opened.
	mu       sync.Mutex
	group    *journalGroup
	lastDone chan struct{} // done of the latest group opened
	spare    []byte        // a written group's buffer, for the next group
	lineBufs sync.Pool     // *[]byte: rows' encoded lines
	warned   bool          // the near-full warning was logged
	down     bool          // the database failed: rows wait in the journal
}

// logRow is a queued row and, with a journal, its place in the file.
type logRow struct {
	tfps.DecisionRecord
	start, end int64
}

func newLogWriter(dst DecisionLog, batch int, flush time.Duration, queue int, log *slog.Logger, m *metrics) *logWriter {
	return &logWriter{dst: dst, batch: batch, flush: flush, in: make(chan *logRow, queue), done: make(chan struct{}), log: log, metrics: m, now: time.Now}
}

// run writes until in is closed and drained; stop ends retries of the last
// batches (the Close deadline).
func (w *logWriter) run(stop <-chan struct{}) {
	defer close(w.done)
	buf := make([]tfps.DecisionRecord, 0, w.batch)
	var spans []span
	timer := time.NewTimer(w.flush)
	defer timer.Stop()
	for {
		select {
		case r, ok := <-w.in:
			if !ok {
				w.flushRows(buf, spans, stop)
				w.sync()
				return
			}
			buf = append(buf, r.DecisionRecord)
			if w.journal != nil {
				spans = append(spans, span{r.start, r.end})
			}
			if len(buf) < w.batch {
				continue
			}
		case <-timer.C:
			timer.Reset(w.flush)
			w.sync()
			if len(buf) == 0 {
				if w.journal != nil && w.journal.Pending() > 0 {
					w.drain(stop)
				}
				continue
			}
		}
		w.flushRows(buf, spans, stop)
		buf, spans = buf[:0], spans[:0]
	}
}

type span struct{ start, end int64 }

// sync fsyncs the journal's rows written since the last flush interval.
func (w *logWriter) sync() {
	if w.journal == nil {
		return
	}
	if err := w.journal.Sync(); err != nil {
		w.log.Error("sync decision journal", "err", err)
	}
}

// flushRows writes a batch. Without a journal it is retried in place (the
// queue fills, then decisions wait). With one, the rows are already in the
// file: rows drained from it meanwhile are skipped; when the batch does not
// start at the file's read position and run on without a gap (the database
// failed earlier, or the queue was full), the file is drained instead,
// oldest first, so the log keeps its order; when the database fails the
// rows stay in the file for the next drain, and decisions do not wait.
func (w *logWriter) flushRows(rows []tfps.DecisionRecord, spans []span, stop <-chan struct{}) {
	if w.journal == nil {
		w.write(rows, stop)
		return
	}
	pos := w.journal.Pos()
	i := 0
	for i < len(spans) && spans[i].end <= pos {
		i++
	}
	rows, spans = rows[i:], spans[i:]
	if len(rows) == 0 {
		return
	}
	if spans[0].start == pos && contiguous(spans) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.writeDecisions(ctx, rows)
		cancel()
		switch {
		case err == nil:
			w.metrics.logRows.WithLabelValues("written").Add(float64(len(rows)))
		case errors.Is(err, tfps.ErrRecordRefused):
			// The database answers: split out the bad row. Rows given up
			// at shutdown stay in the journal for the next start.
			if !w.write(rows, stop) {
				return
			}
		default:
			w.metrics.depErrors.WithLabelValues("decision_log").Inc()
			w.metrics.logRows.WithLabelValues("journaled").Add(float64(len(rows)))
			w.log.Error("write decision log: rows wait in the local journal until the database answers", "rows", len(rows), "err", err)
			w.down = true
			w.journalSize()
			return
		}
		if err := w.journal.Commit(spans[len(spans)-1].end); err != nil {
			w.log.Error("commit decision journal", "err", err)
		}
		w.journalSize()
		return
	}
	if w.down {
		w.metrics.logRows.WithLabelValues("journaled").Add(float64(len(rows)))
	}
	w.drain(stop)
}

// contiguous reports whether the spans follow each other in the file.
func contiguous(spans []span) bool {
	for i := 1; i < len(spans); i++ {
		if spans[i].start != spans[i-1].end {
			return false
		}
	}
	return true
}

// journalRecord writes r to the journal and queues it, waiting (up to
// ctx) while the journal is full or failing. The queue never makes it
// wait: a row it has no room for is read back from the file.
func (w *logWriter) journalRecord(ctx context.Context, r *logRow) error {
	bp, _ := w.lineBufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer func() {
		if cap(*bp) <= maxPooledLine {
			w.lineBufs.Put(bp)
		}
	}()
	line, err := w.journal.Encode((*bp)[:0], &r.DecisionRecord)
	*bp = line
	if err != nil {
		w.metrics.logRows.WithLabelValues("lost").Inc()
		return err
	}
	for backoff := 5 * time.Millisecond; ; backoff = min(backoff*2, 200*time.Millisecond) {
		err := w.journalWrite(r, line)
		if err == nil {
			return nil
		}
		w.metrics.logFull.Inc()
		select {
		case <-ctx.Done():
			w.metrics.logRows.WithLabelValues("lost").Inc()
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

// Limits of the buffers the journal's writes reuse (logWriter.lineBufs,
// logWriter.spare): at thousands of decisions a second, a fresh line per
// row and a group buffer grown by append were 15 % of the gateway's
// allocated bytes, and so of its garbage collections. Larger ones (a group
// after a stall, an odd row) are left to the collector.
const (
	maxPooledLine = 16 << 10
	maxSpareGroup = 1 << 20
)

// journalGroup is the rows of decisions that reached the journal while
// the write before them was under way: they are written with one write(2).
type journalGroup struct {
	lines []byte
	rows  []*logRow
	ends  []int         // each row's end in lines
	prev  chan struct{} // closed when the group before has been written
	done  chan struct{} // closed when this group has been written (or failed)
	err   error         // set before done is closed
}

// journalWrite writes r's line to the journal in a group (group commit):
// the decision that opens a group waits for the previous group's write,
// the ones arriving meanwhile join it, and the opener writes them all at
// once, then queues them in file order. Under load many decisions finish
// together (one Redis pipeline answers them all), so the journal costs a
// system call per group instead of per decision; alone, a decision writes
// at once. On return without error the row is in the kernel, as with a
// write of its own.
func (w *logWriter) journalWrite(r *logRow, line []byte) error {
	w.mu.Lock()
	g, opener := w.group, false
	if g == nil {
		g = &journalGroup{lines: w.spare[:0], prev: w.lastDone, done: make(chan struct{})}
		w.group, w.lastDone, w.spare, opener = g, g.done, nil, true
	}
	g.lines = append(g.lines, line...)
	g.rows = append(g.rows, r)
	g.ends = append(g.ends, len(g.lines))
	w.mu.Unlock()
	if !opener {
		<-g.done
		return g.err
	}
	if g.prev != nil {
		<-g.prev
	}
	// Let the decisions that are ready to run (the rest of a Redis
	// pipeline's answers) reach the group before it is written: with
	// one CPU they would otherwise each find no write under way and write
	// alone.
	runtime.Gosched()
	w.mu.Lock()
	w.group = nil // later rows open the next group, which waits for this one
	w.mu.Unlock()
	start, _, err := w.journal.Append(g.lines)
	w.mu.Lock()
	if cap(g.lines) <= maxSpareGroup && cap(g.lines) > cap(w.spare) {
		w.spare = g.lines[:0] // written: the next group fills it again
	}
	w.mu.Unlock()
	if err == nil {
		w.metrics.journalWrites.Inc()
		from := start
		for i, row := range g.rows {
			row.start, row.end = from, start+int64(g.ends[i])
			from = row.end
			select {
			case w.in <- row:
			default:
				w.metrics.logFull.Inc()
			}
		}
	}
	g.err = err
	close(g.done)
	return err
}

// drain writes the journal's rows into the database, oldest first, until
// it has caught up with the file or the database fails.
func (w *logWriter) drain(stop <-chan struct{}) {
	for {
		rows, next, err := w.journal.Peek(w.batch)
		if err != nil {
			w.log.Error("read decision journal", "err", err)
			return
		}
		if len(rows) == 0 {
			if w.down {
				w.log.Info("decision journal drained into the database")
			}
			w.warned, w.down = false, false
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		// Not paced: draining is catching up (the database was down, or
		// the queue full), and the rows wait until it has.
		err = w.dst.WriteDecisions(ctx, rows)
		cancel()
		switch {
		case err == nil:
			w.metrics.logRows.WithLabelValues("written").Add(float64(len(rows)))
		case errors.Is(err, tfps.ErrRecordRefused):
			if !w.write(rows, stop) {
				return
			}
		default:
			if !w.down {
				w.metrics.depErrors.WithLabelValues("decision_log").Inc()
				w.log.Error("write decision log: rows wait in the local journal until the database answers", "rows", len(rows), "err", err)
				w.down = true
			}
			w.journalSize()
			return // still down: try again later
		}
		if err := w.journal.Commit(next); err != nil {
			w.log.Error("commit decision journal", "err", err)
			return
		}
		w.journalSize()
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
func (w *logWriter) write(rows []tfps.DecisionRecord, stop <-chan struct{}) (ok bool) {
	if len(rows) == 0 {
		return true
	}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.writeDecisions(ctx, rows)
		cancel()
		if err == nil {
			w.metrics.logRows.WithLabelValues("written").Add(float64(len(rows)))
			return true
		}
		w.metrics.depErrors.WithLabelValues("decision_log").Inc()
		if attempt == 1 || attempt%20 == 0 {
			w.log.Error("write decision log", "rows", len(rows), "attempt", attempt, "err", err)
		}
		bad := errors.Is(err, tfps.ErrRecordRefused)
		if len(rows) > 1 && (bad || attempt >= wholeAttempts) {
			half := len(rows) / 2
			first := w.write(rows[:half], stop)
			return w.write(rows[half:], stop) && first
		}
		if len(rows) == 1 && (bad || attempt >= wholeAttempts) && w.quarantine(rows[0], err) {
			return true
		}
		select {
		case <-stop:
			if w.journal != nil {
				w.log.Error("decision log rows left in the journal at shutdown, for the next start", "rows", len(rows), "err", err)
				return false
			}
			w.lost += len(rows)
			w.metrics.logRows.WithLabelValues("lost").Add(float64(len(rows)))
			w.log.Error("decision log rows lost at shutdown", "rows", len(rows), "err", err)
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// pacePause is how long the decision-log writer steps aside between two
// statements of a batch when the gateway runs on one P (GOMAXPROCS=1: one
// CPU, or a container limited to one). Without it the writer holds the P
// for the whole batch: 1,000 rows, one flush interval at 5,000 calls/s, are
// 20-40 ms of SQLite work, and every decision waiting for Redis, for the
// CPU or in the socket waits that long. runtime.Gosched is not enough: a
// goroutine that yields is run again before the runtime polls the network,
// so Redis replies and new INVITEs would still wait; a sleeping writer
// lets the scheduler run what is ready and poll the network first.
// Measured on one core (scripts/load-sip.sh, seven alternated runs): median
// answer p99 at 5,000 calls/s 64 ms without, 32 ms with 3 ms pauses, for
// 2-4 % more CPU per call.
const pacePause = 3 * time.Millisecond

// writeDecisions writes one batch, paced when the log can pause between
// statements and the gateway has one P. Pauses in one batch add up to at
// most half a flush interval, so the writer keeps up whenever writing an
// interval's rows takes less than half an interval of CPU, and a batch's
// transaction stays short for the database's other writers.
func (w *logWriter) writeDecisions(ctx context.Context, rows []tfps.DecisionRecord) error {
	p, ok := w.dst.(PacedDecisionLog)
	if !ok || runtime.GOMAXPROCS(0) > 1 {
		return w.dst.WriteDecisions(ctx, rows)
	}
	budget := w.flush / 2
	return p.WriteDecisionsPaced(ctx, rows, func(ctx context.Context) {
		if budget < pacePause {
			return
		}
		budget -= pacePause
		t := time.NewTimer(pacePause)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	})
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

// enqueue queues r, waiting while the queue is full; with a journal it
// writes r there first (journalRecord).
func (w *logWriter) enqueue(ctx context.Context, row *logRow) error {
	if w.journal != nil {
		return w.journalRecord(ctx, row)
	}
	select {
	case w.in <- row:
		return nil
	default:
	}
	w.metrics.logFull.Inc()
	select {
	case w.in <- row:
		return nil
	case <-ctx.Done():
		w.metrics.logRows.WithLabelValues("lost").Inc()
		return errors.Join(errLogQueueFull, ctx.Err())
	}
}

var errLogQueueFull = errors.New("decision log queue full")

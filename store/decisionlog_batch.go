package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/voipshield/tfps"
)

// WriteDecisions writes a batch of decision-log records atomically; it is
// the engine's batch writer (engine.DecisionLog). An empty batch is a no-op.
// The same transaction adds the batch to the daily statistics of the
// accounts it names (history.go), so a day's counts and its log rows are
// written together or not at all.
//
// Each record's Key is stored once: a row whose key is already in the log
// is skipped, and neither written again nor counted again in the
// statistics, so a batch the writer repeats (its commit reached the
// database but the reply was lost, and the rows went to the journal) is
// logged exactly once. The usual batch has only new keys and is written in
// one pass; when the database skips (SQLite) or refuses (PostgreSQL's COPY)
// some, that transaction is rolled back and the rows not yet logged are
// written alone, counted once.
//
// PostgreSQL gets the rows by COPY (see copyDecisions), which fails whole
// on a key already logged; SQLite gets prepared multi-row INSERTs in
// one transaction, with positional "?" parameters: SQLite resolves "$N"
// names by a linear search, so a 500-row statement with 10,000 "$N"
// parameters costs quadratic time (measured: ~80% of a gateway's CPU at 5k
// decisions/s), while "?" binds by position. Statements are 50 rows (1,100
// parameters).
func (s *Store) WriteDecisions(ctx context.Context, recs []tfps.DecisionRecord) error {
	return s.WriteDecisionsPaced(ctx, recs, nil)
}

// WriteDecisionsPaced is WriteDecisions calling pause, when not nil,
// between the statements of one transaction (SQLite: before each 50-row
// INSERT after the first), so that a writer sharing one CPU with the
// decisions can let them run without splitting the batch into costlier
// transactions (50-row transactions cost half as much again per row as
// 500-row ones on SQLite). PostgreSQL's COPY is one statement and does
// not pause.
func (s *Store) WriteDecisionsPaced(ctx context.Context, recs []tfps.DecisionRecord, pause func(context.Context)) error {
	for range 3 {
		if len(recs) == 0 {
			return nil
		}
		err := s.insertDecisions(ctx, recs, pause)
		if !errors.Is(err, errLogged) {
			return refused(err)
		}
		if recs, err = s.unlogged(ctx, recs); err != nil {
			return err
		}
	}
	// Another writer keeps logging the same keys at the same time: the
	// engine has one writer, so this is a fault; the rows stay with the
	// caller, which retries.
	return fmt.Errorf("write %d decisions: %w", len(recs), errLogged)
}

// errLogged is returned by insertDecisions, after rolling back, when the
// database skipped rows whose keys are in the log already.
var errLogged = errors.New("decisions already in the log")

// insertDecisions writes every record of recs with the daily statistics in
// one transaction, or returns errLogged when a key was logged already.
func (s *Store) insertDecisions(ctx context.Context, recs []tfps.DecisionRecord, pause func(context.Context)) error {
	if s.dialect == Postgres {
		return s.copyDecisions(ctx, recs)
	}
	const perStmt = 50
	return s.withTx(ctx, func(tx *sql.Tx) error {
		var stmt *sql.Stmt
		stmtRows := 0
		defer func() {
			if stmt != nil {
				stmt.Close()
			}
		}()
		args := make([]any, 0, min(perStmt, len(recs))*decisionColumnCount)
		for start := 0; start < len(recs); start += perStmt {
			chunk := recs[start:min(start+perStmt, len(recs))]
			if len(chunk) != stmtRows {
				if stmt != nil {
					stmt.Close()
				}
				var err error
				if stmt, err = tx.PrepareContext(ctx, decisionInsert(len(chunk))); err != nil {
					return fmt.Errorf("prepare decision insert: %w", err)
				}
				stmtRows = len(chunk)
			}
			if pause != nil && start > 0 {
				pause(ctx)
			}
			args = args[:0]
			for i := range chunk {
				args = appendDecisionValues(args, &chunk[i])
			}
			res, err := stmt.ExecContext(ctx, args...)
			if err != nil {
				return fmt.Errorf("insert %d decisions: %w", len(chunk), err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("insert %d decisions: %w", len(chunk), err)
			} else if n != int64(len(chunk)) {
				return errLogged
			}
		}
		return s.addDailyStats(ctx, txExec(tx), recs)
	})
}

// unlogged returns the records of recs whose keys are not in the log, in
// their order.
func (s *Store) unlogged(ctx context.Context, recs []tfps.DecisionRecord) ([]tfps.DecisionRecord, error) {
	logged := map[string]bool{}
	const perQuery = 500
	for start := 0; start < len(recs); start += perQuery {
		var keys []any
		for _, r := range recs[start:min(start+perQuery, len(recs))] {
			if r.Key != "" {
				keys = append(keys, r.Key)
			}
		}
		if len(keys) == 0 {
			continue
		}
		marks := make([]string, len(keys))
		for i := range marks {
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT decision_key FROM decision_log WHERE decision_key IN (`+strings.Join(marks, ", ")+`)`, keys...)
		if err != nil {
			return nil, fmt.Errorf("find logged decisions: %w", err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, fmt.Errorf("find logged decisions: %w", err)
			}
			logged[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("find logged decisions: %w", err)
		}
	}
	out := make([]tfps.DecisionRecord, 0, len(recs)-len(logged))
	for _, r := range recs {
		if r.Key == "" || !logged[r.Key] {
			out = append(out, r)
		}
	}
	return out, nil
}

// refused marks err with tfps.ErrRecordRefused when the database refused a
// value in the rows (PostgreSQL class 22, data exception: invalid UTF-8 or
// a NUL byte in text is 22021), so the writer splits the batch to find the
// row instead of retrying it whole.
func refused(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
		return fmt.Errorf("%w: %w", tfps.ErrRecordRefused, err)
	}
	return err
}

// QuarantineDecision sets a decision-log row the database refused aside in
// decision_quarantine, with the error, as JSON bytes (any value fits). The
// engine's writer calls it for the one row of a refused batch.
func (s *Store) QuarantineDecision(ctx context.Context, rec tfps.DecisionRecord, cause error, now time.Time) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("quarantine decision %q: %w", rec.CallID, err)
	}
	msg := cleanText(cause.Error())
	_, err = s.db.ExecContext(ctx, `INSERT INTO decision_quarantine (quarantined_at, call_id, error, record) VALUES ($1, $2, $3, $4)`,
		ms(now), cleanText(rec.CallID), msg, b)
	if err != nil {
		return fmt.Errorf("quarantine decision %q: %w", rec.CallID, err)
	}
	return nil
}

// QuarantinedDecision is a row of decision_quarantine.
type QuarantinedDecision struct {
	ID            int64
	QuarantinedAt time.Time
	CallID        string
	Error         string
	Record        tfps.DecisionRecord
}

// QuarantinedDecisions returns the quarantined rows, oldest first.
func (s *Store) QuarantinedDecisions(ctx context.Context, limit int) ([]QuarantinedDecision, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, quarantined_at, call_id, error, record FROM decision_quarantine ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("query decision quarantine: %w", err)
	}
	defer rows.Close()
	var out []QuarantinedDecision
	for rows.Next() {
		var q QuarantinedDecision
		var at int64
		var b []byte
		if err := rows.Scan(&q.ID, &at, &q.CallID, &q.Error, &b); err != nil {
			return nil, fmt.Errorf("scan decision quarantine: %w", err)
		}
		if err := json.Unmarshal(b, &q.Record); err != nil {
			return nil, fmt.Errorf("decision quarantine %d: %w", q.ID, err)
		}
		q.QuarantinedAt = fromMS(at)
		out = append(out, q)
	}
	return out, rows.Err()
}

// cleanText is s with invalid UTF-8 and NUL bytes replaced by U+FFFD.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// decisionInsert is a SQLite decision_log INSERT of n rows that skips a
// row whose key is logged already.
func decisionInsert(n int) string {
	row := "(?" + strings.Repeat(", ?", decisionColumnCount-1) + ")"
	return "INSERT INTO decision_log (" + decisionColumns + ") VALUES " + row + strings.Repeat(", "+row, n-1) +
		" ON CONFLICT (decision_key) DO NOTHING"
}

// decisionColumnNames are decisionColumns as a list, for COPY.
var decisionColumnNames = func() []string {
	f := strings.Split(decisionColumns, ",")
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	return f
}()

// keyLogged reports whether err is the unique index on decision keys
// refusing a key already logged.
func keyLogged(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "decision_log_key"
}

// copyDecisions streams recs into decision_log with COPY FROM STDIN in
// binary format, in one transaction with the batch's daily statistics
// (all rows or none). COPY cannot skip a row: a key logged already fails
// it whole, and it returns errLogged (rolled back). Measured against
// 500-row INSERTs, PostgreSQL spends about a third of the CPU per row: no
// SQL text to parse and plan, no 10,000 bind parameters. Server CPU per
// row (BenchmarkWriteDecisionsByDialect, PostgreSQL 15, 500-row batches,
// load average 4.5 on 2 cores): COPY before decision keys existed 4.7-5.1
// us, COPY with the key and its unique index 5.8-5.9 us, COPY into a
// staging table then INSERT ... SELECT ... ON CONFLICT DO NOTHING 7.8-8.8
// us. A repeated batch is rare
// (a commit whose reply an outage cut), so it pays a second pass instead
// of every batch paying the staging table.
func (s *Store) copyDecisions(ctx context.Context, recs []tfps.DecisionRecord) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("copy decisions: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(interface{ Conn() *pgx.Conn })
		if !ok {
			return fmt.Errorf("driver connection %T is not pgx", dc)
		}
		tx, err := pc.Conn().Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer tx.Rollback(ctx)
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"decision_log"}, decisionColumnNames, &decisionRows{recs: recs, i: -1})
		if keyLogged(err) {
			return errLogged
		}
		if err == nil && n != int64(len(recs)) {
			err = fmt.Errorf("copied %d of %d rows", n, len(recs))
		}
		if err != nil {
			return err
		}
		err = s.addDailyStats(ctx, func(ctx context.Context, q string, args ...any) error {
			_, err := tx.Exec(ctx, q, args...)
			return err
		}, recs)
		if err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if errors.Is(err, errLogged) {
		return err
	}
	if err != nil {
		return fmt.Errorf("copy %d decisions: %w", len(recs), err)
	}
	return nil
}

// appendDecisionValues appends r's values in decisionColumns order, typed
// as the columns are (COPY's binary format wants int32 for INTEGER). An
// empty key is NULL: rows without one never conflict.
func appendDecisionValues(dst []any, r *tfps.DecisionRecord) []any {
	var key any
	if r.Key != "" {
		key = r.Key
	}
	return append(dst, ms(r.At), r.CallID, r.SourceIP, r.Caller, r.Number, r.UserAgent, int32(r.AbuseScore), r.User, r.Domain,
		r.Result, r.Code, r.Reason, r.Flow, r.Ticket, int32(boolInt(r.OffHours)), int32(r.ConcurrentCalls), r.SourceCountry,
		r.DestinationCountry, r.Transport, r.LatencyMicros, int32(boolInt(r.Enforced)), key)
}

// decisionRows is a pgx.CopyFromSource over records, reusing one value slice.
type decisionRows struct {
	recs []tfps.DecisionRecord
	i    int
	vals []any
}

func (d *decisionRows) Next() bool { d.i++; return d.i < len(d.recs) }
func (d *decisionRows) Err() error { return nil }
func (d *decisionRows) Values() ([]any, error) {
	d.vals = appendDecisionValues(d.vals[:0], &d.recs[d.i])
	return d.vals, nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/voipshield/tfps"
)

// WriteDecisions writes a batch of decision-log records in one transaction
// with prepared multi-row INSERTs; it is the engine's batch writer
// (engine.DecisionLog). An empty batch is a no-op.
//
// On SQLite the parameters are positional "?": SQLite resolves "$N" names
// by a linear search, so a 500-row statement with 10,000 "$N" parameters
// costs quadratic time (measured: ~80% of a gateway's CPU at 5k decisions/s),
// while "?" binds by position. Statements there are 50 rows (1,000
// parameters); PostgreSQL takes 500.
func (s *Store) WriteDecisions(ctx context.Context, recs []tfps.DecisionRecord) error {
	if len(recs) == 0 {
		return nil
	}
	perStmt := 500
	if s.dialect == SQLite {
		perStmt = 50
	}
	return s.WithTx(ctx, func(tx *sql.Tx) error {
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
				if stmt, err = tx.PrepareContext(ctx, s.decisionInsert(len(chunk))); err != nil {
					return fmt.Errorf("prepare decision insert: %w", err)
				}
				stmtRows = len(chunk)
			}
			args = args[:0]
			for i := range chunk {
				r := &chunk[i]
				args = append(args, ms(r.At), r.CallID, r.SourceIP, r.Caller, r.Number, r.UserAgent, r.AbuseScore, r.User, r.Domain,
					r.Result, r.Code, r.Reason, r.Flow, r.Ticket, boolInt(r.OffHours), r.ConcurrentCalls, r.SourceCountry,
					r.DestinationCountry, r.Transport, r.LatencyMicros)
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("insert %d decisions: %w", len(chunk), err)
			}
		}
		return nil
	})
}

// decisionInsert is a decision_log INSERT of n rows in the dialect's
// parameter style.
func (s *Store) decisionInsert(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO decision_log (" + decisionColumns + ") VALUES ")
	p := 0
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range decisionColumnCount {
			if j > 0 {
				b.WriteString(", ")
			}
			p++
			if s.dialect == SQLite {
				b.WriteByte('?')
			} else {
				b.WriteString("$" + strconv.Itoa(p))
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

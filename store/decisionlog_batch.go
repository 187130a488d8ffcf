package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/voipshield/tfps"
)

// WriteDecisions is the engine's batch writer of the decision log
// (engine.DecisionLog). On SQLite it uses prepared multi-row INSERTs with
// positional "?" parameters inside one transaction: SQLite resolves "$N"
// parameters by a linear search, so InsertDecisions' statements with
// thousands of them cost quadratic time (measured: ~80% of a gateway's CPU
// at 5k decisions/s with 500-row statements), while "?" binds by position
// and one statement of 50 rows is parsed once per batch. PostgreSQL keeps
// InsertDecisions' multi-row statements.
func (s *Store) WriteDecisions(ctx context.Context, recs []tfps.DecisionRecord) error {
	if len(recs) == 0 {
		return nil
	}
	if s.dialect != SQLite {
		return s.InsertDecisions(ctx, recs)
	}
	const perStmt = 50 // 1,000 parameters
	return s.WithTx(ctx, func(tx *sql.Tx) error {
		var stmt *sql.Stmt
		stmtRows := 0
		defer func() {
			if stmt != nil {
				stmt.Close()
			}
		}()
		args := make([]any, 0, perStmt*decisionColumnCount)
		for start := 0; start < len(recs); start += perStmt {
			chunk := recs[start:min(start+perStmt, len(recs))]
			if len(chunk) != stmtRows {
				if stmt != nil {
					stmt.Close()
				}
				var err error
				if stmt, err = tx.PrepareContext(ctx, positionalInsert(len(chunk))); err != nil {
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

// positionalInsert is a decision_log INSERT of n rows with "?" parameters.
func positionalInsert(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", decisionColumnCount), ", ") + ")"
	return "INSERT INTO decision_log (" + decisionColumns + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/voipshield/tfps"
)

const decisionColumns = `at, call_id, source_ip, caller, number, user_agent, abuse_score, username, domain, result, code,
	reason, flow, ticket, off_hours, concurrent_calls, source_country, destination_country, transport, latency_us, enforced, decision_key`

const decisionColumnCount = 22

// DecisionFilter selects decision-log records, newest first.
type DecisionFilter struct {
	User, Domain string // both empty: every account
	CallID       string
	AfterID      int64 // only records with a larger id (for tailing)
	Limit        int
}

// Decisions returns decision-log records matching f, newest first (or, with
// AfterID, the ones after it in ascending order, for tailing).
func (s *Store) Decisions(ctx context.Context, f DecisionFilter) ([]tfps.DecisionRecord, error) {
	query, args := decisionQuery(f)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query decisions: %w", err)
	}
	defer rows.Close()
	var out []tfps.DecisionRecord
	for rows.Next() {
		var r tfps.DecisionRecord
		if err := scanDecision(rows, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// scanDecision reads one row of SELECT id, decisionColumns into r; every
// reader of the log uses it, so a new column is read the same way everywhere.
func scanDecision(rows *sql.Rows, r *tfps.DecisionRecord) error {
	var at int64
	var off, enforced int
	var key sql.NullString
	if err := rows.Scan(&r.ID, &at, &r.CallID, &r.SourceIP, &r.Caller, &r.Number, &r.UserAgent, &r.AbuseScore, &r.User, &r.Domain,
		&r.Result, &r.Code, &r.Reason, &r.Flow, &r.Ticket, &off, &r.ConcurrentCalls, &r.SourceCountry, &r.DestinationCountry,
		&r.Transport, &r.LatencyMicros, &enforced, &key); err != nil {
		return fmt.Errorf("scan decision: %w", err)
	}
	r.At, r.OffHours, r.Enforced, r.Key = fromMS(at), off != 0, enforced != 0, key.String
	return nil
}

// decisionQuery is the SELECT of Decisions. Every filter it builds is served
// by an index in id order (decision_log_account, decision_log_call_id), so a
// page costs its own rows, not a sort of the account's whole history.
func decisionQuery(f DecisionFilter) (string, []any) {
	limit := f.Limit
	if limit <= 0 {
		limit = tfps.DefaultPageSize
	}
	if limit > tfps.MaxPageSize {
		limit = tfps.MaxPageSize
	}
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.User != "" || f.Domain != "" {
		add("username = $%d", f.User)
		add("domain = $%d", f.Domain)
	}
	if f.CallID != "" {
		add("call_id = $%d", f.CallID)
	}
	order := "DESC"
	if f.AfterID > 0 {
		add("id > $%d", f.AfterID)
		order = "ASC"
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, limit)
	return fmt.Sprintf(`SELECT id, %s FROM decision_log%s ORDER BY id %s LIMIT $%d`, decisionColumns, where, order, len(args)), args
}

// PurgeDecisions deletes up to limit of the oldest decision-log rows that
// are older than before, and says how many went. It looks only at the
// limit rows with the smallest ids (ids grow with time), so it costs the
// rows it deletes, not a scan of the log; call it again while it returns
// limit.
func (s *Store) PurgeDecisions(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM decision_log WHERE id IN (SELECT id FROM decision_log ORDER BY id LIMIT $1) AND at < $2`, limit, ms(before))
	if err != nil {
		return 0, fmt.Errorf("purge decisions before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge decisions: %w", err)
	}
	return n, nil
}

// CountDecisions returns the number of decision-log records, for tests and stats.
func (s *Store) CountDecisions(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM decision_log`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count decisions: %w", err)
	}
	return n, nil
}

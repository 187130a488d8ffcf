package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/voipshield/tfps"
)

const ruleColumns = `id, profile, prefix, start_time, end_time, days, cpm_warning, cpm_critical, total_warning, total_critical,
	concurrent_warning, concurrent_critical, sequential_warning, sequential_critical, duration_warning, duration_critical, warning_action`

// PutRules inserts or replaces rules (same id: the new rule wins) in one
// transaction. Every rule is checked first; a bad one, named by its
// position (row 1 is the first), changes nothing. A rule without an id gets
// the next free one, written back into rules.
func (s *Store) PutRules(ctx context.Context, rules []tfps.Rule) error {
	for i := range rules {
		if err := tfps.NormalizeRule(&rules[i]); err != nil {
			if len(rules) == 1 {
				return err
			}
			return tfps.Errorf(tfps.EINVALID, "row %d: %s", i+1, tfps.ErrorMessage(err))
		}
	}
	now := ms(s.Now().UTC())
	return s.withTx(ctx, func(tx *sql.Tx) error {
		var next int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM fraud_rules`).Scan(&next); err != nil {
			return fmt.Errorf("next rule id: %w", err)
		}
		for i := range rules {
			if rules[i].ID > next {
				next = rules[i].ID
			}
		}
		for i := range rules {
			r := &rules[i]
			if r.ID == 0 {
				next++
				r.ID = next
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO fraud_rules (`+ruleColumns+`, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
ON CONFLICT (id) DO UPDATE SET profile = excluded.profile, prefix = excluded.prefix, start_time = excluded.start_time,
	end_time = excluded.end_time, days = excluded.days, cpm_warning = excluded.cpm_warning, cpm_critical = excluded.cpm_critical,
	total_warning = excluded.total_warning, total_critical = excluded.total_critical, concurrent_warning = excluded.concurrent_warning,
	concurrent_critical = excluded.concurrent_critical, sequential_warning = excluded.sequential_warning,
	sequential_critical = excluded.sequential_critical, duration_warning = excluded.duration_warning,
	duration_critical = excluded.duration_critical, warning_action = excluded.warning_action`,
				r.ID, r.Profile, r.Prefix, r.Start, r.End, r.Days, r.CPMWarning, r.CPMCritical, r.TotalWarning, r.TotalCritical,
				r.ConcurrentWarning, r.ConcurrentCritical, r.SequentialWarning, r.SequentialCritical, r.DurationWarning, r.DurationCritical,
				r.WarningAction, now)
			if err != nil {
				return fmt.Errorf("put rule %d: %w", r.ID, err)
			}
		}
		return nil
	})
}

// ListRules returns the rules of profile ("" every profile), by profile and id.
func (s *Store) ListRules(ctx context.Context, profile string) ([]tfps.Rule, error) {
	q, args := `SELECT `+ruleColumns+` FROM fraud_rules ORDER BY profile, id`, []any{}
	if profile != "" {
		q, args = `SELECT `+ruleColumns+` FROM fraud_rules WHERE profile = $1 ORDER BY id`, []any{profile}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	defer rows.Close()
	var out []tfps.Rule
	for rows.Next() {
		var r tfps.Rule
		if err := rows.Scan(&r.ID, &r.Profile, &r.Prefix, &r.Start, &r.End, &r.Days, &r.CPMWarning, &r.CPMCritical,
			&r.TotalWarning, &r.TotalCritical, &r.ConcurrentWarning, &r.ConcurrentCritical, &r.SequentialWarning,
			&r.SequentialCritical, &r.DurationWarning, &r.DurationCritical, &r.WarningAction); err != nil {
			return nil, fmt.Errorf("scan rule: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return out, nil
}

// RuleEntries returns every rule, for the engine (engine.Rules).
func (s *Store) RuleEntries(ctx context.Context) ([]tfps.Rule, error) { return s.ListRules(ctx, "") }

// RemoveRule deletes the rule id; an unknown id is ENOTFOUND.
func (s *Store) RemoveRule(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM fraud_rules WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("remove rule %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tfps.Errorf(tfps.ENOTFOUND, "rule %d not found", id)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/voipshield/tfps"
)

// PutRanges inserts or replaces ranges (same prefix: the new level, source
// and comment win), all in one transaction: every row is checked first and
// a bad one, named by its position (row 1 is the first), changes nothing.
func (s *Store) PutRanges(ctx context.Context, ranges []tfps.NumberRange) error {
	for i := range ranges {
		if err := tfps.NormalizeRange(&ranges[i]); err != nil {
			return tfps.Errorf(tfps.EINVALID, "row %d: %s", i+1, tfps.ErrorMessage(err))
		}
	}
	now := s.Now().UTC()
	return s.withTx(ctx, func(tx *sql.Tx) error {
		for i := range ranges {
			r := &ranges[i]
			r.CreatedAt = now
			_, err := tx.ExecContext(ctx, `INSERT INTO number_ranges (prefix, level, source, comment, created_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (prefix) DO UPDATE SET level = excluded.level, source = excluded.source, comment = excluded.comment`,
				r.Prefix, string(r.Level), r.Source, r.Comment, ms(now))
			if err != nil {
				return fmt.Errorf("put range %s: %w", r.Prefix, err)
			}
		}
		return nil
	})
}

// ListRanges returns every range in prefix order.
func (s *Store) ListRanges(ctx context.Context) ([]tfps.NumberRange, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT prefix, level, source, comment, created_at FROM number_ranges ORDER BY prefix`)
	if err != nil {
		return nil, fmt.Errorf("list ranges: %w", err)
	}
	defer rows.Close()
	var out []tfps.NumberRange
	for rows.Next() {
		var r tfps.NumberRange
		var level string
		var created int64
		if err := rows.Scan(&r.Prefix, &level, &r.Source, &r.Comment, &created); err != nil {
			return nil, fmt.Errorf("scan range: %w", err)
		}
		r.Level, r.CreatedAt = tfps.RangeLevel(level), fromMS(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// RemoveRange deletes the range of prefix (written with or without "+").
func (s *Store) RemoveRange(ctx context.Context, prefix string) error {
	p := strings.TrimPrefix(strings.TrimSpace(prefix), "+")
	res, err := s.db.ExecContext(ctx, `DELETE FROM number_ranges WHERE prefix = $1`, p)
	if err != nil {
		return fmt.Errorf("delete range %s: %w", p, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tfps.Errorf(tfps.ENOTFOUND, "no range %q", p)
	}
	return nil
}

// allowRange records that user@domain verified the range prefix (the IVR's
// risky_range flow), inside a transaction. Idempotent.
func (s *Store) allowRange(ctx context.Context, tx *sql.Tx, user, domain, prefix string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO account_ranges (account_id, prefix, created_at)
SELECT id, $3, $4 FROM accounts WHERE username = $1 AND domain = $2
ON CONFLICT (account_id, prefix) DO NOTHING`, user, domain, prefix, ms(s.Now()))
	if err != nil {
		return fmt.Errorf("allow range %s for %s@%s: %w", prefix, user, domain, err)
	}
	return nil
}

// AllowRange is allowRange in a transaction of its own.
func (s *Store) AllowRange(ctx context.Context, user, domain, prefix string) error {
	return s.withTx(ctx, func(tx *sql.Tx) error { return s.allowRange(ctx, tx, user, domain, prefix) })
}

// RangeEntries returns the ranges and every account's verified ranges, for
// the engine's in-memory copy (engine.Ranges).
func (s *Store) RangeEntries(ctx context.Context) ([]tfps.NumberRange, []tfps.RangeAllowance, error) {
	ranges, err := s.ListRanges(ctx)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT a.username, a.domain, r.prefix FROM account_ranges r JOIN accounts a ON a.id = r.account_id ORDER BY a.domain, a.username, r.prefix`)
	if err != nil {
		return nil, nil, fmt.Errorf("list allowed ranges: %w", err)
	}
	defer rows.Close()
	var allowed []tfps.RangeAllowance
	for rows.Next() {
		var a tfps.RangeAllowance
		if err := rows.Scan(&a.User, &a.Domain, &a.Prefix); err != nil {
			return nil, nil, fmt.Errorf("scan allowed range: %w", err)
		}
		allowed = append(allowed, a)
	}
	return ranges, allowed, rows.Err()
}

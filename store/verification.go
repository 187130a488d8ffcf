package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/voipshield/tfps"
)

// InsertVerificationEvent records one IVR outcome.
func (s *Store) InsertVerificationEvent(ctx context.Context, e *tfps.VerificationEvent) error {
	return s.WithTx(ctx, func(tx *sql.Tx) error { return s.InsertVerificationEventTx(ctx, tx, e) })
}

// InsertVerificationEventTx records one IVR outcome inside the caller's
// transaction, beside the account change it caused.
func (s *Store) InsertVerificationEventTx(ctx context.Context, tx *sql.Tx, e *tfps.VerificationEvent) error {
	if e.At.IsZero() {
		e.At = s.Now().UTC()
	}
	if e.Outcome == "" || e.User == "" || e.Domain == "" {
		return tfps.Errorf(tfps.EINVALID, "verification event needs user, domain and outcome")
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO verification_events (at, username, domain, ticket, flow, method, outcome, source_ip, country, caller, number, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		ms(e.At), e.User, e.Domain, e.Ticket, e.Flow, e.Method, e.Outcome, e.SourceIP, e.Country, e.Caller, e.Number, e.Detail).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("insert verification event for %s@%s: %w", e.User, e.Domain, err)
	}
	return nil
}

// VerificationEvents returns the latest events of an account, newest first.
func (s *Store) VerificationEvents(ctx context.Context, user, domain string, limit int) ([]tfps.VerificationEvent, error) {
	if limit <= 0 || limit > tfps.MaxPageSize {
		limit = tfps.DefaultPageSize
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, username, domain, ticket, flow, method, outcome, source_ip, country, caller, number, detail
		FROM verification_events WHERE username = $1 AND domain = $2 ORDER BY id DESC LIMIT $3`, user, domain, limit)
	if err != nil {
		return nil, fmt.Errorf("query verification events: %w", err)
	}
	defer rows.Close()
	var out []tfps.VerificationEvent
	for rows.Next() {
		var e tfps.VerificationEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.User, &e.Domain, &e.Ticket, &e.Flow, &e.Method, &e.Outcome, &e.SourceIP, &e.Country, &e.Caller, &e.Number, &e.Detail); err != nil {
			return nil, fmt.Errorf("scan verification event: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

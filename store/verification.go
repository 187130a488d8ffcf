package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/voipshield/tfps"
)

// InsertVerificationEvent records one IVR outcome.
func (s *Store) InsertVerificationEvent(ctx context.Context, e *tfps.VerificationEvent) error {
	return s.withTx(ctx, func(tx *sql.Tx) error { return s.insertVerificationEvent(ctx, tx, e) })
}

// insertVerificationEvent records one IVR outcome inside a transaction,
// beside the account change it caused.
func (s *Store) insertVerificationEvent(ctx context.Context, tx *sql.Tx, e *tfps.VerificationEvent) error {
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

// RecordVerification stores one voice verification in one transaction: the
// account created (or the one that appeared meanwhile) and changed, the
// range allowed, the verification event and the notifications in the
// outbox. Nothing is stored when one step fails.
func (s *Store) RecordVerification(ctx context.Context, v *tfps.VerificationRecord) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		var a *tfps.Account
		switch {
		case v.Create != nil:
			existing, err := s.lockAccount(ctx, tx, v.User, v.Domain)
			switch {
			case err == nil:
				a = existing // created meanwhile by another call: keep it
			case tfps.ErrorCode(err) == tfps.ENOTFOUND:
				if err := s.createAccount(ctx, tx, v.Create); err != nil {
					return fmt.Errorf("create account: %w", err)
				}
				a = v.Create
			default:
				return err
			}
			// Create and Update together: the account is made (or found),
			// then changed, as a service provider's user gets their own
			// account from the domain's default with the verified change.
			if v.Update != nil {
				if err := v.Update(a); err != nil {
					return err
				}
				if err := s.updateAccount(ctx, tx, a); err != nil {
					return err
				}
			}
		case v.Update != nil:
			cur, err := s.lockAccount(ctx, tx, v.User, v.Domain)
			if err != nil {
				return err
			}
			if err := v.Update(cur); err != nil {
				return err
			}
			if err := s.updateAccount(ctx, tx, cur); err != nil {
				return err
			}
			a = cur
		}
		if v.AllowRange != "" {
			if err := s.allowRange(ctx, tx, v.User, v.Domain, v.AllowRange); err != nil {
				return err
			}
		}
		ev := v.Event
		if err := s.insertVerificationEvent(ctx, tx, &ev); err != nil {
			return err
		}
		if v.Notify == nil {
			return nil
		}
		for _, n := range v.Notify(a) {
			if err := s.enqueue(ctx, tx, &n); err != nil {
				return fmt.Errorf("queue %s notification: %w", n.Kind, err)
			}
		}
		return nil
	})
}

package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/voipshield/tfps"
)

// ErrLeaseLost is returned when a worker records the outcome of an outbox row
// whose lease it no longer holds (it expired and another worker claimed it).
var ErrLeaseLost = errors.New("outbox lease lost")

// Enqueue stores n in the outbox in its own transaction: an empty n.ID is
// filled with a random id, an empty n.At with the store's clock, and an id
// already queued is a no-op (see enqueue).
func (s *Store) Enqueue(ctx context.Context, n *tfps.Notification) error {
	return s.withTx(ctx, func(tx *sql.Tx) error { return s.enqueue(ctx, tx, n) })
}

// enqueue stores n in the outbox inside a transaction of this package, so
// the change that caused it and its mail are committed together or not at
// all.
// An empty n.ID is filled with a random id; an empty n.At with the store's
// clock. Enqueueing an id that is already queued is a no-op, so a retried
// caller never sends a mail twice.
func (s *Store) enqueue(ctx context.Context, tx *sql.Tx, n *tfps.Notification) error {
	if n.ID == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generate notification id: %w", err)
		}
		n.ID = hex.EncodeToString(b)
	}
	now := s.Now().UTC()
	if n.At.IsZero() {
		n.At = now
	}
	if err := n.Validate(); err != nil {
		return err
	}
	payload, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode notification %s: %w", n.ID, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox (id, kind, username, domain, rate_key, payload, event_at, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (id) DO NOTHING`,
		n.ID, string(n.Kind), n.User, n.Domain, n.RateKey(), string(payload), ms(n.At), ms(now))
	if err != nil {
		return fmt.Errorf("enqueue notification %s: %w", n, err)
	}
	return nil
}

// ClaimOutbox leases up to limit due rows (pending, next attempt reached, no
// live lease) to owner until now+lease and returns them, oldest due first.
// A row is leased by one owner at a time, so two workers never send the same
// row while the lease lasts.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]tfps.OutboxEntry, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM outbox
		WHERE state = 'pending' AND next_attempt_at <= $1 AND lease_until <= $1
		ORDER BY next_attempt_at, created_at, id LIMIT $2`, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("find due outbox rows: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan outbox id: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find due outbox rows: %w", err)
	}
	var out []tfps.OutboxEntry
	for _, id := range ids {
		// The WHERE is evaluated again on the current row version, so of two
		// workers racing for the same row exactly one updates it.
		row := s.db.QueryRowContext(ctx, `UPDATE outbox SET lease_owner = $1, lease_until = $2
			WHERE id = $3 AND state = 'pending' AND next_attempt_at <= $4 AND lease_until <= $4
			RETURNING payload, rate_key, attempts, created_at, delivered, last_error`,
			owner, ms(now.Add(lease)), id, ms(now))
		e, err := scanEntry(row)
		if errors.Is(err, sql.ErrNoRows) {
			continue // another worker was faster
		}
		if err != nil {
			return out, fmt.Errorf("claim outbox row %s: %w", id, err)
		}
		out = append(out, *e)
	}
	return out, nil
}

func scanEntry(row interface{ Scan(...any) error }) (*tfps.OutboxEntry, error) {
	var e tfps.OutboxEntry
	var payload, delivered string
	var created int64
	if err := row.Scan(&payload, &e.RateKey, &e.Attempts, &created, &delivered, &e.LastError); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(payload), &e.Notification); err != nil {
		return nil, fmt.Errorf("decode notification: %w", err)
	}
	e.CreatedAt = fromMS(created)
	e.Delivered = splitList(delivered)
	return &e, nil
}

// ThrottleOutbox applies the per-account, per-kind rate limit to a claimed
// row before it is sent. For a row that is not throttled it returns zero
// values. Otherwise, if another mail of the same key went out less than the
// alert interval ago (or is being sent), the row is put back until that
// window ends and deferUntil says when. If the row may go, it holds the
// window for hold (while it is being sent), absorbs every other pending row
// of its key (state merged), and returns all rows merged into it so far, in
// event order, for the mail's summary.
func (s *Store) ThrottleOutbox(ctx context.Context, e *tfps.OutboxEntry, owner string, now time.Time, hold time.Duration) (deferUntil time.Time, summary []tfps.Notification, err error) {
	if e.RateKey == "" {
		return time.Time{}, nil, nil
	}
	id := e.Notification.ID
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		var until int64
		var holder string
		err := tx.QueryRowContext(ctx, `SELECT window_until, holder FROM outbox_rate WHERE rate_key = $1`, e.RateKey).Scan(&until, &holder)
		var res sql.Result
		switch {
		case errors.Is(err, sql.ErrNoRows):
			res, err = tx.ExecContext(ctx, `INSERT INTO outbox_rate (rate_key, window_until, holder) VALUES ($1, $2, $3) ON CONFLICT (rate_key) DO NOTHING`,
				e.RateKey, ms(now.Add(hold)), id)
		case err != nil:
			return fmt.Errorf("read rate window %s: %w", e.RateKey, err)
		case until > ms(now) && holder != id:
			deferUntil = fromMS(until)
			return s.deferRow(ctx, tx, id, owner, until)
		default:
			// Only if nobody took the window since we read it.
			res, err = tx.ExecContext(ctx, `UPDATE outbox_rate SET window_until = $1, holder = $2 WHERE rate_key = $3 AND window_until = $4 AND holder = $5`,
				ms(now.Add(hold)), id, e.RateKey, until, holder)
		}
		if err != nil {
			return fmt.Errorf("take rate window %s: %w", e.RateKey, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			// Lost a race for the window: try again shortly.
			deferUntil = now.Add(time.Second)
			return s.deferRow(ctx, tx, id, owner, ms(deferUntil))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'merged', merged_into = $1, lease_owner = '', lease_until = 0
			WHERE rate_key = $2 AND state = 'pending' AND id <> $1 AND (lease_until <= $3 OR lease_owner = $4)`,
			id, e.RateKey, ms(now), owner); err != nil {
			return fmt.Errorf("merge throttled alerts into %s: %w", id, err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT payload FROM outbox WHERE merged_into = $1 ORDER BY event_at, id`, id)
		if err != nil {
			return fmt.Errorf("read throttled alerts of %s: %w", id, err)
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			var n tfps.Notification
			if err := rows.Scan(&p); err != nil {
				return fmt.Errorf("scan throttled alert: %w", err)
			}
			if err := json.Unmarshal([]byte(p), &n); err != nil {
				return fmt.Errorf("decode throttled alert: %w", err)
			}
			summary = append(summary, n)
		}
		return rows.Err()
	})
	if err != nil {
		return time.Time{}, nil, err
	}
	return deferUntil, summary, nil
}

func (s *Store) deferRow(ctx context.Context, tx *sql.Tx, id, owner string, until int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET next_attempt_at = $1, lease_owner = '', lease_until = 0
		WHERE id = $2 AND lease_owner = $3 AND state = 'pending'`, until, id, owner); err != nil {
		return fmt.Errorf("defer throttled alert %s: %w", id, err)
	}
	return nil
}

// CompleteOutbox records that the row was delivered (delivered lists the
// channels; lastErr notes a channel or recipient that refused it for good)
// and, for a throttled row, starts its key's quiet window of interval.
func (s *Store) CompleteOutbox(ctx context.Context, e *tfps.OutboxEntry, owner string, now time.Time, interval time.Duration) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		if err := finishRow(ctx, tx, e, owner, `state = 'sent', sent_at = $1`, ms(now)); err != nil {
			return err
		}
		if e.RateKey != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox_rate SET window_until = $1 WHERE rate_key = $2 AND holder = $3`,
				ms(now.Add(interval)), e.RateKey, e.Notification.ID); err != nil {
				return fmt.Errorf("start rate window %s: %w", e.RateKey, err)
			}
		}
		return nil
	})
}

// RetryOutbox records a failed try (attempts+1, e.LastError, the channels
// already done) and releases the row until next.
func (s *Store) RetryOutbox(ctx context.Context, e *tfps.OutboxEntry, owner string, next time.Time) error {
	return finishRow(ctx, s.db, e, owner, `attempts = attempts + 1, next_attempt_at = $1`, ms(next))
}

// FailOutbox gives the row up (a final error, or retried too long). It stays
// in the outbox with its error; RequeueOutbox sends it again.
func (s *Store) FailOutbox(ctx context.Context, e *tfps.OutboxEntry, owner string, now time.Time) error {
	return finishRow(ctx, s.db, e, owner, `state = 'failed', attempts = attempts + 1, sent_at = $1`, ms(now))
}

// RenewOutbox extends owner's lease on row id until until, while a slow
// send goes on; ErrLeaseLost when the lease is no longer owner's (it ran out
// and another worker claimed the row, or the row was finished).
func (s *Store) RenewOutbox(ctx context.Context, id, owner string, until time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE outbox SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'pending'`, ms(until), id, owner)
	if err != nil {
		return fmt.Errorf("renew outbox lease %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("renew outbox lease %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("renew outbox lease %s: %w", id, ErrLeaseLost)
	}
	return nil
}

// ReleaseOutbox hands a claimed row back untouched (the worker is stopping),
// so another worker or the restarted one takes it without waiting for the
// lease to run out.
func (s *Store) ReleaseOutbox(ctx context.Context, id, owner string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE outbox SET lease_owner = '', lease_until = 0 WHERE id = $1 AND lease_owner = $2 AND state = 'pending'`, id, owner); err != nil {
		return fmt.Errorf("release outbox row %s: %w", id, err)
	}
	return nil
}

// finishRow writes the outcome of a try on a row owner holds: set (a constant
// assignment list using $1 = at) plus the channels done and the last error,
// and releases the lease. A row whose lease went to another worker is left
// alone and ErrLeaseLost returned.
func finishRow(ctx context.Context, q queryer, e *tfps.OutboxEntry, owner, set string, at int64) error {
	res, err := q.ExecContext(ctx, `UPDATE outbox SET `+set+`, delivered = $2, last_error = $3, lease_owner = '', lease_until = 0
		WHERE id = $4 AND lease_owner = $5 AND state = 'pending'`,
		at, joinList(e.Delivered), e.LastError, e.Notification.ID, owner)
	if err != nil {
		return fmt.Errorf("update outbox row %s: %w", e.Notification.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update outbox row %s: %w", e.Notification.ID, err)
	} else if n != 1 {
		return fmt.Errorf("update outbox row %s: %w", e.Notification.ID, ErrLeaseLost)
	}
	return nil
}

// RequeueOutbox puts a failed row back for an immediate new try (an operator
// fixed the relay password, say). Channels that refused it for good are tried
// again; channels that delivered it are not.
func (s *Store) RequeueOutbox(ctx context.Context, id string) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		var delivered string
		err := tx.QueryRowContext(ctx, `SELECT delivered FROM outbox WHERE id = $1 AND state = 'failed'`, id).Scan(&delivered)
		if errors.Is(err, sql.ErrNoRows) {
			return tfps.Errorf(tfps.ENOTFOUND, "no failed outbox row %q", id)
		}
		if err != nil {
			return fmt.Errorf("read outbox row %s: %w", id, err)
		}
		var keep []string
		for _, ch := range splitList(delivered) {
			if !strings.HasSuffix(ch, ":failed") {
				keep = append(keep, ch)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'pending', next_attempt_at = $1, attempts = 0, delivered = $2, lease_owner = '', lease_until = 0
			WHERE id = $3 AND state = 'failed'`, ms(s.Now()), joinList(keep), id); err != nil {
			return fmt.Errorf("requeue outbox row %s: %w", id, err)
		}
		return nil
	})
}

// OutboxRows lists outbox rows, newest first, optionally only one state.
func (s *Store) OutboxRows(ctx context.Context, state string, limit int) ([]tfps.OutboxRow, error) {
	if limit <= 0 || limit > tfps.MaxPageSize {
		limit = tfps.DefaultPageSize
	}
	q := `SELECT payload, rate_key, attempts, created_at, delivered, last_error, state, next_attempt_at, sent_at, merged_into FROM outbox`
	args := []any{}
	if state != "" {
		q += ` WHERE state = $1 ORDER BY created_at DESC, id DESC LIMIT $2`
		args = append(args, state, limit)
	} else {
		q += ` ORDER BY created_at DESC, id DESC LIMIT $1`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	defer rows.Close()
	var out []tfps.OutboxRow
	for rows.Next() {
		var r tfps.OutboxRow
		var payload, delivered string
		var created, next, sent int64
		if err := rows.Scan(&payload, &r.RateKey, &r.Attempts, &created, &delivered, &r.LastError, &r.State, &next, &sent, &r.MergedInto); err != nil {
			return nil, fmt.Errorf("scan outbox row: %w", err)
		}
		if err := json.Unmarshal([]byte(payload), &r.Notification); err != nil {
			return nil, fmt.Errorf("decode outbox row: %w", err)
		}
		r.CreatedAt, r.NextAttemptAt, r.SentAt = fromMS(created), fromMS(next), fromMS(sent)
		r.Delivered = splitList(delivered)
		out = append(out, r)
	}
	return out, rows.Err()
}

// OutboxBacklog counts pending rows and returns the creation time of the
// oldest, for metrics and health checks.
func (s *Store) OutboxBacklog(ctx context.Context) (pending int, oldest time.Time, err error) {
	var min sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'`).Scan(&pending, &min); err != nil {
		return 0, time.Time{}, fmt.Errorf("count outbox backlog: %w", err)
	}
	if min.Valid {
		oldest = fromMS(min.Int64)
	}
	return pending, oldest, nil
}

// PurgeOutbox deletes delivered and merged rows created before before, and
// rate windows that ended before it; failed rows are kept for the operator.
func (s *Store) PurgeOutbox(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE state IN ('sent', 'merged') AND created_at < $1`, ms(before))
		if err != nil {
			return fmt.Errorf("purge outbox: %w", err)
		}
		n, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox_rate WHERE window_until < $1`, ms(before)); err != nil {
			return fmt.Errorf("purge rate windows: %w", err)
		}
		return nil
	})
	return n, err
}

// DropOutbox deletes a failed or pending row that no worker holds: its mail
// is never sent. Sent and merged rows are history and stay (PurgeOutbox
// removes them with age).
func (s *Store) DropOutbox(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE id = $1 AND state IN ('failed', 'pending') AND (lease_owner = '' OR lease_until < $2)`, id, ms(s.Now()))
	if err != nil {
		return fmt.Errorf("drop outbox row %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tfps.Errorf(tfps.ENOTFOUND, "no failed or pending outbox row %q that is not being sent", id)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/voipshield/tfps"
)

// Daily statistics (account_daily, account_daily_countries) are kept by
// the decision-log writer: WriteDecisions adds each batch's counts in the
// transaction that inserts its rows, so they are exact whatever happens to
// the log later (retention) and need no nightly pass over it.

type dayKey struct{ user, domain, date string }

type dayAgg struct {
	s        tfps.DayStats
	src, dst map[string]bool
}

// aggregateDays sums the records of known accounts (LocalDate set) per
// account and local date.
func aggregateDays(recs []tfps.DecisionRecord) (map[dayKey]*dayAgg, []dayKey) {
	var by map[dayKey]*dayAgg
	var keys []dayKey
	for i := range recs {
		r := &recs[i]
		if r.LocalDate == "" {
			continue
		}
		if by == nil {
			by = map[dayKey]*dayAgg{}
		}
		k := dayKey{r.User, r.Domain, r.LocalDate}
		a := by[k]
		if a == nil {
			a = &dayAgg{s: tfps.DayStats{Date: r.LocalDate}, src: map[string]bool{}, dst: map[string]bool{}}
			by[k] = a
			keys = append(keys, k)
		}
		s := &a.s
		approved := r.Result == "approve" || !r.Enforced // monitor mode put the call through
		switch {
		case approved && r.OffHours:
			s.ApprovedOff++
			s.PeakOff = max(s.PeakOff, r.ConcurrentCalls)
		case approved:
			s.Approved++
			s.Peak = max(s.Peak, r.ConcurrentCalls)
		case r.Result == "reject" && r.OffHours:
			s.RejectedOff++
		case r.Result == "reject":
			s.Rejected++
		case r.Result == "verify" && r.OffHours:
			s.VerifiedOff++
		case r.Result == "verify":
			s.Verified++
		}
		if approved {
			if cc := r.SourceCountry; cc != "" && cc != "ZZ" {
				a.src[cc] = true
			}
			if cc := r.DestinationCountry; cc != "" {
				a.dst[cc] = true
			}
		}
	}
	return by, keys
}

// execer runs one statement: a *sql.Tx, or a pgx transaction inside COPY's.
type execer func(ctx context.Context, query string, args ...any) error

// addDailyStats upserts the day counts of recs with exec, in the caller's
// transaction. Rows go in multi-row statements of perStmt keys; the keys of
// one statement are distinct (PostgreSQL refuses ON CONFLICT DO UPDATE
// touching one row twice).
func (s *Store) addDailyStats(ctx context.Context, exec execer, recs []tfps.DecisionRecord) error {
	by, keys := aggregateDays(recs)
	if len(keys) == 0 {
		return nil
	}
	maxFn := "max"
	if s.dialect == Postgres {
		maxFn = "GREATEST"
	}
	const perStmt = 50
	for start := 0; start < len(keys); start += perStmt {
		chunk := keys[start:min(start+perStmt, len(keys))]
		var b strings.Builder
		b.WriteString(`INSERT INTO account_daily (username, domain, local_date, approved, approved_off, rejected, rejected_off, verified, verified_off, peak, peak_off) VALUES `)
		args := make([]any, 0, len(chunk)*11)
		for i, k := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for j := range 11 {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", len(args)+j+1)
			}
			b.WriteString(")")
			d := &by[k].s
			args = append(args, k.user, k.domain, k.date, d.Approved, d.ApprovedOff, d.Rejected, d.RejectedOff, d.Verified, d.VerifiedOff, d.Peak, d.PeakOff)
		}
		b.WriteString(` ON CONFLICT (username, domain, local_date) DO UPDATE SET
			approved = account_daily.approved + excluded.approved, approved_off = account_daily.approved_off + excluded.approved_off,
			rejected = account_daily.rejected + excluded.rejected, rejected_off = account_daily.rejected_off + excluded.rejected_off,
			verified = account_daily.verified + excluded.verified, verified_off = account_daily.verified_off + excluded.verified_off,
			peak = ` + maxFn + `(account_daily.peak, excluded.peak), peak_off = ` + maxFn + `(account_daily.peak_off, excluded.peak_off)`)
		if err := exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("add daily statistics of %d account days: %w", len(chunk), err)
		}
	}
	var rows [][5]string
	for _, k := range keys {
		a := by[k]
		for _, cc := range sortedKeys(a.src) {
			rows = append(rows, [5]string{k.user, k.domain, k.date, "source", cc})
		}
		for _, cc := range sortedKeys(a.dst) {
			rows = append(rows, [5]string{k.user, k.domain, k.date, "destination", cc})
		}
	}
	for start := 0; start < len(rows); start += perStmt * 2 {
		chunk := rows[start:min(start+perStmt*2, len(rows))]
		var b strings.Builder
		b.WriteString(`INSERT INTO account_daily_countries (username, domain, local_date, direction, country) VALUES `)
		args := make([]any, 0, len(chunk)*5)
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5)
			args = append(args, r[0], r[1], r[2], r[3], r[4])
		}
		b.WriteString(` ON CONFLICT DO NOTHING`)
		if err := exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("add countries seen: %w", err)
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func txExec(tx *sql.Tx) execer {
	return func(ctx context.Context, q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}
}

// DailyStats returns the account's days from from to to (YYYY-MM-DD, both
// included) that have statistics, oldest first, with the countries seen.
func (s *Store) DailyStats(ctx context.Context, user, domain, from, to string) ([]tfps.DayStats, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT local_date, approved, approved_off, rejected, rejected_off, verified, verified_off, peak, peak_off
		FROM account_daily WHERE username = $1 AND domain = $2 AND local_date >= $3 AND local_date <= $4 ORDER BY local_date`, user, domain, from, to)
	if err != nil {
		return nil, fmt.Errorf("query daily statistics of %s@%s: %w", user, domain, err)
	}
	defer rows.Close()
	var out []tfps.DayStats
	idx := map[string]int{}
	for rows.Next() {
		var d tfps.DayStats
		if err := rows.Scan(&d.Date, &d.Approved, &d.ApprovedOff, &d.Rejected, &d.RejectedOff, &d.Verified, &d.VerifiedOff, &d.Peak, &d.PeakOff); err != nil {
			return nil, fmt.Errorf("scan daily statistics: %w", err)
		}
		idx[d.Date] = len(out)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read daily statistics: %w", err)
	}
	crows, err := s.db.QueryContext(ctx, `SELECT local_date, direction, country FROM account_daily_countries
		WHERE username = $1 AND domain = $2 AND local_date >= $3 AND local_date <= $4 ORDER BY local_date, direction, country`, user, domain, from, to)
	if err != nil {
		return nil, fmt.Errorf("query countries seen by %s@%s: %w", user, domain, err)
	}
	defer crows.Close()
	for crows.Next() {
		var date, dir, cc string
		if err := crows.Scan(&date, &dir, &cc); err != nil {
			return nil, fmt.Errorf("scan countries seen: %w", err)
		}
		i, ok := idx[date]
		if !ok {
			continue
		}
		if dir == "source" {
			out[i].SourceCountries = append(out[i].SourceCountries, cc)
		} else {
			out[i].DestinationCountries = append(out[i].DestinationCountries, cc)
		}
	}
	return out, crows.Err()
}

// PurgeHistory deletes the daily statistics of local dates before before
// (YYYY-MM-DD) and says how many day rows went.
func (s *Store) PurgeHistory(ctx context.Context, before string) (int64, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM account_daily WHERE local_date < $1`, before)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM account_daily_countries WHERE local_date < $1`, before)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge history before %s: %w", before, err)
	}
	return n, nil
}

// Learning marks (account_learning): the last local date learning applied
// limits to an account, and the last digest mailed.
const (
	MarkApply  = "apply"
	MarkDigest = "digest"
)

// LearningMark returns the date of the last mark of kind, "" when none.
func (s *Store) LearningMark(ctx context.Context, user, domain, kind string) (string, error) {
	var d string
	err := s.db.QueryRowContext(ctx, `SELECT last_date FROM account_learning WHERE username = $1 AND domain = $2 AND kind = $3`, user, domain, kind).Scan(&d)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read learning mark of %s@%s: %w", user, domain, err)
	}
	return d, nil
}

// setLearningMark records date as the last mark of kind, in tx (with the
// change it marks and its mail).
func (s *Store) setLearningMark(ctx context.Context, tx *sql.Tx, user, domain, kind, date string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO account_learning (username, domain, kind, last_date, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (username, domain, kind) DO UPDATE SET last_date = excluded.last_date, updated_at = excluded.updated_at`, user, domain, kind, date, ms(now))
	if err != nil {
		return fmt.Errorf("set learning mark of %s@%s: %w", user, domain, err)
	}
	return nil
}

// MarkLearningDigest queues the learning digest mail n of user@domain and
// records date as its last digest, in one transaction: the mail is queued
// once per mark.
func (s *Store) MarkLearningDigest(ctx context.Context, user, domain, date string, now time.Time, n *tfps.Notification) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		if err := s.enqueue(ctx, tx, n); err != nil {
			return err
		}
		return s.setLearningMark(ctx, tx, user, domain, MarkDigest, date, now)
	})
}

// MarkLearningApply records date as the last day learning looked at
// user@domain's limits and, in the same transaction, applies change to the
// account under its row lock when change is not nil. change returns the
// notification of the change it made, or nil when it left the account as
// it was (then only the mark is written); the result reports whether the
// account changed.
func (s *Store) MarkLearningApply(ctx context.Context, user, domain, date string, now time.Time, change func(a *tfps.Account) (*tfps.Notification, error)) (bool, error) {
	changed := false
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if change != nil {
			a, err := s.lockAccount(ctx, tx, user, domain)
			if err != nil {
				return err
			}
			n, err := change(a)
			if err != nil {
				return err
			}
			if n != nil {
				if err := s.updateAccount(ctx, tx, a); err != nil {
					return err
				}
				if err := s.enqueue(ctx, tx, n); err != nil {
					return err
				}
				changed = true
			}
		}
		return s.setLearningMark(ctx, tx, user, domain, MarkApply, date, now)
	})
	if err != nil {
		return false, err
	}
	return changed, nil
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/voipshield/tfps"
)

const accountColumns = `id, username, domain, email, cc_calls, cc_calls_off, daily_quota, daily_quota_off,
	source_countries, destination_countries, blocked, language, pin_hash, home_country, created_at, updated_at, mode,
	timezone, business_hours, verified_limits, profile`

// isUnique reports whether err is a unique-constraint violation in either dialect.
func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func joinList(l []string) string { return strings.Join(l, ",") }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// verifiedText stores an account's proved limits as a JSON list ("" for
// none): a handful of entries read with the account, never queried apart.
func verifiedText(v []tfps.VerifiedLimit) string {
	if len(v) == 0 {
		return ""
	}
	b, _ := json.Marshal(v) // plain strings, ints and times: cannot fail
	return string(b)
}

func validateAccount(a *tfps.Account) error {
	switch {
	case strings.TrimSpace(a.User) == "":
		return tfps.Errorf(tfps.EINVALID, "user: required")
	case strings.TrimSpace(a.Domain) == "":
		return tfps.Errorf(tfps.EINVALID, "domain: required")
	case a.ConcurrentCalls < 0 || a.ConcurrentCallsOff < 0 || a.DailyQuota < 0 || a.DailyQuotaOff < 0:
		return tfps.Errorf(tfps.EINVALID, "limits must not be negative")
	case len(a.Profile) > 64:
		return tfps.Errorf(tfps.EINVALID, "profile: longer than 64 characters")
	case !a.Mode.Valid():
		return tfps.Errorf(tfps.EINVALID, "mode: %q is not enforce, monitor or empty", a.Mode)
	}
	return nil
}

// CreateAccount inserts a; a user+domain that already exists is reported as
// a tfps.ECONFLICT error naming it.
func (s *Store) CreateAccount(ctx context.Context, a *tfps.Account) error {
	return s.withTx(ctx, func(tx *sql.Tx) error { return s.createAccount(ctx, tx, a) })
}

// createAccount is CreateAccount inside the caller's transaction.
func (s *Store) createAccount(ctx context.Context, tx *sql.Tx, a *tfps.Account) error {
	if err := validateAccount(a); err != nil {
		return err
	}
	now := s.Now().UTC()
	a.CreatedAt, a.UpdatedAt = now, now
	err := tx.QueryRowContext(ctx, `INSERT INTO accounts (username, domain, email, cc_calls, cc_calls_off, daily_quota, daily_quota_off,
		source_countries, destination_countries, blocked, language, pin_hash, home_country, created_at, updated_at, mode,
		timezone, business_hours, verified_limits, profile)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) RETURNING id`,
		a.User, a.Domain, a.Email, a.ConcurrentCalls, a.ConcurrentCallsOff, a.DailyQuota, a.DailyQuotaOff,
		joinList(a.SourceCountries), joinList(a.DestinationCountries), boolInt(a.Blocked), a.Language, a.PINHash, a.HomeCountry,
		ms(now), ms(now), string(a.Mode), a.Timezone, a.BusinessHours, verifiedText(a.Verified), a.Profile).Scan(&a.ID)
	if isUnique(err) {
		return &tfps.Error{Code: tfps.ECONFLICT, Message: fmt.Sprintf("account %s@%s already exists", a.User, a.Domain), Err: err}
	}
	if err != nil {
		return fmt.Errorf("insert account %s@%s: %w", a.User, a.Domain, err)
	}
	return nil
}

func scanAccount(row interface{ Scan(...any) error }) (*tfps.Account, error) {
	var a tfps.Account
	var src, dst, mode string
	var blocked int
	var created, updated int64
	var verified string
	if err := row.Scan(&a.ID, &a.User, &a.Domain, &a.Email, &a.ConcurrentCalls, &a.ConcurrentCallsOff, &a.DailyQuota, &a.DailyQuotaOff,
		&src, &dst, &blocked, &a.Language, &a.PINHash, &a.HomeCountry, &created, &updated, &mode,
		&a.Timezone, &a.BusinessHours, &verified, &a.Profile); err != nil {
		return nil, err
	}
	if verified != "" {
		if err := json.Unmarshal([]byte(verified), &a.Verified); err != nil {
			return nil, fmt.Errorf("account %s@%s: verified_limits: %w", a.User, a.Domain, err)
		}
	}
	a.SourceCountries, a.DestinationCountries = splitList(src), splitList(dst)
	a.Blocked = blocked != 0
	a.Mode = tfps.Mode(mode)
	a.CreatedAt, a.UpdatedAt = fromMS(created), fromMS(updated)
	return &a, nil
}

// GetAccount returns the account user@domain or a tfps.ENOTFOUND error.
func (s *Store) GetAccount(ctx context.Context, user, domain string) (*tfps.Account, error) {
	return getAccount(ctx, s.db, user, domain, "")
}

// lockAccount reads user@domain inside the caller's transaction for a
// read-modify-write (ChangeAccount, RecordVerification). On PostgreSQL the row stays locked until tx ends, so a
// concurrent change waits instead of being overwritten; SQLite transactions
// here take the write lock at BEGIN (_txlock=immediate) anyway.
func (s *Store) lockAccount(ctx context.Context, tx *sql.Tx, user, domain string) (*tfps.Account, error) {
	lock := ""
	if s.dialect == Postgres {
		lock = " FOR UPDATE"
	}
	return getAccount(ctx, tx, user, domain, lock)
}

func getAccount(ctx context.Context, q queryer, user, domain, suffix string) (*tfps.Account, error) {
	a, err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = $1 AND domain = $2`+suffix, user, domain))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tfps.Errorf(tfps.ENOTFOUND, "account %s@%s not found", user, domain)
	}
	if err != nil {
		return nil, fmt.Errorf("get account %s@%s: %w", user, domain, err)
	}
	return a, nil
}

// ListAccounts returns a page of accounts ordered by domain and user, and
// the total number matching the filter.
func (s *Store) ListAccounts(ctx context.Context, f tfps.AccountFilter) ([]*tfps.Account, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = tfps.DefaultPageSize
	}
	if limit > tfps.MaxPageSize {
		limit = tfps.MaxPageSize
	}
	if f.Offset < 0 {
		return nil, 0, tfps.Errorf(tfps.EINVALID, "offset: must not be negative")
	}
	where, args := "", []any{}
	if f.Domain != "" {
		where, args = " WHERE domain = $1", append(args, f.Domain)
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count accounts: %w", err)
	}
	n := len(args)
	out, err := s.queryAccounts(ctx, fmt.Sprintf(`SELECT %s FROM accounts%s ORDER BY domain, username LIMIT $%d OFFSET $%d`, accountColumns, where, n+1, n+2),
		append(args, limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list accounts: %w", err)
	}
	return out, total, nil
}

// queryAccounts runs a SELECT of accountColumns and scans every row.
func (s *Store) queryAccounts(ctx context.Context, query string, args ...any) ([]*tfps.Account, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*tfps.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("scan account: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// UpdateAccount stores every field of a (matched by user+domain) and
// refreshes a.UpdatedAt.
func (s *Store) UpdateAccount(ctx context.Context, a *tfps.Account) error {
	return s.withTx(ctx, func(tx *sql.Tx) error { return s.updateAccount(ctx, tx, a) })
}

// updateAccount is UpdateAccount inside the caller's transaction.
func (s *Store) updateAccount(ctx context.Context, tx *sql.Tx, a *tfps.Account) error {
	if err := validateAccount(a); err != nil {
		return err
	}
	a.UpdatedAt = s.Now().UTC()
	res, err := tx.ExecContext(ctx, `UPDATE accounts SET email = $1, cc_calls = $2, cc_calls_off = $3, daily_quota = $4, daily_quota_off = $5,
		source_countries = $6, destination_countries = $7, blocked = $8, language = $9, pin_hash = $10, home_country = $11, updated_at = $12,
		mode = $13, timezone = $14, business_hours = $15, verified_limits = $16, profile = $17
		WHERE username = $18 AND domain = $19`,
		a.Email, a.ConcurrentCalls, a.ConcurrentCallsOff, a.DailyQuota, a.DailyQuotaOff,
		joinList(a.SourceCountries), joinList(a.DestinationCountries), boolInt(a.Blocked), a.Language, a.PINHash, a.HomeCountry,
		ms(a.UpdatedAt), string(a.Mode), a.Timezone, a.BusinessHours, verifiedText(a.Verified), a.Profile, a.User, a.Domain)
	if err != nil {
		return fmt.Errorf("update account %s@%s: %w", a.User, a.Domain, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tfps.Errorf(tfps.ENOTFOUND, "account %s@%s not found", a.User, a.Domain)
	}
	return nil
}

// ChangeAccount reads user@domain under its row lock, lets change modify
// it and stores the result, in one transaction, and returns the account as
// stored: a concurrent change waits instead of being overwritten (the
// admin API's partial updates). An error from change leaves the account as
// it was and is returned as it is.
func (s *Store) ChangeAccount(ctx context.Context, user, domain string, change func(a *tfps.Account) error) (*tfps.Account, error) {
	var out *tfps.Account
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		a, err := s.lockAccount(ctx, tx, user, domain)
		if err != nil {
			return err
		}
		if err := change(a); err != nil {
			return err
		}
		if err := s.updateAccount(ctx, tx, a); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteAccount removes user@domain (tfpsctl remove).
func (s *Store) DeleteAccount(ctx context.Context, user, domain string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM accounts WHERE username = $1 AND domain = $2`, user, domain)
	if err != nil {
		return fmt.Errorf("delete account %s@%s: %w", user, domain, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tfps.Errorf(tfps.ENOTFOUND, "account %s@%s not found", user, domain)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/voipshield/tfps"
)

// LockAccountTx reads user@domain for a read-modify-write inside tx (the
// admin API's block, countries and partial updates). On PostgreSQL the row
// stays locked until tx ends, so a concurrent change (another operator, the
// IVR adding a country) waits instead of being overwritten; SQLite allows
// one writer at a time anyway. Unknown accounts are tfps.ENOTFOUND.
func (s *Store) LockAccountTx(ctx context.Context, tx *sql.Tx, user, domain string) (*tfps.Account, error) {
	q := `SELECT ` + accountColumns + ` FROM accounts WHERE username = $1 AND domain = $2`
	if s.dialect == Postgres {
		q += ` FOR UPDATE`
	}
	a, err := scanAccount(tx.QueryRowContext(ctx, q, user, domain))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tfps.Errorf(tfps.ENOTFOUND, "account %s@%s not found", user, domain)
	}
	if err != nil {
		return nil, fmt.Errorf("lock account %s@%s: %w", user, domain, err)
	}
	return a, nil
}

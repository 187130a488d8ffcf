package store

import (
	"context"
	"database/sql"

	tfps "github.com/voipshield/tfps"
)

// Unexported functions the external tests call.
var (
	DecisionQuery = decisionQuery
	MS            = ms
)

// WithTx runs fn in one transaction, as the intent-level methods do.
func (s *Store) WithTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.withTx(ctx, fn)
}

// EnqueueIn writes an outbox row inside tx.
func (s *Store) EnqueueIn(ctx context.Context, tx *sql.Tx, n *tfps.Notification) error {
	return s.enqueue(ctx, tx, n)
}

// CreateAccountIn creates an account inside tx.
func (s *Store) CreateAccountIn(ctx context.Context, tx *sql.Tx, a *tfps.Account) error {
	return s.createAccount(ctx, tx, a)
}

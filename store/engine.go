package store

import (
	"context"
	"fmt"

	"github.com/voipshield/tfps"
)

// The methods below let *Store serve the decision engine directly
// (engine.Accounts, engine.Lists, engine.Changes; engine.DecisionLog is
// WriteDecisions in decisionlog_batch.go). They are thin: the engine caches their answers.

// AccountByUser is GetAccount under the name the engine asks for.
func (s *Store) AccountByUser(ctx context.Context, user, domain string) (*tfps.Account, error) {
	return s.GetAccount(ctx, user, domain)
}

// BlacklistEntries returns every blacklist entry of every kind.
func (s *Store) BlacklistEntries(ctx context.Context) ([]tfps.BlacklistEntry, error) {
	return s.ListBlacklist(ctx, "")
}

// ChangeVersion returns the counter that triggers (migration 00003) bump on
// every change to accounts or blacklists, from any writer.
func (s *Store) ChangeVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, `SELECT version FROM change_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read change version: %w", err)
	}
	return v, nil
}

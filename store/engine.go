package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/voipshield/tfps"
)

// The methods below let *Store serve the decision engine directly
// (engine.Accounts, engine.Lists, engine.Changes; engine.DecisionLog is
// WriteDecisions in decisionlog_batch.go). They are thin: the engine caches their answers.

// AccountByUser is GetAccount under the name the engine asks for.
func (s *Store) AccountByUser(ctx context.Context, user, domain string) (*tfps.Account, error) {
	return s.GetAccount(ctx, user, domain)
}

// accountsPerQuery bounds one AccountsByName query (two parameters each).
const accountsPerQuery = 250

// AccountsByName returns the accounts among names that exist, in any order,
// a few hundred per query. The engine re-reads its cached accounts with it
// after a change instead of forgetting them all.
func (s *Store) AccountsByName(ctx context.Context, names []tfps.AccountName) ([]*tfps.Account, error) {
	var out []*tfps.Account
	var b strings.Builder
	args := make([]any, 0, 2*min(len(names), accountsPerQuery))
	for start := 0; start < len(names); start += accountsPerQuery {
		chunk := names[start:min(start+accountsPerQuery, len(names))]
		b.Reset()
		b.WriteString("SELECT " + accountColumns + " FROM accounts WHERE (username, domain) IN (")
		args = args[:0]
		for i, n := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "($%d, $%d)", 2*i+1, 2*i+2)
			args = append(args, n.User, n.Domain)
		}
		b.WriteByte(')')
		found, err := s.queryAccounts(ctx, b.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("read %d accounts: %w", len(chunk), err)
		}
		out = append(out, found...)
	}
	return out, nil
}

// SomeAccounts returns up to limit accounts, in id order. The engine fills
// its cache with every account when there are few enough.
func (s *Store) SomeAccounts(ctx context.Context, limit int) ([]*tfps.Account, error) {
	out, err := s.queryAccounts(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	return out, nil
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

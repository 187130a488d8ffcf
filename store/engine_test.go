package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
)

// Every write to accounts or blacklists, by any writer, moves the change
// version the engines poll; reads do not.
func TestChangeVersionMovesOnEveryWrite(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		last, err := s.ChangeVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		expectMove := func(what string, moved bool) {
			t.Helper()
			v, err := s.ChangeVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if (v > last) != moved {
				t.Errorf("%s: version %d -> %d, moved=%v want %v", what, last, v, v > last, moved)
			}
			last = v
		}
		a := &tfps.Account{User: "alice", Domain: "pbx.example", ConcurrentCalls: 2, DailyQuota: 10}
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		expectMove("create account", true)
		if _, err := s.AccountByUser(ctx, "alice", "pbx.example"); err != nil {
			t.Fatal(err)
		}
		expectMove("read account", false)
		a.Blocked = true
		if err := s.UpdateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		expectMove("block account", true)
		if err := s.AddBlacklist(ctx, &tfps.BlacklistEntry{Kind: tfps.BlacklistIP, Value: "203.0.113.0/24", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		expectMove("add blacklist entry", true)
		entries, err := s.BlacklistEntries(ctx)
		if err != nil || len(entries) != 1 {
			t.Fatalf("BlacklistEntries = %v, %v; want the one entry", entries, err)
		}
		expectMove("list blacklist", false)
		if err := s.RemoveBlacklist(ctx, tfps.BlacklistIP, "203.0.113.0/24"); err != nil {
			t.Fatal(err)
		}
		expectMove("remove blacklist entry", true)
		if err := s.DeleteAccount(ctx, "alice", "pbx.example"); err != nil {
			t.Fatal(err)
		}
		expectMove("delete account", true)
		if _, err := s.AccountByUser(ctx, "alice", "pbx.example"); tfps.ErrorCode(err) != tfps.ENOTFOUND {
			t.Errorf("AccountByUser after delete: %v, want ENOTFOUND", err)
		}
	})
}

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
)

// An account's mode survives every read path the engine and the API use,
// and the database refuses a mode the gateway does not know.
func TestAccountMode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a := newAccount("4004")
		a.Mode = tfps.ModeMonitor
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		plain := newAccount("4005")
		if err := s.CreateAccount(ctx, plain); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetAccount(ctx, "4004", "pbx.example.com")
		if err != nil || got.Mode != tfps.ModeMonitor {
			t.Fatalf("get: mode %q, %v", got.Mode, err)
		}
		byName, err := s.AccountsByName(ctx, []tfps.AccountName{{User: "4004", Domain: "pbx.example.com"}, {User: "4005", Domain: "pbx.example.com"}})
		if err != nil || len(byName) != 2 {
			t.Fatalf("by name: %v %v", byName, err)
		}
		for _, b := range byName {
			want := tfps.ModeInherit
			if b.User == "4004" {
				want = tfps.ModeMonitor
			}
			if b.Mode != want {
				t.Errorf("by name %s: mode %q, want %q", b.User, b.Mode, want)
			}
		}
		got.Mode = tfps.ModeEnforce
		if err := s.UpdateAccount(ctx, got); err != nil {
			t.Fatal(err)
		}
		all, err := s.SomeAccounts(ctx, 10)
		if err != nil || len(all) != 2 || all[0].Mode != tfps.ModeEnforce {
			t.Fatalf("some accounts after update: %+v %v", all, err)
		}
		got.Mode = "watch"
		if err := s.UpdateAccount(ctx, got); tfps.ErrorCode(err) != tfps.EINVALID {
			t.Errorf("update with mode watch: %v, want invalid", err)
		}
		if _, err := s.DB().ExecContext(ctx, `UPDATE accounts SET mode = 'watch' WHERE username = '4005'`); err == nil {
			t.Errorf("the database stored mode 'watch'")
		}
	})
}

// The decision log keeps enforced=false of monitor-mode rows through both
// writers (SQLite INSERT, PostgreSQL COPY); rows written without the column
// (older gateways during an upgrade) read as enforced.
func TestDecisionLogEnforced(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		at := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
		recs := []tfps.DecisionRecord{
			{At: at, CallID: "enforced", User: "1001", Domain: "pbx.example.com", Result: "reject", Code: "R06", Enforced: true},
			{At: at, CallID: "monitored", User: "1001", Domain: "pbx.example.com", Result: "reject", Code: "R06", Enforced: false},
		}
		if err := s.WriteDecisions(ctx, recs); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO decision_log (at, call_id, username, domain, result, code) VALUES ($1, 'old', '1001', 'pbx.example.com', 'approve', 'A00')`, store.MS(at)); err != nil {
			t.Fatal(err)
		}
		rows, err := s.Decisions(ctx, store.DecisionFilter{User: "1001", Domain: "pbx.example.com"})
		if err != nil || len(rows) != 3 {
			t.Fatalf("decisions: %+v %v", rows, err)
		}
		want := map[string]bool{"enforced": true, "monitored": false, "old": true}
		for _, r := range rows {
			if r.Enforced != want[r.CallID] {
				t.Errorf("%s: enforced %v, want %v", r.CallID, r.Enforced, want[r.CallID])
			}
		}
	})
}

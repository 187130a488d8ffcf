package engine_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// readCountingAccounts counts the engine's account reads: one by one and in
// bulk (the re-read after a change, the preload of every account).
type readCountingAccounts struct {
	*store.Store
	one, bulk atomic.Int64
}

func (c *readCountingAccounts) AccountByUser(ctx context.Context, user, domain string) (*tfps.Account, error) {
	c.one.Add(1)
	return c.Store.AccountByUser(ctx, user, domain)
}

func (c *readCountingAccounts) AccountsByName(ctx context.Context, names []tfps.AccountName) ([]*tfps.Account, error) {
	c.bulk.Add(1)
	return c.Store.AccountsByName(ctx, names)
}

func (c *readCountingAccounts) SomeAccounts(ctx context.Context, limit int) ([]*tfps.Account, error) {
	c.bulk.Add(1)
	return c.Store.SomeAccounts(ctx, limit)
}

// After a change to one account, RefreshAccount makes that account's next
// decision see it (a blocked account, a new account, a deleted one) with
// one query, and re-reads no other account: a change made behind the
// engine's back to another account stays unseen until Refresh.
func TestRefreshAccountReadsOnlyThatAccount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		preload int
	}{{"all accounts cached", 0}, {"accounts cached as used", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpen(t, store.SQLite)
			accts := &readCountingAccounts{Store: db}
			opts := baseOptions(t)
			opts.PreloadAccounts = tc.preload
			opts.CacheRefresh = time.Hour // no reload of its own during the test
			r := newRigReading(t, db, accts, opts)
			users := []string{"3001", "3002", "3003", "3004"}
			for _, u := range users[:3] {
				r.account(t, u, func(a *tfps.Account) { a.DailyQuota = 1000 })
			}
			decide := func(u string) engine.Decision {
				return r.decide(t, call(func(c *engine.Call) { c.User = u; c.Caller = "" }))
			}
			for _, u := range users { // 3004 does not exist yet: unknown
				decide(u)
			}

			block := func(u string) {
				a, err := db.GetAccount(ctx, u, "pbx.example")
				if err != nil {
					t.Fatal(err)
				}
				a.Blocked = true
				if err := db.UpdateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			block("3001")
			block("3002") // not refreshed
			if err := db.DeleteAccount(ctx, "3003", "pbx.example"); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateAccount(ctx, &tfps.Account{User: "3004", Domain: "pbx.example", ConcurrentCalls: 2, DailyQuota: 1000,
				SourceCountries: []string{"US"}, DestinationCountries: []string{"US", "GB"}, HomeCountry: "US"}); err != nil {
				t.Fatal(err)
			}
			one, bulk := accts.one.Load(), accts.bulk.Load()
			for _, u := range []string{"3001", "3003", "3004"} {
				if err := r.eng.RefreshAccount(ctx, u, "pbx.example"); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]engine.Code{"3001": engine.R17, "3002": engine.A00, "3003": engine.V01, "3004": engine.A00}
			for _, u := range users {
				if d := decide(u); d.Code != want[u] {
					t.Errorf("%s after refreshing 3001, 3003 and 3004: %s (%s), want %s", u, d.Code, d.Reason, want[u])
				}
			}
			if n := accts.one.Load() - one; n != 3 {
				t.Errorf("%d single-account queries, want 3 (one per refreshed account, none on the decisions)", n)
			}
			if n := accts.bulk.Load() - bulk; n != 0 {
				t.Errorf("%d bulk account queries, want none", n)
			}

			r.refresh(t)
			if d := decide("3002"); d.Code != engine.R17 {
				t.Errorf("3002 after Refresh: %s (%s), want R17", d.Code, d.Reason)
			}
		})
	}
}

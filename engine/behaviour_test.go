package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// The policy order is TFPS's (docs/engine.md, "Check order").
func TestCheckOrder(t *testing.T) {
	r := newRig(t, store.SQLite, baseOptions(t))
	want := []string{"injection", "user_agent", "ip_blacklist", "reputation", "number_blacklist", "ab_repeat", "verification_failures",
		"account", "account_blocked", "source_country", "destination_country", "number_range", "range_hopping", "fraud_rules", "business_hours",
		"concurrent_calls", "daily_quota"}
	if got := r.eng.Checks(); !slices.Equal(got, want) {
		t.Errorf("checks run in order\n%v\nwant\n%v", got, want)
	}
}

// The first failing check decides: checks after it are not evaluated and
// their counters stay untouched.
func TestFirstFailingCheckDecides(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			opts := baseOptions(t)
			opts.LimitAction = engine.LimitReject
			r := newRig(t, dialect, opts)
			r.account(t, "1001", nil)
			r.account(t, "blocked", func(a *tfps.Account) { a.Blocked = true })
			day := inHours.Format("2006-01-02")
			abCount := func(user, caller string) int {
				n, err := r.st.PairAttempts(ctx, user, "pbx.example", caller, "+442079460000")
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			daily := func(user string) int64 {
				n, err := r.st.DailyCount(ctx, user, "pbx.example", day, false)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}

			// R01 decides before reputation and A->B: neither runs.
			d := r.decide(t, call(func(c *engine.Call) { c.UserAgent = "sipcli/v1"; c.Caller = "100" }))
			if d.Code != engine.R01 || r.rep.calls.Load() != 0 || abCount("1001", "100") != 0 || daily("1001") != 0 {
				t.Errorf("R01: code %s, reputation asked %d times, A->B %d, daily %d; want R01 and nothing counted", d.Code, r.rep.calls.Load(), abCount("1001", "100"), daily("1001"))
			}
			// R10 decides after A->B (counted) and before the quota (untouched).
			d = r.decide(t, call(func(c *engine.Call) { c.ConcurrentCalls = 5; c.Caller = "101" }))
			if d.Code != engine.R10 || abCount("1001", "101") != 1 || daily("1001") != 0 || d.Facts.ABAttempts != 1 {
				t.Errorf("R10: code %s, A->B %d, daily %d; want R10, A->B 1, daily 0", d.Code, abCount("1001", "101"), daily("1001"))
			}
			// R17 (blocked account) leaves its quota untouched.
			d = r.decide(t, call(func(c *engine.Call) { c.User = "blocked"; c.Caller = "102" }))
			if d.Code != engine.R17 || daily("blocked") != 0 || abCount("blocked", "102") != 1 {
				t.Errorf("R17: code %s, daily %d, A->B %d", d.Code, daily("blocked"), abCount("blocked", "102"))
			}
			// V02 (verify) leaves the quota untouched.
			d = r.decide(t, call(func(c *engine.Call) { c.SourceIP = ipGB; c.Caller = "103" }))
			if d.Code != engine.V02 || daily("1001") != 0 {
				t.Errorf("V02: code %s, daily %d", d.Code, daily("1001"))
			}
			// R13 tripping the A->B limit leaves the quota untouched.
			for i := range 6 {
				d = r.decide(t, call(func(c *engine.Call) { c.Caller = "104"; c.Number = "+442079460000" }))
				if i < 3 && d.Code != engine.A00 || i >= 3 && i < 5 && d.Code != engine.V04 {
					t.Fatalf("attempt %d: %s %s", i+1, d.Code, d.Reason)
				}
			}
			if d.Code != engine.R13 || daily("1001") != 3 {
				t.Errorf("6th attempt: %s with daily %d; want R13, daily still 3", d.Code, daily("1001"))
			}
			// Only approved calls count toward the quota.
			if d.Facts.DailyCount != 0 {
				t.Errorf("R13 decision reports daily count %d from a step that did not run", d.Facts.DailyCount)
			}
		})
	}
}

// Business hours choose the limits by local wall-clock time in the
// schedule's zone, across DST changes, and the local date flips at local
// midnight.
func TestBusinessHoursAcrossDSTAndMidnight(t *testing.T) {
	berlin := mustLoc("Europe/Berlin")
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name     string
		schedule string
		at       time.Time
		offHours bool
		date     string
	}{
		{"NY Friday before DST, 09:30 EST", "", utc(2026, 3, 6, 14, 30), false, "2026-03-06"},
		{"NY Friday before DST, 08:59 EST", "", utc(2026, 3, 6, 13, 59), true, "2026-03-06"},
		{"NY Monday after DST, 09:30 EDT", "", utc(2026, 3, 9, 13, 30), false, "2026-03-09"},
		{"NY Monday after DST, 08:30 EDT (was 09:30 the week before)", "", utc(2026, 3, 9, 12, 30), true, "2026-03-09"},
		{"NY Monday after DST, 16:59 EDT", "", utc(2026, 3, 9, 20, 59), false, "2026-03-09"},
		{"NY Monday after DST, 17:00 EDT", "", utc(2026, 3, 9, 21, 0), true, "2026-03-09"},
		{"NY Monday 23:59 EDT is still Monday", "", utc(2026, 3, 10, 3, 59), true, "2026-03-09"},
		{"NY Tuesday 00:00 EDT", "", utc(2026, 3, 10, 4, 0), true, "2026-03-10"},
		{"NY Monday after DST end, 09:00 EST", "", utc(2026, 11, 2, 14, 0), false, "2026-11-02"},
		{"NY Monday after DST end, 08:30 EST", "", utc(2026, 11, 2, 13, 30), true, "2026-11-02"},
		{"NY Saturday noon", "", time.Date(2026, 11, 28, 12, 0, 0, 0, ny), true, "2026-11-28"},
		{"Berlin daily, Saturday 07:30 CET", "Europe/Berlin|20210101T080000|21000101T180000||DAILY|||", utc(2026, 3, 28, 6, 30), true, "2026-03-28"},
		{"Berlin daily, DST Sunday 08:30 CEST", "Europe/Berlin|20210101T080000|21000101T180000||DAILY|||", utc(2026, 3, 29, 6, 30), false, "2026-03-29"},
		{"Berlin daily, DST Sunday 00:30 CET", "Europe/Berlin|20210101T080000|21000101T180000||DAILY|||", time.Date(2026, 3, 29, 0, 30, 0, 0, berlin), true, "2026-03-29"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := baseOptions(t)
			opts.LimitAction = engine.LimitReject
			if tc.schedule != "" {
				opts.BusinessHours = schedule(t, tc.schedule)
			}
			r := newRig(t, store.SQLite, opts)
			// One concurrent call is allowed in hours, none off hours: the
			// code shows which limits applied. Without a home country the
			// account follows the operator's rule where it is written.
			r.account(t, "1001", func(a *tfps.Account) { a.ConcurrentCalls, a.ConcurrentCallsOff, a.HomeCountry = 1, 0, "" })
			d := r.decide(t, call(func(c *engine.Call) { c.Time = tc.at }))
			want := engine.A00
			if tc.offHours {
				want = engine.R08
			}
			if d.Code != want || d.Facts.OffHours != tc.offHours || d.Facts.LocalDate != tc.date {
				t.Errorf("at %s: %s (%s), off hours %v, local date %s; want %s, off hours %v, date %s",
					tc.at.UTC().Format(time.RFC3339), d.Code, d.Reason, d.Facts.OffHours, d.Facts.LocalDate, want, tc.offHours, tc.date)
			}
		})
	}
}

// Daily counters reset at midnight in the business-hours zone, not at UTC
// midnight, and without waiting for any key to expire.
func TestQuotaResetsAtLocalMidnight(t *testing.T) {
	r := newRig(t, store.SQLite, baseOptions(t))
	r.account(t, "1001", func(a *tfps.Account) { a.DailyQuotaOff = 2 })
	steps := []struct {
		at    time.Time
		code  engine.Code
		count int64
	}{
		{time.Date(2026, 11, 23, 18, 30, 0, 0, ny), engine.A00, 1},  // 23:30 UTC
		{time.Date(2026, 11, 23, 19, 30, 0, 0, ny), engine.A00, 2},  // 00:30 UTC next day: same local date
		{time.Date(2026, 11, 23, 23, 59, 0, 0, ny), engine.V05, 2},  // quota of 2 reached
		{time.Date(2026, 11, 24, 0, 0, 30, 0, ny), engine.A00, 1},   // local midnight: a new day
		{time.Date(2026, 11, 24, 0, 1, 0, 0, ny), engine.A00, 2},    //
		{time.Date(2026, 11, 24, 0, 2, 0, 0, ny), engine.V05, 2},    //
		{time.Date(2026, 11, 23, 23, 59, 30, 0, ny), engine.V05, 2}, // a late call of the old day still counts there
	}
	for i, s := range steps {
		d := r.decide(t, call(func(c *engine.Call) { c.Time = s.at; c.Caller = "c" + strconv.Itoa(i) }))
		if d.Code != s.code || d.Facts.DailyCount != s.count {
			t.Errorf("call %d at %s: %s (%s), count %d; want %s, count %d", i+1, s.at, d.Code, d.Reason, d.Facts.DailyCount, s.code, s.count)
		}
	}
}

// A retried request (same Call-ID, From-tag and number) gets the earlier
// decision and is neither counted nor logged again.
func TestRetryIsReplayed(t *testing.T) {
	ctx := context.Background()
	opts := baseOptions(t)
	opts.RetryCacheTime = 30 * time.Second
	r := newRig(t, store.SQLite, opts)
	r.account(t, "1001", nil)
	first := r.decide(t, call(func(c *engine.Call) { c.CallID = "retry-1" }))
	again := r.decide(t, call(func(c *engine.Call) { c.CallID = "retry-1"; c.Time = inHours.Add(2 * time.Second) }))
	if first.Code != engine.A00 || first.Replayed || !again.Replayed || again.Code != first.Code {
		t.Fatalf("first %s replayed=%v, again %s replayed=%v", first.Code, first.Replayed, again.Code, again.Replayed)
	}
	if n, _ := r.st.DailyCount(ctx, "1001", "pbx.example", "2026-11-23", false); n != 1 {
		t.Errorf("daily count %d after a retry, want 1", n)
	}
	other := r.decide(t, call(func(c *engine.Call) { c.CallID = "retry-1"; c.FromTag = "other" }))
	late := r.decide(t, call(func(c *engine.Call) { c.CallID = "retry-1"; c.Time = inHours.Add(time.Minute) }))
	if other.Replayed || late.Replayed {
		t.Errorf("another From-tag replayed=%v, a retry after the cache time replayed=%v; want both decided afresh", other.Replayed, late.Replayed)
	}
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
	rows, err := r.db.Decisions(ctx, store.DecisionFilter{CallID: "retry-1"})
	if err != nil || len(rows) != 3 {
		t.Errorf("decision log has %d rows for retry-1 (%v), want 3 (the replay is not logged)", len(rows), err)
	}
}

// Retry cache too loose: the Call-ID and From-tag are the caller's choice, so
// reusing those of an approved call from another account, another source or
// over the other transport must be decided (and counted) afresh, never get
// the approval replayed.
func TestRetryCacheTooLoose(t *testing.T) {
	ctx := context.Background()
	opts := baseOptions(t)
	opts.RetryCacheTime = 30 * time.Second
	r := newRig(t, store.SQLite, opts)
	r.account(t, "1001", nil)
	r.account(t, "blocked", func(a *tfps.Account) { a.Blocked = true })
	same := func(c *engine.Call) { c.CallID = "loose-1"; c.Time = inHours.Add(time.Second) }
	if d := r.decide(t, call(same)); d.Code != engine.A00 || d.Replayed {
		t.Fatalf("first call %s replayed=%v, want A00 decided", d.Code, d.Replayed)
	}
	tests := []struct {
		name string
		edit func(c *engine.Call)
		want engine.Code
	}{
		{"another account", func(c *engine.Call) { c.User = "blocked" }, engine.R17},
		{"another source", func(c *engine.Call) { c.SourceIP = ipGB }, engine.V02},
		{"over HTTP", func(c *engine.Call) { c.Transport = "http" }, engine.A00},
	}
	for _, tt := range tests {
		d := r.decide(t, call(same, tt.edit))
		if d.Replayed || d.Code != tt.want {
			t.Errorf("%s with the same Call-ID and From-tag: %s replayed=%v, want %s decided afresh", tt.name, d.Code, d.Replayed, tt.want)
		}
	}
	// The HTTP request was counted: two approved calls today.
	if n, _ := r.st.DailyCount(ctx, "1001", "pbx.example", "2026-11-23", false); n != 2 {
		t.Errorf("daily count %d, want 2 (the call and the HTTP request with a borrowed Call-ID)", n)
	}
	// A real retry still replays.
	if d := r.decide(t, call(same)); !d.Replayed {
		t.Errorf("a true retry was decided again, want replayed")
	}
}

// Accounts and lists changed by another process (another gateway, the IVR,
// an operator's SQL) reach this engine's cache without a restart.
func TestChangesReachAnotherEngine(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			var url string
			if dialect == store.SQLite {
				url = "sqlite://" + filepath.Join(t.TempDir(), "shared.db")
			} else {
				url = storetest.SchemaURL(t)
			}
			open := func() *store.Store {
				s, err := store.Open(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				if _, err := s.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				return s
			}
			dbA, dbB := open(), open()
			st := statetest.MustOpen(t)
			opts := baseOptions(t)
			opts.CacheRefresh = 20 * time.Millisecond
			opts.MaxOpenTickets = -1 // engine B asks for verifications nobody answers
			a := newRigOn(t, dbA, st, opts)
			b := newRigOn(t, dbB, st, opts)
			a.account(t, "1001", func(ac *tfps.Account) { ac.DailyQuota = 1000 })

			fr := func(c *engine.Call) {
				c.Number = "+33142278186"
				c.Caller = "c" + strconv.FormatInt(callSeq.Add(1), 10)
			}
			eventually := func(what string, want engine.Code, edit func(c *engine.Call)) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for {
					d := b.decide(t, call(edit))
					if d.Code == want {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: engine B still answers %s (%s), want %s", what, d.Code, d.Reason, want)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			eventually("account created by A", engine.V03, fr)

			acc, err := dbA.GetAccount(ctx, "1001", "pbx.example")
			if err != nil {
				t.Fatal(err)
			}
			acc.DestinationCountries = append(acc.DestinationCountries, "FR")
			if err := dbA.UpdateAccount(ctx, acc); err != nil {
				t.Fatal(err)
			}
			eventually("FR allowed through the other store", engine.A00, fr)

			if err := dbA.AddBlacklist(ctx, &tfps.BlacklistEntry{Kind: tfps.BlacklistIP, Value: "8.8.8.0/24", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			eventually("IP blacklisted through the other store", engine.R14, fr)

			// An operator's own SQL, no application code involved.
			if _, err := dbA.DB().ExecContext(ctx, `DELETE FROM blacklist`); err != nil {
				t.Fatal(err)
			}
			if _, err := dbA.DB().ExecContext(ctx, `UPDATE accounts SET blocked = 1 WHERE username = $1`, "1001"); err != nil {
				t.Fatal(err)
			}
			eventually("account blocked by plain SQL", engine.R17, fr)

			if err := dbA.DeleteAccount(ctx, "1001", "pbx.example"); err != nil {
				t.Fatal(err)
			}
			eventually("account deleted", engine.V01, fr)
		})
	}
}

// Close writes every queued decision-log row: nothing accepted is lost.
func TestCloseFlushesDecisionLog(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			opts := baseOptions(t)
			opts.LogFlush, opts.LogBatch = time.Hour, 400 // only full batches and Close write
			r := newRig(t, dialect, opts)
			r.account(t, "1001", func(a *tfps.Account) { a.DailyQuota, a.ConcurrentCalls = 1_000_000, 100 })
			const workers, each = 8, 125
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[engine.Code]int{}
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						d, err := r.eng.Decide(ctx, call(func(c *engine.Call) {
							c.Caller = "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
							c.CallID = "flush-" + c.Caller
						}))
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						codes[d.Code]++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if err := r.close(); err != nil {
				t.Fatal(err)
			}
			n, err := r.db.CountDecisions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != workers*each || codes[engine.A00] != workers*each {
				t.Errorf("%d rows in the decision log after Close, codes %v; want %d approvals logged", n, codes, workers*each)
			}
			if _, err := r.eng.Decide(ctx, call()); !errors.Is(err, engine.ErrClosed) {
				t.Errorf("Decide after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// A caller that gave up (a CANCELled INVITE, a closed HTTP request) gets an
// error, not R19, and its call is not counted.
func TestCancelledCallIsNotCounted(t *testing.T) {
	r := newRig(t, store.SQLite, baseOptions(t))
	r.account(t, "1001", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := r.eng.Decide(ctx, call())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Decide with a cancelled context = %s, %v; want context.Canceled", d.Code, err)
	}
	if n, _ := r.st.DailyCount(context.Background(), "1001", "pbx.example", "2026-11-23", false); n != 0 {
		t.Errorf("daily count %d after a cancelled call, want 0", n)
	}
}

// countingAccounts counts the single-account reads the engine makes.
type countingAccounts struct {
	*store.Store
	one atomic.Int64
}

func (c *countingAccounts) AccountByUser(ctx context.Context, user, domain string) (*tfps.Account, error) {
	c.one.Add(1)
	return c.Store.AccountByUser(ctx, user, domain)
}

// A change to one account does not make every other account's next
// decision wait for its own SQL query: the engine re-reads what it holds in
// bulk before it switches to the new version. The changed account's new
// row applies, a deleted account is unknown again, an account that was
// unknown and now exists is found.
func TestChangeRereadsCachedAccountsInBulk(t *testing.T) {
	for _, tc := range []struct {
		name    string
		preload int
	}{{"all accounts cached", 0}, {"accounts cached as used", -1}} {
		for _, dialect := range storetest.Dialects {
			t.Run(tc.name+"/"+dialect, func(t *testing.T) {
				ctx := context.Background()
				db := storetest.MustOpen(t, dialect)
				accts := &countingAccounts{Store: db}
				opts := baseOptions(t)
				opts.PreloadAccounts = tc.preload
				r := newRigReading(t, db, accts, opts)
				users := []string{"2001", "2002", "2003", "2004", "2005"}
				for _, u := range users[:4] {
					r.account(t, u, func(a *tfps.Account) { a.DailyQuota = 1000 })
				}
				for _, u := range users { // 2005 does not exist yet: cached as unknown
					r.decide(t, call(func(c *engine.Call) { c.User = u; c.Caller = "" }))
				}
				before := accts.one.Load()

				a, err := db.GetAccount(ctx, "2001", "pbx.example")
				if err != nil {
					t.Fatal(err)
				}
				a.Blocked = true
				if err := db.UpdateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				if err := db.DeleteAccount(ctx, "2002", "pbx.example"); err != nil {
					t.Fatal(err)
				}
				if err := db.CreateAccount(ctx, &tfps.Account{User: "2005", Domain: "pbx.example", ConcurrentCalls: 2, DailyQuota: 1000,
					SourceCountries: []string{"US"}, DestinationCountries: []string{"US", "GB"}, HomeCountry: "US"}); err != nil {
					t.Fatal(err)
				}
				r.refresh(t)

				want := map[string]engine.Code{"2001": engine.R17, "2002": engine.V01, "2003": engine.A00, "2004": engine.A00, "2005": engine.A00}
				for _, u := range users {
					if d := r.decide(t, call(func(c *engine.Call) { c.User = u; c.Caller = "" })); d.Code != want[u] {
						t.Errorf("%s after the change: %s (%s), want %s", u, d.Code, d.Reason, want[u])
					}
				}
				if n := accts.one.Load() - before; n != 0 {
					t.Errorf("%d single-account queries after the change, want 0 (bulk re-read)", n)
				}
			})
		}
	}
}

// An engine started on an existing installation has its accounts cached
// from the start: the first decisions wait for no SQL query (a gateway
// restarted under load otherwise queried every account at once).
func TestStartCachesExistingAccounts(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpen(t, dialect)
			users := []string{"3001", "3002", "3003"}
			for _, u := range users {
				if err := db.CreateAccount(ctx, &tfps.Account{User: u, Domain: "pbx.example", ConcurrentCalls: 2, DailyQuota: 1000,
					SourceCountries: []string{"US"}, DestinationCountries: []string{"US", "GB"}, HomeCountry: "US"}); err != nil {
					t.Fatal(err)
				}
			}
			accts := &countingAccounts{Store: db}
			r := newRigReading(t, db, accts, baseOptions(t))
			for _, u := range users {
				if d := r.decide(t, call(func(c *engine.Call) { c.User = u; c.Caller = "" })); d.Code != engine.A00 {
					t.Errorf("%s: %s (%s), want A00", u, d.Code, d.Reason)
				}
			}
			if d := r.decide(t, call(func(c *engine.Call) { c.User = "3999"; c.Caller = "" })); d.Code != engine.V01 {
				t.Errorf("unknown account: %s, want V01", d.Code)
			}
			if n := accts.one.Load(); n != 0 {
				t.Errorf("%d single-account queries, want 0 (every account, and so every unknown one, is known)", n)
			}
		})
	}
}

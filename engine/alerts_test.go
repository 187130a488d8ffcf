package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store/storetest"
)

// The threshold events TFPS mailed (A->B burst, concurrent calls, daily
// quota) reach the outbox, once per account and kind within 10 s.
func TestAlertsReachTheOutbox(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpen(t, dialect)
			st := statetest.MustOpen(t)
			eng, err := engine.New(ctx, engine.Deps{
				Accounts: db, Lists: db, Changes: db, Log: db, Alerts: db,
				Counters: state.NewDecideCounters(st), Reputation: &testReputation{},
			}, noTicketCap(baseOptions(t)))
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CreateAccount(ctx, &tfps.Account{User: "1001", Domain: "pbx.example", Email: "pbx@example.com", ConcurrentCalls: 2, DailyQuota: 1,
				SourceCountries: []string{"US"}, DestinationCountries: []string{"GB"}}); err != nil {
				t.Fatal(err)
			}
			if err := eng.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			decide := func(want engine.Code, edit func(c *engine.Call)) {
				t.Helper()
				d, err := eng.Decide(ctx, call(edit))
				if err != nil || d.Code != want {
					t.Fatalf("Decide = %s (%s), %v; want %s", d.Code, d.Reason, err, want)
				}
			}
			decide(engine.V08, func(c *engine.Call) { c.ConcurrentCalls = 3; c.Caller = "1" })
			decide(engine.V08, func(c *engine.Call) { c.ConcurrentCalls = 4; c.Caller = "2"; c.Time = inHours.Add(5 * time.Second) }) // repeated: not queued again
			decide(engine.A00, func(c *engine.Call) { c.Caller = "3" })
			decide(engine.V04, func(c *engine.Call) { c.Caller = "4" })
			for i := range 6 {
				want := engine.V04
				if i == 5 {
					want = engine.R13
				}
				decide(want, func(c *engine.Call) { c.Caller = "5"; c.Time = inHours.Add(time.Duration(2+i) * time.Second) })
			}
			closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := eng.Close(closeCtx); err != nil {
				t.Fatal(err)
			}
			rows, err := db.OutboxRows(ctx, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			got := map[tfps.NotificationKind][]tfps.Notification{}
			for _, r := range rows {
				got[r.Notification.Kind] = append(got[r.Notification.Kind], r.Notification)
			}
			cc, quota, burst := got[tfps.NotifyConcurrentCallsExceeded], got[tfps.NotifyQuotaExceeded], got[tfps.NotifyBurst]
			if len(cc) != 1 || cc[0].Count != 3 || cc[0].Limit != 2 || cc[0].Email != "pbx@example.com" || cc[0].User != "1001" || cc[0].OffHours {
				t.Errorf("concurrent-calls alerts %+v; want one: 3 calls, limit 2, to the account's address", cc)
			}
			if len(quota) != 1 || quota[0].Count != 1 || quota[0].Limit != 1 || quota[0].DestinationCountry != "GB" {
				t.Errorf("quota alerts %+v; want one: count 1, limit 1 (the later ones within 10 s are repeats)", quota)
			}
			if len(burst) != 1 || burst[0].Count != 6 || burst[0].Caller != "5" || burst[0].Number != "+442079460000" {
				t.Errorf("burst alerts %+v; want one for caller 5, 6 attempts", burst)
			}
			if len(rows) != 3 {
				t.Errorf("%d outbox rows, want 3", len(rows))
			}
		})
	}
}

// noTicketCap lifts the open-ticket cap for tests whose verifications are
// never answered.
func noTicketCap(o engine.Options) engine.Options {
	o.MaxOpenTickets = -1
	return o
}

// slowAlerts takes a while to queue each alert, like an outbox on a busy
// database, and counts what it was handed.
type slowAlerts struct {
	mu    sync.Mutex
	kinds map[tfps.NotificationKind]int
}

func (s *slowAlerts) Enqueue(_ context.Context, n *tfps.Notification) error {
	time.Sleep(50 * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds[n.Kind]++
	return nil
}

func (s *slowAlerts) count(k tfps.NotificationKind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kinds[k]
}

// Alerts are handed over in the background so that decisions never wait
// for them; FlushAlerts is how a reader of the alerts (the replay's
// summary) knows it has them all, while the engine keeps running.
func TestFlushAlertsWaitsForRaisedAlerts(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t, storetest.Dialects[0])
	sink := &slowAlerts{kinds: map[tfps.NotificationKind]int{}}
	eng, err := engine.New(ctx, engine.Deps{
		Accounts: db, Lists: db, Changes: db, Log: db, Alerts: sink,
		Counters: state.NewDecideCounters(statetest.MustOpen(t)), Reputation: &testReputation{},
	}, noTicketCap(baseOptions(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	if err := db.CreateAccount(ctx, &tfps.Account{User: "1001", Domain: "pbx.example", ConcurrentCalls: 2, DailyQuota: 100,
		SourceCountries: []string{"US"}, DestinationCountries: []string{"GB"}}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	codes := map[engine.Code]int{}
	for i := range 6 {
		d, err := eng.Decide(ctx, call(func(c *engine.Call) { c.Caller = "5"; c.Time = inHours.Add(time.Duration(i) * time.Second) }))
		if err != nil {
			t.Fatal(err)
		}
		codes[d.Code]++
	}
	d, err := eng.Decide(ctx, call(func(c *engine.Call) { c.Caller = "6"; c.ConcurrentCalls = 3 }))
	if err != nil || d.Code != engine.V08 {
		t.Fatalf("Decide = %s, %v; want V08", d.Code, err)
	}
	if codes[engine.R13] != 1 {
		t.Fatalf("codes %v: want one A->B burst (R13)", codes)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := eng.FlushAlerts(fctx); err != nil {
		t.Fatal(err)
	}
	if b, c := sink.count(tfps.NotifyBurst), sink.count(tfps.NotifyConcurrentCallsExceeded); b != 1 || c != 1 {
		t.Errorf("after FlushAlerts: %d burst and %d concurrent-calls alerts handed over, want 1 and 1", b, c)
	}
	// The engine still decides and raises alerts after a flush.
	if _, err := eng.Decide(ctx, call(func(c *engine.Call) { c.Caller = "7"; c.ConcurrentCalls = 3; c.User = "1001" })); err != nil {
		t.Fatal(err)
	}
}

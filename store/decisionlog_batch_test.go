package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
)

func TestWriteDecisionsKeepsEveryField(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
		var recs []tfps.DecisionRecord
		for i := range 1200 {
			recs = append(recs, tfps.DecisionRecord{
				At: at.Add(time.Duration(i) * time.Millisecond), CallID: "c" + strconv.Itoa(i), SourceIP: "8.8.8.8", Caller: "+12125550100",
				Number: "+442079460000", UserAgent: "UA", AbuseScore: 3, User: "1001", Domain: "pbx.example", Result: "verify",
				Code: "V03", Reason: "new destination country GB", Flow: "destination_country", Ticket: "1234567890123456",
				OffHours: true, ConcurrentCalls: 2, SourceCountry: "US", DestinationCountry: "GB", Transport: "sip", LatencyMicros: 120,
			})
		}
		if err := s.WriteDecisions(ctx, recs); err != nil {
			t.Fatal(err)
		}
		if n, err := s.CountDecisions(ctx); err != nil || n != len(recs) {
			t.Fatalf("CountDecisions = %d, %v; want %d", n, err, len(recs))
		}
		got, err := s.Decisions(ctx, store.DecisionFilter{CallID: "c1199"})
		if err != nil || len(got) != 1 {
			t.Fatalf("Decisions(c1199) = %v, %v", got, err)
		}
		g, w := got[0], recs[1199]
		g.ID = 0
		if !g.At.Equal(w.At) {
			t.Errorf("At %s, want %s", g.At, w.At)
		}
		g.At = w.At
		if g != w {
			t.Errorf("stored %+v\nwant   %+v", g, w)
		}
	})
}

// Retention deletes the oldest rows first, never one newer than the cutoff,
// and at most limit per call.
func TestPurgeDecisionsOldestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
		var recs []tfps.DecisionRecord
		for i := range 30 {
			at := now.Add(-2 * time.Hour).Add(time.Duration(i) * time.Second)
			if i >= 20 {
				at = now.Add(time.Duration(i) * time.Second)
			}
			recs = append(recs, tfps.DecisionRecord{At: at, CallID: "p" + strconv.Itoa(i), Result: "approve", Code: "A00", User: "1001", Domain: "pbx.example"})
		}
		if err := s.WriteDecisions(ctx, recs); err != nil {
			t.Fatal(err)
		}
		for _, want := range []int64{8, 8, 4, 0} {
			n, err := s.PurgeDecisions(ctx, now.Add(-time.Hour), 8)
			if err != nil || n != want {
				t.Fatalf("PurgeDecisions = %d, %v; want %d", n, err, want)
			}
		}
		left, err := s.Decisions(ctx, store.DecisionFilter{Limit: 100})
		if err != nil || len(left) != 10 {
			t.Fatalf("%d rows left (%v), want the 10 recent ones", len(left), err)
		}
		for _, r := range left {
			if r.At.Before(now) {
				t.Errorf("row %s of %s survived the purge", r.CallID, r.At)
			}
		}
	})
}

// A batch written again, whole or in part (the engine's writer repeats one
// whose commit reached the database but whose reply was lost), is logged
// and counted in the daily statistics once; rows without a key are always
// written.
func TestWriteDecisionsOncePerKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
		rec := func(i int) tfps.DecisionRecord { return keyedApproval(at, i) }
		var first, second []tfps.DecisionRecord
		for i := range 120 {
			first = append(first, rec(i))
		}
		for i := 60; i < 180; i++ { // half of it logged already
			second = append(second, rec(i))
		}
		for _, batch := range [][]tfps.DecisionRecord{first, first, second, second[:1]} {
			if err := s.WriteDecisions(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		unkeyed := []tfps.DecisionRecord{{At: at, CallID: "old", User: "1001", Domain: "pbx.example", Result: "approve", Code: "A00"}}
		for range 2 {
			if err := s.WriteDecisions(ctx, unkeyed); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.CountDecisions(ctx); err != nil || n != 182 {
			t.Fatalf("CountDecisions = %d, %v; want 180 keyed rows once and the unkeyed row twice", n, err)
		}
		rows, err := s.Decisions(ctx, store.DecisionFilter{AfterID: 0, Limit: tfps.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		if got := rows[len(rows)-1]; got.Key != "k0" || got.CallID != "c0" {
			t.Errorf("oldest row %+v, want key k0 read back", got)
		}
		days, err := s.DailyStats(ctx, "1001", "pbx.example", "2026-11-23", "2026-11-23")
		if err != nil || len(days) != 1 || days[0].Approved != 180 {
			t.Fatalf("daily statistics %+v, %v; want 180 approved calls counted once", days, err)
		}
	})
}

// A paced write calls pause between the 50-row statements of its one
// transaction on SQLite, and not at all on PostgreSQL (one COPY); either
// way every row is written once, and a batch partly logged already is
// still written whole.
func TestWriteDecisionsPausesBetweenStatements(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
		var recs []tfps.DecisionRecord
		for i := range 120 {
			recs = append(recs, keyedApproval(at, i))
		}
		pauses := 0
		pause := func(context.Context) { pauses++ }
		if err := s.WriteDecisionsPaced(ctx, recs[:60], pause); err != nil {
			t.Fatal(err)
		}
		want := 1 // 60 rows: two statements
		if s.Dialect() == store.Postgres {
			want = 0
		}
		if pauses != want {
			t.Errorf("%d pauses writing 60 rows, want %d", pauses, want)
		}
		pauses = 0
		if err := s.WriteDecisionsPaced(ctx, recs, pause); err != nil { // 60 new rows of 120
			t.Fatal(err)
		}
		if n, err := s.CountDecisions(ctx); err != nil || n != 120 {
			t.Fatalf("CountDecisions = %d, %v; want 120", n, err)
		}
	})
}

// keyedApproval is the i-th of a run of approved calls of one account, a
// second apart from at, each with its own decision key ("k"+i) and
// Call-ID ("c"+i).
func keyedApproval(at time.Time, i int) tfps.DecisionRecord {
	return tfps.DecisionRecord{Key: "k" + strconv.Itoa(i), At: at.Add(time.Duration(i) * time.Second), CallID: "c" + strconv.Itoa(i),
		User: "1001", Domain: "pbx.example", Result: "approve", Code: "A00", LocalDate: "2026-11-23", Enforced: true}
}

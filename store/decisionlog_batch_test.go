package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

func TestWriteDecisionsKeepsEveryField(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.MustOpen(t, dialect)
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
}

func BenchmarkWriteDecisions(b *testing.B) {
	ctx := context.Background()
	s := storetest.MustOpen(b, store.SQLite)
	recs := make([]tfps.DecisionRecord, 500)
	for i := range recs {
		recs[i] = tfps.DecisionRecord{At: time.Now(), CallID: "c" + strconv.Itoa(i), Result: "approve", Code: "A00", User: "1001", Domain: "pbx.example"}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.WriteDecisions(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/row")
}

// Retention deletes the oldest rows first, never one newer than the cutoff,
// and at most limit per call.
func TestPurgeDecisionsOldestFirst(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.MustOpen(t, dialect)
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
}

package gateway_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/store"
)

// TFPS_DECISION_LOG_RETENTION: by default (90 days) the gateway deletes
// rows older than 90 days and nothing newer; a shorter setting deletes
// more; 0, an explicit choice, keeps every row.
func TestDecisionLogRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	ages := []time.Duration{91 * 24 * time.Hour, 89 * 24 * time.Hour, 3 * time.Hour, time.Minute}
	rows := func(m *gateway.Main) {
		t.Helper()
		var recs []tfps.DecisionRecord
		for i := range 12 {
			recs = append(recs, tfps.DecisionRecord{At: now.Add(-ages[i%len(ages)]), CallID: "ret-" + strconv.Itoa(i), Result: "approve", Code: "A00", User: "1001", Domain: "pbx.example"})
		}
		if err := m.Store.WriteDecisions(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	fast := func(m *gateway.Main) { m.PurgeEvery = 20 * time.Millisecond }
	for _, tc := range []struct {
		name    string
		env     map[string]string
		keep    time.Duration // rows older than this go
		left    int
		metrics string
	}{
		{"default 90 days", nil, 90 * 24 * time.Hour, 9, "tfps_decision_log_purged_rows_total 3"},
		{"2h", map[string]string{"TFPS_DECISION_LOG_RETENTION": "2h"}, 2 * time.Hour, 3, "tfps_decision_log_purged_rows_total 9"},
		{"0 keeps every row", map[string]string{"TFPS_DECISION_LOG_RETENTION": "0"}, 0, 12, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestEnv(t, store.SQLite, tc.env).start(t, fast)
			rows(m)
			deadline := time.Now().Add(5 * time.Second)
			for {
				n, err := m.Store.CountDecisions(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == tc.left {
					break
				}
				if n < tc.left || time.Now().After(deadline) {
					t.Fatalf("%d rows in the decision log, want %d", n, tc.left)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if tc.keep == 0 {
				time.Sleep(100 * time.Millisecond) // several purge rounds
				if n, err := m.Store.CountDecisions(ctx); err != nil || n != 12 {
					t.Errorf("with retention 0: %d rows (%v), want all 12", n, err)
				}
				return
			}
			left, err := m.Store.Decisions(ctx, store.DecisionFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range left {
				if r.At.Before(now.Add(-tc.keep)) {
					t.Errorf("row %s of %s outlived the retention", r.CallID, r.At)
				}
			}
			if a := send(t, "GET", "http://"+m.HTTPAddr()+"/metrics", "", ""); !strings.Contains(a.body, tc.metrics) {
				t.Errorf("metrics do not say %q:\n%s", tc.metrics, grepLines(a.body, "purged"))
			}
		})
	}
}

// Daily statistics older than TFPS_HISTORY_DAYS are deleted, newer ones
// kept.
func TestHistoryRetention(t *testing.T) {
	ctx := context.Background()
	m := newTestEnv(t, store.SQLite, map[string]string{"TFPS_HISTORY_DAYS": "10"}).start(t, func(m *gateway.Main) { m.PurgeEvery = 20 * time.Millisecond })
	now := time.Now()
	var recs []tfps.DecisionRecord
	for _, age := range []int{15, 12, 9, 1} {
		at := now.AddDate(0, 0, -age)
		recs = append(recs, tfps.DecisionRecord{At: at, CallID: "h" + strconv.Itoa(age), Result: "approve", Code: "A00", User: "1001", Domain: "pbx.example", Enforced: true, LocalDate: at.UTC().Format("2006-01-02")})
	}
	if err := m.Store.WriteDecisions(ctx, recs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		days, err := m.Store.DailyStats(ctx, "1001", "pbx.example", "2000-01-01", "2999-01-01")
		if err != nil {
			t.Fatal(err)
		}
		if len(days) == 2 {
			if days[0].Date != recs[2].LocalDate {
				t.Errorf("kept %s first, want %s", days[0].Date, recs[2].LocalDate)
			}
			break
		}
		if len(days) < 2 || time.Now().After(deadline) {
			t.Fatalf("%d days of statistics, want the 2 within 10 days", len(days))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

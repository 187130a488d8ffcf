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

// With TFPS_DECISION_LOG_RETENTION set, the gateway deletes rows older than
// it and keeps the rest; without it, nothing is ever deleted.
func TestDecisionLogRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	rows := func(m *gateway.Main) {
		t.Helper()
		var recs []tfps.DecisionRecord
		for i := range 12 {
			at := now.Add(-3 * time.Hour)
			if i%2 == 0 {
				at = now.Add(-time.Minute)
			}
			recs = append(recs, tfps.DecisionRecord{At: at, CallID: "ret-" + strconv.Itoa(i), Result: "approve", Code: "A00", User: "1001", Domain: "pbx.example"})
		}
		if err := m.Store.WriteDecisions(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	fast := func(m *gateway.Main) { m.PurgeEvery = 20 * time.Millisecond }

	kept := newTestEnv(t, store.SQLite, nil).start(t, fast)
	rows(kept)

	env := newTestEnv(t, store.SQLite, map[string]string{"TFPS_DECISION_LOG_RETENTION": "2h"})
	m := env.start(t, fast)
	rows(m)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := m.Store.CountDecisions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 6 {
			break
		}
		if n < 6 || time.Now().After(deadline) {
			t.Fatalf("%d rows in the decision log, want the 6 from the last two hours", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	left, err := m.Store.Decisions(ctx, store.DecisionFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range left {
		if r.At.Before(now.Add(-2 * time.Hour)) {
			t.Errorf("row %s of %s outlived the retention", r.CallID, r.At)
		}
	}
	if a := send(t, "GET", "http://"+m.HTTPAddr()+"/metrics", "", ""); !strings.Contains(a.body, "tfps_decision_log_purged_rows_total 6") {
		t.Errorf("metrics do not count 6 purged rows:\n%s", grepLines(a.body, "purged"))
	}
	if n, err := kept.Store.CountDecisions(ctx); err != nil || n != 12 {
		t.Errorf("without retention %d rows (%v), want all 12", n, err)
	}
}

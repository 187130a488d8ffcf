package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// metric returns the value of the counter (or the sample count of the
// histogram) name whose labels include want; -1 when absent.
func metric(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

// Decisions are counted by result and code, dependency failures by
// dependency, and replays apart.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := baseOptions(t)
	opts.Registerer = reg
	r := newRig(t, store.SQLite, opts)
	r.account(t, "1001", nil)
	r.decide(t, call(func(c *engine.Call) { c.CallID = "m1" }))
	r.decide(t, call(func(c *engine.Call) { c.CallID = "m1" })) // replay
	r.decide(t, call(func(c *engine.Call) { c.UserAgent = "friendly-scanner" }))
	r.decide(t, call(func(c *engine.Call) { c.User = "nobody" }))
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tfps_decisions_total", map[string]string{"result": "approve", "code": "A00", "enforced": "true"}, 1},
		{"tfps_decisions_total", map[string]string{"result": "reject", "code": "R01", "enforced": "true"}, 1},
		{"tfps_decisions_total", map[string]string{"result": "verify", "code": "V01", "enforced": "true"}, 1},
		{"tfps_decisions_replayed_total", nil, 1},
		{"tfps_decide_seconds", nil, 3},
	} {
		if got := metric(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, reg, "tfps_decision_log_rows_total", map[string]string{"outcome": "written"}); got != 3 {
		t.Errorf("decision-log rows written = %v, want 3", got)
	}
}

// SQL down while an account is looked up: the error policy answers R19 and
// the failure is counted under "accounts". (With every account cached, the
// default for small installations, there is no lookup to fail: see
// TestAccountsDownAllCached.)
func TestAccountsDown(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := baseOptions(t)
	opts.Registerer = reg
	opts.PreloadAccounts = -1
	db := storetest.MustOpen(t, store.SQLite)
	r := newRigOn(t, db, statetest.MustOpen(t), opts)
	db.Close()
	d, err := r.eng.Decide(context.Background(), call())
	if err != nil || d.Code != engine.R19 || d.Err == nil {
		t.Fatalf("Decide with SQL down = %s (%s), %v; want R19 carrying the error", d.Code, d.Reason, err)
	}
	if got := metric(t, reg, "tfps_dependency_errors_total", map[string]string{"dependency": "accounts"}); got != 1 {
		t.Errorf("dependency errors for accounts = %v, want 1", got)
	}
	// The R19 row cannot be written either: Close says so when its time is up.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := r.eng.Close(ctx); err == nil || !strings.Contains(err.Error(), "1 decision-log rows not written") {
		t.Errorf("Close with SQL down: %v, want 1 row reported lost", err)
	}
}

// With every account cached, decisions go on while SQL is down: known
// accounts are decided on their cached rows, unknown ones get onboarding.
func TestAccountsDownAllCached(t *testing.T) {
	db := storetest.MustOpen(t, store.SQLite)
	r := newRigOn(t, db, statetest.MustOpen(t), baseOptions(t))
	r.account(t, "1001", func(a *tfps.Account) { a.DailyQuota = 1000 })
	db.Close()
	if d := r.decide(t, call()); d.Code != engine.A00 {
		t.Errorf("known account with SQL down: %s (%s), want A00", d.Code, d.Reason)
	}
	if d := r.decide(t, call(func(c *engine.Call) { c.User = "1999" })); d.Code != engine.V01 {
		t.Errorf("unknown account with SQL down: %s (%s), want V01", d.Code, d.Reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r.eng.Close(ctx) // the decision log can not be written: not this test's subject
}

package engine_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// ticketKeys lists the verify tickets stored under the rig's Redis prefix.
func ticketKeys(t *testing.T, st *state.State) []string {
	t.Helper()
	keys, err := st.KeysMatching(context.Background(), "ticket*")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// In monitor mode every code of the table is still found, but the call is
// approved: the would-be code is in WouldBe and in the decision log
// (enforced=false), and no verify leaves a ticket in Redis.
func TestMonitorModeEveryCode(t *testing.T) {
	st := statetest.MustOpen(t)
	for i, tc := range codeCases() {
		if tc.code == engine.R22 {
			continue // R22 needs unclaimed tickets, which monitor mode never creates
		}
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.MustOpen(t, store.SQLite)
			cst := state.New(st.Client(), state.Options{Prefix: st.Keys().Prefix() + strconv.Itoa(i) + ":", Timeout: 2 * time.Second})
			opts := baseOptions(t)
			opts.Mode = tfps.ModeMonitor
			if tc.code == engine.R10 || tc.code == engine.R08 {
				opts.LimitAction = engine.LimitReject
			}
			r := newRigOn(t, db, cst, opts)
			r.account(t, "1001", nil)
			if tc.setup != nil {
				tc.setup(t, r)
			}
			d := r.decide(t, tc.call)
			if d.Result != engine.Approve || d.Code != engine.A00 || d.Ticket != "" || d.Enforced() {
				t.Fatalf("monitor decision %s %s ticket %q enforced %v; want an unenforced A00 approval without ticket", d.Result, d.Code, d.Ticket, d.Enforced())
			}
			info := tc.code.Info()
			if d.WouldBe.Code != tc.code || d.WouldBe.Result != info.Result || d.Check != info.Check {
				t.Fatalf("would be %+v (check %q), want %s %s by %q", *d.WouldBe, d.Check, info.Result, tc.code, info.Check)
			}
			if info.Result == engine.Verify && (d.WouldBe.Flow != info.Flow || d.WouldBe.Country != tc.country) {
				t.Errorf("would-be verify flow %q country %q, want %q %q", d.WouldBe.Flow, d.WouldBe.Country, info.Flow, tc.country)
			}
			if !strings.Contains(d.Reason, "monitor mode") || !strings.Contains(d.Reason, tc.code.String()) {
				t.Errorf("reason %q does not say monitor mode and %s", d.Reason, tc.code)
			}
			if keys := ticketKeys(t, cst); len(keys) != 0 {
				t.Errorf("monitor mode stored tickets %v", keys)
			}
			if err := r.close(); err != nil {
				t.Fatal(err)
			}
			rows, err := db.Decisions(context.Background(), store.DecisionFilter{CallID: tc.call.CallID})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0].Enforced || rows[0].Code != tc.code.String() || rows[0].Result != info.Result.String() || rows[0].Ticket != "" || rows[0].Flow != string(info.Flow) {
				t.Errorf("decision log %+v, want one unenforced %s row without ticket", rows, tc.code)
			}
		})
	}
}

// The mode of a call: Call.Monitor, else the account's mode, else the
// gateway's. Checks that decide before the account is read (R01 here) and
// the unknown account (V01) follow the same rule.
func TestModeResolution(t *testing.T) {
	const (
		in, enf, mon = tfps.ModeInherit, tfps.ModeEnforce, tfps.ModeMonitor
	)
	scanner := func(c *engine.Call) { c.UserAgent = "friendly-scanner" }
	cuba := func(c *engine.Call) { c.Number = "011 53 7 8301234" }
	unknown := func(c *engine.Call) { c.User = "9999" }
	forced := func(c *engine.Call) { c.Monitor = true }
	for _, tc := range []struct {
		global, account tfps.Mode
		edit            []func(c *engine.Call)
		code            engine.Code
		monitor         bool
	}{
		{enf, in, []func(*engine.Call){cuba}, engine.R06, false},
		{enf, mon, []func(*engine.Call){cuba}, engine.R06, true},
		{enf, mon, []func(*engine.Call){scanner}, engine.R01, true},
		{enf, enf, []func(*engine.Call){cuba}, engine.R06, false},
		{mon, in, []func(*engine.Call){cuba}, engine.R06, true},
		{mon, enf, []func(*engine.Call){cuba}, engine.R06, false},
		{mon, enf, []func(*engine.Call){scanner}, engine.R01, false},
		{mon, mon, []func(*engine.Call){scanner}, engine.R01, true},
		{enf, in, []func(*engine.Call){unknown}, engine.V01, false},
		{mon, in, []func(*engine.Call){unknown}, engine.V01, true},
		{enf, enf, []func(*engine.Call){cuba, forced}, engine.R06, true},
		{enf, in, []func(*engine.Call){unknown, forced}, engine.V01, true},
	} {
		name := string(tc.global) + "/" + string(tc.account) + "/" + tc.code.String()
		if len(tc.edit) > 1 {
			name += "/call-monitor"
		}
		t.Run(name, func(t *testing.T) {
			opts := baseOptions(t)
			opts.Mode = tc.global
			r := newRig(t, store.SQLite, opts)
			r.account(t, "1001", func(a *tfps.Account) { a.Mode = tc.account })
			d := r.decide(t, call(tc.edit...))
			if d.Enforced() == tc.monitor {
				t.Fatalf("enforced %v (%s %s), want monitor=%v", d.Enforced(), d.Result, d.Code, tc.monitor)
			}
			if got := d.Effective().Code; got != tc.code {
				t.Fatalf("effective code %s, want %s", got, tc.code)
			}
			if tc.monitor {
				if d.Result != engine.Approve || d.Ticket != "" {
					t.Errorf("monitor decision %s ticket %q, want approve without ticket", d.Result, d.Ticket)
				}
			} else if d.Code != tc.code || d.WouldBe != nil {
				t.Errorf("enforced decision %s would-be %v, want %s", d.Code, d.WouldBe, tc.code)
			}
			if keys := ticketKeys(t, r.st); tc.monitor && len(keys) != 0 {
				t.Errorf("monitor mode stored tickets %v", keys)
			} else if !tc.monitor && tc.code == engine.V01 && len(keys) != 1 {
				t.Errorf("enforced V01 stored tickets %v, want one", keys)
			}
		})
	}
}

// An account switched from monitor to enforce does not inherit the pair
// block its monitored calls tripped; the attempts still count toward
// enforcement's window.
func TestMonitorPairBlockNotInherited(t *testing.T) {
	r := newRig(t, store.SQLite, baseOptions(t))
	r.account(t, "1001", func(a *tfps.Account) { a.Mode = tfps.ModeMonitor; a.DailyQuota = 100 })
	at := func(s int) func(c *engine.Call) {
		return func(c *engine.Call) { c.Time = inHours.Add(time.Duration(s) * time.Second) }
	}
	var last engine.Decision
	for i := range 7 {
		last = r.decide(t, call(at(i)))
	}
	if last.Result != engine.Approve || last.WouldBe == nil || last.WouldBe.Code != engine.R16 {
		t.Fatalf("7th monitored attempt: %s would be %+v, want approved, would be R16", last.Code, last.WouldBe)
	}
	a, err := r.db.GetAccount(context.Background(), "1001", "pbx.example")
	if err != nil {
		t.Fatal(err)
	}
	a.Mode = tfps.ModeEnforce
	if err := r.db.UpdateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	r.refresh(t)
	if d := r.decide(t, call(at(8))); d.Code != engine.A00 || !d.Enforced() {
		t.Fatalf("first enforced attempt after the switch: %s (%s), want A00", d.Code, d.Reason)
	}
}

// tfps_decisions_total labels monitor-mode decisions with their would-be
// result and code and enforced="false".
func TestMonitorMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := baseOptions(t)
	opts.Registerer = reg
	r := newRig(t, store.SQLite, opts)
	r.account(t, "1001", nil)
	r.account(t, "watched", func(a *tfps.Account) { a.Mode = tfps.ModeMonitor })
	cuba := func(c *engine.Call) { c.Number = "011 53 7 8301234" }
	r.decide(t, call(cuba))
	r.decide(t, call(cuba, func(c *engine.Call) { c.User = "watched" }))
	r.decide(t, call(cuba, func(c *engine.Call) { c.User = "watched" }))
	for _, tc := range []struct {
		enforced string
		want     float64
	}{{"false", 2}, {"true", 1}} {
		labels := map[string]string{"result": "reject", "code": "R06", "enforced": tc.enforced}
		if got := metric(t, reg, "tfps_decisions_total", labels); got != tc.want {
			t.Errorf("tfps_decisions_total%v = %v, want %v", labels, got, tc.want)
		}
	}
}

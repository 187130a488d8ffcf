package engine_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/store"
)

// Numbers of the rule cases: two London numbers, one Birmingham, one Paris
// (the account may call GB and FR).
const (
	numLondon  = "+442079460000"
	numLondon2 = "+442079460001"
	numBham    = "+441214960000"
	numParis   = "+33142278186"
)

// ruleStep is one call (or call end) of a rule case.
type ruleStep struct {
	at     time.Duration // after the case's start
	number string
	callID string // "" a fresh one
	end    time.Duration
	ends   string // the call id of an earlier step to end (with duration end)
	code   engine.Code
	trip   string // "" none, else "level stat value/threshold rule"
}

func tripText(t *engine.RuleTrip) string {
	if t == nil {
		return ""
	}
	return fmt.Sprintf("%s %s %d/%d %d", t.Level, t.Stat, t.Value, t.Threshold, t.ID)
}

// ruleRig is an engine with account r1@pbx.example in profile "p" (New
// York time), limits and bursts out of the way, and rules.
func ruleRig(t *testing.T, rules ...tfps.Rule) *rig {
	t.Helper()
	opts := baseOptions(t)
	opts.ABRepeatLimit, opts.RangeDistinctLimit = 100000, -1
	r := newRig(t, store.SQLite, opts)
	r.account(t, "r1", func(a *tfps.Account) {
		a.Profile, a.Timezone = "p", "America/New_York"
		a.DailyQuota, a.DailyQuotaOff, a.ConcurrentCalls, a.ConcurrentCallsOff = 100000, 100000, 1000, 1000
		a.DestinationCountries = []string{"US", "GB", "FR"}
	})
	r.rules(t, rules...)
	return r
}

func ruleCall(at time.Time, number, callID string) engine.Call {
	return call(func(c *engine.Call) {
		c.User, c.Number, c.Time = "r1", number, at
		c.Caller = "+1212555" + strconv.FormatInt(callSeq.Add(1)%10000+10000, 10)[1:]
		if callID != "" {
			c.CallID = callID
		}
	})
}

// Monday 23 November 2026 in New York.
var monday = time.Date(2026, 11, 23, 0, 0, 0, 0, ny)

func TestFraudRules(t *testing.T) {
	p := func(r tfps.Rule) tfps.Rule { r.Profile = "p"; return r }
	tenAM := 10 * time.Hour
	cases := []struct {
		name  string
		rules []tfps.Rule
		start time.Time
		steps []ruleStep
	}{
		{"cpm warning approves and reports", []tfps.Rule{p(tfps.Rule{ID: 1, CPMWarning: 3})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: 10 * time.Second, number: numBham, code: engine.A00},
			{at: 20 * time.Second, number: numParis, code: engine.A00, trip: "warning cpm 3/3 1"},
		}},
		{"cpm critical rejects", []tfps.Rule{p(tfps.Rule{ID: 1, CPMCritical: 3})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: 10 * time.Second, number: numBham, code: engine.A00},
			{at: 20 * time.Second, number: numParis, code: engine.R20, trip: "critical cpm 3/3 1"},
		}},
		{"cpm is a sliding 60 s", []tfps.Rule{p(tfps.Rule{ID: 1, CPMCritical: 3})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: 30 * time.Second, number: numBham, code: engine.A00},
			{at: 60 * time.Second, number: numParis, code: engine.A00}, // the first is 60 s old: out
			{at: 61 * time.Second, number: numLondon, code: engine.R20, trip: "critical cpm 3/3 1"},
		}},
		{"total warning", []tfps.Rule{p(tfps.Rule{ID: 2, TotalWarning: 3})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: time.Hour, number: numBham, code: engine.A00},
			{at: 2 * time.Hour, number: numParis, code: engine.A00, trip: "warning total 3/3 2"},
		}},
		{"total critical", []tfps.Rule{p(tfps.Rule{ID: 2, TotalCritical: 3})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: time.Hour, number: numBham, code: engine.A00},
			{at: 2 * time.Hour, number: numParis, code: engine.R20, trip: "critical total 3/3 2"},
		}},
		{"concurrent warning", []tfps.Rule{p(tfps.Rule{ID: 3, ConcurrentWarning: 2})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, callID: "c1", code: engine.A00},
			{at: time.Minute, number: numBham, code: engine.A00, trip: "warning concurrent 2/2 3"},
		}},
		{"concurrent critical, then a call end makes room", []tfps.Rule{p(tfps.Rule{ID: 3, ConcurrentCritical: 2})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, callID: "c1", code: engine.A00},
			{at: time.Minute, number: numBham, code: engine.R20, trip: "critical concurrent 2/2 3"},
			{at: 2 * time.Minute, ends: "c1", end: time.Minute},
			{at: 3 * time.Minute, number: numParis, code: engine.A00},
		}},
		{"a call with no end stops counting after the maximum duration", []tfps.Rule{p(tfps.Rule{ID: 3, ConcurrentCritical: 2})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: 4 * time.Hour, number: numBham, code: engine.A00},
		}},
		{"sequential warning", []tfps.Rule{p(tfps.Rule{ID: 4, SequentialWarning: 3})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: time.Minute, number: numLondon, code: engine.A00},
			{at: 2 * time.Minute, number: numLondon, code: engine.A00, trip: "warning sequential 3/3 4"},
		}},
		{"sequential critical, another number in between starts again", []tfps.Rule{p(tfps.Rule{ID: 4, SequentialCritical: 3})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: time.Minute, number: numLondon, code: engine.A00},
			{at: 2 * time.Minute, number: numBham, code: engine.A00},
			{at: 3 * time.Minute, number: numLondon, code: engine.A00},
			{at: 4 * time.Minute, number: numLondon, code: engine.A00},
			{at: 5 * time.Minute, number: numLondon, code: engine.R20, trip: "critical sequential 3/3 4"},
		}},
		{"duration warning at the call's end", []tfps.Rule{p(tfps.Rule{ID: 5, DurationWarning: 60, DurationCritical: 600})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, callID: "c1", code: engine.A00},
			{at: 2 * time.Minute, ends: "c1", end: 90 * time.Second, trip: "warning duration 90/60 5"},
		}},
		{"duration critical at the call's end", []tfps.Rule{p(tfps.Rule{ID: 5, DurationWarning: 60, DurationCritical: 600})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, callID: "c1", code: engine.A00},
			{at: 11 * time.Minute, ends: "c1", end: 600 * time.Second, trip: "critical duration 600/600 5"},
		}},
		{"thresholds of 0 are disabled", []tfps.Rule{p(tfps.Rule{ID: 6})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: time.Second, number: numLondon, code: engine.A00},
			{at: 2 * time.Second, number: numLondon, code: engine.A00},
		}},
		{"critical before warning", []tfps.Rule{p(tfps.Rule{ID: 7, CPMWarning: 2, TotalCritical: 2})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: time.Second, number: numBham, code: engine.R20, trip: "critical total 2/2 7"},
		}},
		{"longest prefix wins", []tfps.Rule{
			p(tfps.Rule{ID: 10, Prefix: "", TotalCritical: 1}),
			p(tfps.Rule{ID: 11, Prefix: "44", TotalCritical: 1}),
			p(tfps.Rule{ID: 12, Prefix: "+4420", TotalWarning: 1}),
		}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00, trip: "warning total 1/1 12"},
			{at: time.Minute, number: numBham, code: engine.R20, trip: "critical total 1/1 11"},
			{at: 2 * time.Minute, number: numParis, code: engine.R20, trip: "critical total 1/1 10"},
		}},
		{"a longer prefix outside its window gives way", []tfps.Rule{
			p(tfps.Rule{ID: 11, Prefix: "44", TotalWarning: 1}),
			p(tfps.Rule{ID: 12, Prefix: "4420", Start: "18:00", End: "20:00", TotalCritical: 1}),
		}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00, trip: "warning total 1/1 11"},
			{at: 9 * time.Hour, number: numLondon, code: engine.R20, trip: "critical total 1/1 12"},
		}},
		{"a window crossing midnight", []tfps.Rule{p(tfps.Rule{ID: 20, Start: "22:00", End: "06:00", TotalCritical: 3})}, monday.Add(21 * time.Hour), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},                                                          // 21:00 Monday: outside
			{at: 90 * time.Minute, number: numLondon, code: engine.A00},                                           // 22:30 Monday: 1
			{at: 3 * time.Hour, number: numBham, code: engine.A00},                                                // 00:00 Tuesday: 2
			{at: 8*time.Hour + 59*time.Minute, number: numParis, code: engine.R20, trip: "critical total 3/3 20"}, // 05:59 Tuesday: 3
			{at: 9 * time.Hour, number: numParis, code: engine.A00},                                               // 06:00 Tuesday: outside
			{at: 25 * time.Hour, number: numParis, code: engine.A00},                                              // 22:00 Tuesday: a new window, 1
		}},
		{"days: weekend only, and a night window belongs to the day it starts", []tfps.Rule{
			// Same prefix: the lower id is tried first.
			p(tfps.Rule{ID: 30, Days: "Fri", Start: "22:00", End: "06:00", TotalWarning: 1}),
			p(tfps.Rule{ID: 31, Days: "Sat,Sun", TotalCritical: 1}),
		}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},                                                           // Monday: no rule
			{at: 4*24*time.Hour + 13*time.Hour, number: numLondon, code: engine.A00, trip: "warning total 1/1 30"}, // Friday 23:00
			{at: 4*24*time.Hour + 17*time.Hour, number: numLondon, code: engine.A00, trip: "warning total 2/1 30"}, // Saturday 03:00: Friday's night
			{at: 5*24*time.Hour + 2*time.Hour, number: numLondon, code: engine.R20, trip: "critical total 1/1 31"}, // Saturday 12:00
		}},
		{"a new window starts the statistics again", []tfps.Rule{p(tfps.Rule{ID: 40, TotalCritical: 2})}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: 24 * time.Hour, number: numLondon, code: engine.A00}, // Tuesday: a new day's window
			{at: 25 * time.Hour, number: numLondon, code: engine.R20, trip: "critical total 2/2 40"},
		}},
		{"another rule starts the statistics again", []tfps.Rule{
			p(tfps.Rule{ID: 50, Prefix: "44", TotalCritical: 2}),
			p(tfps.Rule{ID: 51, Prefix: "33", TotalCritical: 2}),
		}, monday.Add(tenAM), []ruleStep{
			{at: 0, number: numLondon, code: engine.A00},
			{at: time.Minute, number: numParis, code: engine.A00},
			{at: 2 * time.Minute, number: numLondon, code: engine.A00}, // 1 again under 50
			{at: 3 * time.Minute, number: numBham, code: engine.R20, trip: "critical total 2/2 50"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ruleRig(t, tc.rules...)
			for i, s := range tc.steps {
				at := tc.start.Add(s.at)
				if s.ends != "" {
					res, err := r.eng.EndCall(context.Background(), engine.CallEnd{CallID: s.ends, User: "r1", Domain: "pbx.example", Duration: s.end, Time: at})
					if err != nil {
						t.Fatalf("step %d: end %s: %v", i, s.ends, err)
					}
					if !res.Counted || tripText(res.Rule) != s.trip {
						t.Fatalf("step %d: end %s: counted %v, trip %q, want counted and %q", i, s.ends, res.Counted, tripText(res.Rule), s.trip)
					}
					continue
				}
				d := r.decide(t, ruleCall(at, s.number, s.callID))
				if d.Code != s.code || tripText(d.Rule) != s.trip {
					t.Fatalf("step %d (%s %s): %s %q, trip %q; want %s, trip %q", i, at.Format("Mon 15:04:05"), s.number, d.Code, d.Reason, tripText(d.Rule), s.code, s.trip)
				}
				if d.Code == engine.R20 && d.Reason != fmt.Sprintf("rule %d: %s %d reached the critical threshold %d", d.Rule.ID, d.Rule.Stat, d.Rule.Value, d.Rule.Threshold) {
					t.Errorf("step %d: reason %q does not name the stat, value, threshold and rule", i, d.Reason)
				}
			}
		})
	}
}

// TestFraudRuleRetransmission: the same Call-ID decided again, on another
// gateway sharing Redis (its own replay cache has never seen it), is not
// counted again in any statistic.
func TestFraudRuleRetransmission(t *testing.T) {
	r := ruleRig(t, tfps.Rule{ID: 1, Profile: "p", TotalCritical: 2, CPMCritical: 2, SequentialCritical: 2, ConcurrentCritical: 2})
	other := newRigOn(t, r.db, r.st, r.opts)
	at := monday.Add(10 * time.Hour)
	c := ruleCall(at, numLondon, "retried")
	if d := r.decide(t, c); d.Code != engine.A00 {
		t.Fatalf("first INVITE: %s %s", d.Code, d.Reason)
	}
	c.Time = at.Add(500 * time.Millisecond)
	if d := other.decide(t, c); d.Code != engine.A00 || d.Rule != nil {
		t.Fatalf("retransmission on the other gateway: %s %s (counted twice)", d.Code, d.Reason)
	}
	stats, err := r.st.RuleStats(context.Background(), "r1", "pbx.example", at.Add(time.Second), 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Total != 1 || stats.CPM != 1 || stats.Sequential != 1 || stats.Concurrent != 1 || stats.Rule != 1 {
		t.Fatalf("stats after a retransmission: %+v, want every stat 1", stats)
	}
	if d := other.decide(t, ruleCall(at.Add(time.Second), numLondon, "")); d.Code != engine.R20 {
		t.Fatalf("a new call: %s %s, want R20", d.Code, d.Reason)
	}
}

// TestFraudRuleCallEnd: an end is idempotent and an unknown call is
// ENOTFOUND.
func TestFraudRuleCallEnd(t *testing.T) {
	r := ruleRig(t, tfps.Rule{ID: 1, Profile: "p", ConcurrentCritical: 2, DurationWarning: 10})
	at := monday.Add(10 * time.Hour)
	r.decide(t, ruleCall(at, numLondon, "e1"))
	end := engine.CallEnd{CallID: "e1", User: "r1", Domain: "pbx.example", Duration: 20 * time.Second, Time: at.Add(time.Minute)}
	first, err := r.eng.EndCall(context.Background(), end)
	if err != nil || !first.Counted || first.Rule == nil {
		t.Fatalf("first end: %+v, %v", first, err)
	}
	again, err := r.eng.EndCall(context.Background(), end)
	if err != nil || !again.Already || again.Counted || again.Rule != nil {
		t.Fatalf("second end: %+v, %v; want already ended, nothing counted", again, err)
	}
	_, err = r.eng.EndCall(context.Background(), engine.CallEnd{CallID: "nope", User: "r1", Domain: "pbx.example", Time: at})
	if tfps.ErrorCode(err) != tfps.ENOTFOUND {
		t.Fatalf("unknown call: %v, want ENOTFOUND", err)
	}
	st, err := r.st.RuleStats(context.Background(), "r1", "pbx.example", at.Add(time.Minute), 4*time.Hour)
	if err != nil || st.Concurrent != 0 {
		t.Fatalf("concurrent after the end: %+v %v", st, err)
	}
}

// An account without a profile of its own follows its domain's default
// profile (the domain resource's); its own profile wins.
func TestDomainDefaultProfile(t *testing.T) {
	r := newRig(t, store.SQLite, baseOptions(t))
	ctx := context.Background()
	r.account(t, "plain", nil)
	r.account(t, "own", func(a *tfps.Account) { a.Profile = "lenient" })
	if err := r.db.PutDomain(ctx, &tfps.Domain{Domain: "pbx.example", Profile: "strict"}); err != nil {
		t.Fatal(err)
	}
	r.rules(t, tfps.Rule{Profile: "strict", CPMCritical: 1}, tfps.Rule{Profile: "lenient", CPMCritical: 100})
	user := func(u string) func(c *engine.Call) { return func(c *engine.Call) { c.User = u } }
	if d := r.decide(t, call(user("plain"))); d.Code != engine.R20 {
		t.Errorf("account without a profile, domain profile strict: %s (%s), want R20", d.Code, d.Reason)
	}
	if d := r.decide(t, call(user("own"))); d.Code != engine.A00 {
		t.Errorf("account with its own profile: %s (%s), want A00", d.Code, d.Reason)
	}
}

package ivr_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/asterisktest"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/learning"
	"github.com/voipshield/tfps/pin"
	"github.com/voipshield/tfps/store"
)

// The change-of-parameters menu on the real Asterisk: extension 877 of
// tfps-change, PIN protected.

const waitMenu = 30 * time.Second

func (r *rig) changeCall(user string) *asterisktest.Call {
	return r.phone.Dial("tfps-change", "877", map[string]string{"TFPS_DOMAIN": testDomain}, user)
}

// choose waits for the menu (in lang) and presses key.
func choose(c *asterisktest.Call, lang, key string) {
	c.WaitPlay("/"+lang+"/menu-concurrent", waitMenu)
	c.Press(key)
}

// answer waits for question, types typed, waits for the read-back of want
// and the confirmation, and answers it with yesNo.
func answer(c *asterisktest.Call, question, typed, want, yesNo string) {
	c.WaitPlay(question, waitMenu)
	c.Press(typed)
	c.WaitPlay("number:"+want, waitMenu)
	c.WaitPlay("/confirm", waitMenu)
	c.Press(yesNo)
}

// Each option sets its value: read back, confirmed, stored once the
// caller is done, and then used by the gateway's engine. Invalid entries
// are asked again, a refused confirmation stores nothing, and the menu
// speaks the language the caller chose.
func TestChangeMenuSetsEachValue(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	h, _ := pin.Hash("1357")
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, ConcurrentCallsOff: 1, DailyQuota: 10, DailyQuotaOff: 2,
		PINHash: h, Language: "en", DestinationCountries: []string{"US"}})

	c := r.changeCall(testUser)
	c.WaitPlay("/en/pin-ask", 20*time.Second)
	c.Press("1357")
	// 1: concurrent calls in hours; 0 is refused and asked again.
	choose(c, "en", "1")
	c.WaitPlay("/en/ask-concurrent", waitMenu)
	c.Press("0")
	c.WaitPlay("/en/invalid-answer", waitMenu)
	answer(c, "/en/ask-concurrent", "4", "4", "1")
	// 2: concurrent calls off hours.
	choose(c, "en", "2")
	answer(c, "/en/ask-concurrent-off", "3", "3", "1")
	// 3: daily quota in hours; 50 is read back and refused, then 5.
	choose(c, "en", "3")
	answer(c, "/en/ask-quota", "50#", "50", "2")
	choose(c, "en", "3")
	answer(c, "/en/ask-quota", "5#", "5", "1")
	// 4: daily quota off hours; a wrong confirmation key is asked again.
	choose(c, "en", "4")
	answer(c, "/en/ask-quota-off", "7#", "7", "5")
	c.WaitPlay("/en/invalid-answer", waitMenu)
	c.WaitPlay("/confirm", waitMenu)
	c.Press("1")
	// 7: the settings as this call leaves them; no trained values yet.
	choose(c, "en", "7")
	for _, w := range []string{"/en/read-concurrent", "number:4", "/en/read-concurrent-off", "number:3",
		"/en/read-quota", "number:5", "/en/read-quota-off", "number:7", "/en/no-suggestion"} {
		c.WaitPlay(w, waitMenu)
	}
	// 8 without trained values: nothing to accept.
	choose(c, "en", "8")
	c.WaitPlay("/en/no-suggestion", waitMenu)
	// 5: the language, each offered in its own voice; the chosen one speaks
	// at once, its confirmation too.
	choose(c, "en", "5")
	c.WaitPlay("/es/language-option", waitMenu)
	c.Press("2")
	c.WaitPlay("/es/language-is", waitMenu)
	c.WaitPlay("/es/confirm", waitMenu)
	c.Press("1")
	// 6: the new PIN, typed twice; two different entries are asked again.
	choose(c, "es", "6")
	c.WaitPlay("/es/pin-new", waitMenu)
	c.Press("2468#")
	c.WaitPlay("/es/pin-again", waitMenu)
	c.Press("2469#")
	c.WaitPlay("/es/pin-mismatch", waitMenu)
	c.WaitPlay("/es/pin-new", waitMenu)
	c.Press("2468#")
	c.WaitPlay("/es/pin-again", waitMenu)
	c.Press("2468#")
	c.WaitPlay("/es/pin-set", waitMenu)
	// 9 is no choice; # is done.
	choose(c, "es", "9")
	c.WaitPlay("/es/invalid-answer", waitMenu)
	choose(c, "es", "#")
	c.WaitPlay("/es/saved", waitMenu)
	c.WaitPlay("/es/goodbye", waitMenu)
	c.WaitEnd(20 * time.Second)
	c.CheckPromptsPlayed(r.ast.SoundsDir)

	a := r.account(testUser)
	if a.ConcurrentCalls != 4 || a.ConcurrentCallsOff != 3 || a.DailyQuota != 5 || a.DailyQuotaOff != 7 || a.Language != "es" {
		t.Errorf("account limits %d/%d, quotas %d/%d, language %q; want 4/3, 5/7, es",
			a.ConcurrentCalls, a.ConcurrentCallsOff, a.DailyQuota, a.DailyQuotaOff, a.Language)
	}
	if !pin.Verify(a.PINHash, "2468") || pin.Verify(a.PINHash, "1357") {
		t.Error("the stored PIN is not the new one")
	}
	if got := r.outbox(); !slices.Equal(got, []string{string(tfps.NotifyLearnedParameters)}) {
		t.Errorf("outbox %q, want one learned_parameters", got)
	}
	if ev := r.events(testUser); len(ev) != 1 || ev[0].Flow != "change" || ev[0].Outcome != "success" {
		t.Errorf("events %+v, want one successful change", ev)
	}

	// The gateway's engine uses the quota the menu set: 5 calls pass, the
	// 6th of the day verifies.
	for i := 1; i <= 6; i++ {
		d := r.decide(testUser, fmt.Sprint("+1202555012", i))
		if i <= 5 && d.Result != engine.Approve {
			t.Fatalf("call %d of the day: %s %s (%s), want approved under a quota of 5", i, d.Result, d.Code, d.Reason)
		}
		if i == 6 && d.Code != engine.V04 {
			t.Errorf("call 6 of the day: %s %s (%s), want V04 (quota of 5 reached)", d.Result, d.Code, d.Reason)
		}
	}
}

// The PIN the menu sets opens the next change call and the old one no
// longer does; every wrong PIN counts toward the account's block (R18).
func TestChangeMenuNewPINAndWrongPINs(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	h, _ := pin.Hash("1357")
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, DailyQuota: 10, PINHash: h, DestinationCountries: []string{"US"}})

	c := r.changeCall(testUser)
	c.WaitPlay("/pin-ask", 20*time.Second)
	c.Press("1357")
	choose(c, "en", "6")
	c.WaitPlay("/en/pin-new", waitMenu)
	c.Press("2468#")
	c.WaitPlay("/en/pin-again", waitMenu)
	c.Press("2468#")
	c.WaitPlay("/en/pin-set", waitMenu)
	choose(c, "en", "0")
	c.WaitPlay("/en/saved", waitMenu)
	c.WaitEnd(20 * time.Second)

	// Next call: the old PIN is wrong (one failure), the new one opens.
	c = r.changeCall(testUser)
	c.WaitPlay("/pin-ask", 20*time.Second)
	c.Press("1357")
	c.WaitPlay("/wrong-entry", waitMenu)
	c.WaitPlay("/pin-ask", waitMenu)
	c.Press("2468")
	choose(c, "en", "0")
	c.WaitPlay("/en/goodbye", waitMenu)
	c.WaitEnd(20 * time.Second)
	if c.PlayedAny("/saved") {
		t.Error("a call that changed nothing said the settings were saved")
	}
	if n := r.failures(testUser); n != 1 {
		t.Errorf("failures after the old PIN = %d, want 1", n)
	}

	// Two more wrong PINs reach the limit: the gateway refuses (R18).
	c = r.changeCall(testUser)
	for range 2 {
		c.WaitPlay("/pin-ask", 20*time.Second)
		c.Press("1357")
	}
	c.WaitPlayAny(waitMenu, "/blocked", "/verify-failed")
	c.WaitEnd(20 * time.Second)
	if n := r.failures(testUser); n != maxFails {
		t.Errorf("failures after three wrong PINs = %d, want %d", n, maxFails)
	}
	if d := r.decide(testUser, "+12025550123"); d.Code != engine.R18 {
		t.Errorf("call after three wrong PINs: %s %s (%s), want R18", d.Result, d.Code, d.Reason)
	}
	if a := r.account(testUser); !pin.Verify(a.PINHash, "2468") {
		t.Error("the PIN set by the menu was lost")
	}
}

// Options 7 and 8 read and accept what the account's history trains, from
// the code the API's history uses (api.AccountHistory): two past days of 3
// approved calls each, fed through the gateway's engine, suggest a quota of
// 3 (mean 3, no spread) and 1 concurrent call.
func TestChangeMenuHearsAndAcceptsTrainedValues(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Learning: config.LearningConfig{HistoryDays: 90, MinDays: 2, Mode: config.LearningSuggest,
		FloorConcurrent: 1, FloorQuota: 1, DiffPercent: 30}}
	cfg.MaxConcurrent = 9
	var db *store.Store
	r := newRig(t, func(_ *ivr.Options, f *ivr.Flows) {
		f.Suggest = func(ctx context.Context, a *tfps.Account, now time.Time) (*learning.Limits, error) {
			h, err := api.AccountHistory(ctx, db, cfg, a, now)
			if err != nil || h.Trained == nil {
				return nil, err
			}
			return h.Trained.Suggested, nil
		}
	})
	db = r.db
	h, _ := pin.Hash("1357")
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 5, ConcurrentCallsOff: 5, DailyQuota: 50, DailyQuotaOff: 50,
		PINHash: h, DestinationCountries: []string{"US"}})
	ctx := context.Background()
	if err := r.eng.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for day := 1; day <= 2; day++ {
		for i := range 3 {
			d, err := r.eng.Decide(ctx, engine.Call{
				User: testUser, Domain: testDomain, SourceIP: netip.MustParseAddr("10.1.2.3"), UserAgent: "Yealink",
				ConcurrentCalls: 1, Number: fmt.Sprintf("+1202555%02d%02d", day, i), Caller: "+12125550100",
				CallID: fmt.Sprintf("past-%d-%d", day, i), FromTag: "t", Time: now.AddDate(0, 0, -day), Transport: "sip",
			})
			if err != nil || d.Result != engine.Approve {
				t.Fatalf("past call: %s %s (%s) %v", d.Result, d.Code, d.Reason, err)
			}
		}
	}
	// The decision log is written behind the decisions.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := r.db.DailyStats(ctx, testUser, testDomain, now.AddDate(0, 0, -5).Format("2006-01-02"), now.Format("2006-01-02"))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	c := r.changeCall(testUser)
	c.WaitPlay("/pin-ask", 20*time.Second)
	c.Press("1357")
	choose(c, "en", "7")
	for _, w := range []string{"/en/read-quota", "number:50", "/en/suggested", "/en/read-concurrent", "number:1", "/en/read-quota", "number:3"} {
		c.WaitPlay(w, waitMenu)
	}
	choose(c, "en", "8")
	c.WaitPlay("/en/suggested", waitMenu)
	c.WaitPlay("/en/confirm", waitMenu)
	c.Press("1")
	choose(c, "en", "0")
	c.WaitPlay("/en/saved", waitMenu)
	c.WaitEnd(20 * time.Second)
	if a := r.account(testUser); a.DailyQuota != 3 || a.ConcurrentCalls != 1 {
		t.Errorf("after accepting the suggestions: quota %d, concurrent %d; want 3 and 1", a.DailyQuota, a.ConcurrentCalls)
	}
}

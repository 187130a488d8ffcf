package replay

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/command/commandtest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// A verify line at a fraud rule's warning (V11, a rule copied from the
// live database) replays through the simulated IVR: the caller who passes
// redials and is approved (the value proved is remembered); a call beyond
// it within the minute is asked again.
func TestReplayRuleWarningFlow(t *testing.T) {
	ctx := context.Background()
	vars := testVars(t, map[string]string{"TFPS_VERIFIED_GRACE": "12h"})
	live := storetest.MustOpen(t, store.SQLite)
	if err := live.PutRules(ctx, []tfps.Rule{{ID: 7, Profile: "office", CPMWarning: 2, CPMCritical: 9, WarningAction: tfps.RuleWarningVerify}}); err != nil {
		t.Fatal(err)
	}
	if err := live.CreateAccount(ctx, &tfps.Account{User: "ruled", Domain: "madrid.example", ConcurrentCalls: 5, ConcurrentCallsOff: 5,
		DailyQuota: 1000, DailyQuotaOff: 1000, SourceCountries: []string{"ES"}, DestinationCountries: []string{"ES"}, HomeCountry: "ES", Profile: "office"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 5, 6, 11, 0, 0, 0, madrid)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	lines := []in{
		call(at(0), "ruled", "+34911000001", "", ""),
		call(at(5), "ruled", "+34911000002", IVRPass, ""),
		call(at(40), "ruled", "+34911000003", IVRFail, ""),
	}
	cfg := commandtest.Config(t, vars)
	out, sum, err := replayBytes(t, cfg, Options{Accounts: AccountsLive, Live: live}, encode(t, lines))
	if err != nil {
		t.Fatal(err)
	}
	o := outputs(t, out)
	check := func(i int, ok bool, what string) {
		t.Helper()
		if !ok {
			b, _ := json.Marshal(o[i])
			t.Errorf("line %d: %s; got %s", i+1, what, b)
		}
	}
	check(0, o[0].Code == "A00", "first call of the minute approved")
	check(1, o[1].Code == "V11" && o[1].Flow == "rule_warning" && o[1].Outcome == "verified" && o[1].Redial != nil && o[1].Redial.Code == "A00",
		"rule warning passed: V11, verified, redial A00 (3 calls a minute, proved 3)")
	check(2, o[2].Code == "V11" && o[2].Outcome == "failed", "4 calls a minute, beyond what was proved: asked again")
	if sum.Notifications["rule_verified"] != 1 {
		t.Errorf("summary notifications %v: want one rule_verified", sum.Notifications)
	}
}

package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/command/commandtest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// Verify lines of the range flows replay through the simulated IVR: a
// passed risky_range call (V06, a range copied from the live database)
// allows that range, so the redial and the next call of the range are
// approved while another account is still asked; a passed range_hopping
// call (V07) lets the stopped number through on redial.
func TestReplayRangeFlows(t *testing.T) {
	ctx := context.Background()
	vars := testVars(t, map[string]string{"TFPS_RANGE_DISTINCT_LIMIT": "3"})
	live := storetest.MustOpen(t, store.SQLite)
	for _, u := range []string{"ranger", "other", "hopper"} {
		if err := live.CreateAccount(ctx, &tfps.Account{User: u, Domain: "madrid.example", ConcurrentCalls: 5, ConcurrentCallsOff: 5,
			DailyQuota: 1000, DailyQuotaOff: 1000, SourceCountries: []string{"ES"}, DestinationCountries: []string{"ES", "GB"}, HomeCountry: "ES"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := live.PutRanges(ctx, []tfps.NumberRange{{Prefix: "+4420794", Level: tfps.RangeVerify, Source: "carrier A"}}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 5, 6, 11, 0, 0, 0, madrid)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	lines := []in{
		call(at(0), "ranger", "+442079460000", IVRPass, ""),
		call(at(1), "ranger", "+442079469999", "", ""),
		call(at(2), "other", "+442079460000", IVRFail, ""),
	}
	for i := range 3 {
		lines = append(lines, call(at(3+i), "hopper", fmt.Sprintf("+4420812300%02d", i), "", ""))
	}
	lines = append(lines, call(at(6), "hopper", "+442081230099", IVRPass, ""))
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
	check(0, o[0].Code == "V06" && o[0].Flow == "risky_range" && o[0].Outcome == "verified" && o[0].Redial != nil && o[0].Redial.Code == "A00",
		"risky range passed: V06, verified, redial A00")
	check(1, o[1].Code == "A00", "another number of the verified range is approved")
	check(2, o[2].Code == "V06" && o[2].Outcome == "failed", "another account is still asked")
	for i := 3; i < 6; i++ {
		check(i, o[i].Code == "A00", "numbers within the distinct limit")
	}
	check(6, o[6].Code == "V07" && o[6].Flow == "range_hopping" && o[6].Outcome == "verified" && o[6].Redial != nil && o[6].Redial.Code == "A00",
		"range hopping passed: V07, verified, redial A00")
	if sum.Notifications["range_allowed"] != 1 || sum.Notifications["range_raised"] != 1 {
		t.Errorf("summary notifications %v: want one range_allowed and one range_raised", sum.Notifications)
	}
}

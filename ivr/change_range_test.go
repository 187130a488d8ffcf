package ivr_test

import (
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/ivr"
)

// A verified risky_range caller allows the ticket's range, nothing else.
func TestPlanChangeRiskyRange(t *testing.T) {
	ch, err := ivr.PlanChange(&ivr.Options{}, ivr.Verified{Flow: "risky_range", User: "1001", Domain: "pbx.example", Range: "4420794"})
	if err != nil || ch.AllowRange != "4420794" || ch.Update != nil || ch.Create != nil || ch.Kind != tfps.NotifyRangeAllowed {
		t.Errorf("PlanChange = %+v, %v; want AllowRange 4420794 and a range_allowed mail only", ch, err)
	}
	if _, err := ivr.PlanChange(&ivr.Options{}, ivr.Verified{Flow: "risky_range", User: "1001"}); err == nil {
		t.Error("a risky_range ticket without a range was accepted")
	}
}

// A verified range_hopping caller gets twice the numbers of that range it
// was stopped at, from that source country, for the grace (at least the
// range window, so the redial passes with the grace off); the range is not
// allowed for good.
func TestPlanChangeRangeHopping(t *testing.T) {
	at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		grace time.Duration
		until time.Time
	}{
		{"grace", 12 * time.Hour, at.Add(12 * time.Hour)},
		{"grace off", 0, at.Add(time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &ivr.Options{Grace: tc.grace, RangeWindow: time.Hour}
			ch, err := ivr.PlanChange(o, ivr.Verified{Flow: "range_hopping", User: "1001", Domain: "pbx.example", Range: "44207946",
				SourceCountry: "US", Observed: 11, At: at})
			if err != nil || ch.AllowRange != "" || ch.Update == nil || ch.Kind != tfps.NotifyRangeRaised {
				t.Fatalf("PlanChange = %+v, %v; want an update and a range_raised mail", ch, err)
			}
			a := &tfps.Account{}
			if err := ch.Update(a); err != nil {
				t.Fatal(err)
			}
			if got := a.VerifiedRangeLevel("44207946", "US", at); got != 20 {
				t.Errorf("level %d, want 20 (twice the 10 the caller was stopped at)", got)
			}
			if a.VerifiedRangeLevel("44207946", "US", tc.until.Add(-time.Second)) == 0 || a.VerifiedRangeLevel("44207946", "US", tc.until) != 0 {
				t.Errorf("remembered %+v, want until %s", a.Verified, tc.until)
			}
			if a.VerifiedRangeLevel("44207947", "US", at) != 0 || a.VerifiedRangeLevel("44207946", "GB", at) != 0 || a.VerifiedLevel(tfps.LimitQuota, "US", at) != 0 {
				t.Errorf("the raise leaks to another range, source country or limit: %+v", a.Verified)
			}
		})
	}
	if _, err := ivr.PlanChange(&ivr.Options{}, ivr.Verified{Flow: "range_hopping", User: "1001"}); err == nil {
		t.Error("a range_hopping ticket without a range was accepted")
	}
}

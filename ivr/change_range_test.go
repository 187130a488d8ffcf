package ivr_test

import (
	"testing"

	"github.com/voipshield/tfps/ivr"
)

// A verified risky_range caller allows the ticket's range, nothing else.
func TestPlanChangeRiskyRange(t *testing.T) {
	ch, err := ivr.PlanChange(&ivr.Options{}, ivr.Verified{Flow: "risky_range", User: "1001", Domain: "pbx.example", Range: "4420794"})
	if err != nil || ch.AllowRange != "4420794" || ch.Update != nil || ch.Create != nil {
		t.Errorf("PlanChange = %+v, %v; want AllowRange 4420794 only", ch, err)
	}
	if _, err := ivr.PlanChange(&ivr.Options{}, ivr.Verified{Flow: "risky_range", User: "1001"}); err == nil {
		t.Error("a risky_range ticket without a range was accepted")
	}
}

package ivr_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
)

// A call into a high-risk range the operator marked verify (V06): the
// caller hears the code, then why ("a range of numbers often used for
// fraud"), types it, and hears that the range is allowed. The gateway then
// approves that range for that account only: another range is still asked,
// and so is another account calling the same range.
func TestRiskyRangeVerifiedAllowsThatRangeForTheAccount(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	for _, u := range []string{testUser, "1002"} {
		r.createAccount(&tfps.Account{User: u, ConcurrentCalls: 2, DailyQuota: 100, DestinationCountries: []string{"US", "GB"}})
	}
	if err := r.db.PutRanges(context.Background(), []tfps.NumberRange{
		{Prefix: "+4420794", Level: tfps.RangeVerify, Source: "carrier A"},
		{Prefix: "+4420795", Level: tfps.RangeVerify, Source: "carrier A"},
	}); err != nil {
		t.Fatal(err)
	}
	d := r.decide(testUser, "+442079460000")
	if d.Code != engine.V06 || d.Flow != engine.FlowRiskyRange || d.Ticket == "" {
		t.Fatalf("call into the verify range: %s %s (%s), want V06 risky_range with a ticket", d.Code, d.Flow, d.Reason)
	}
	c := r.phone.VerifyCall(d.Ticket)
	code := c.Challenge()
	c.WaitPlay("/en/explain-risky-range", 20*time.Second)
	c.Press(code)
	c.WaitPlay("/en/range-allowed", 30*time.Second)
	c.WaitPlay("/en/redial", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	c.CheckPromptsPlayed(r.ast.SoundsDir)

	ev := r.events(testUser)
	if len(ev) != 1 || ev[0].Outcome != "success" || ev[0].Flow != string(engine.FlowRiskyRange) || ev[0].Ticket != d.Ticket {
		t.Errorf("verification events %+v, want one risky_range success", ev)
	}
	if got := r.outbox(); !slices.Equal(got, []string{string(tfps.NotifyRangeAllowed)}) {
		t.Errorf("outbox %q, want one range_allowed mail", got)
	}
	for _, tc := range []struct {
		user, number string
		code         engine.Code
	}{
		{testUser, "+442079460000", engine.A00}, // the number verified
		{testUser, "+442079412345", engine.A00}, // another number of the range
		{testUser, "+442079512345", engine.V06}, // another range
		{"1002", "+442079460000", engine.V06},   // another account
	} {
		if d := r.decide(tc.user, tc.number); d.Code != tc.code {
			t.Errorf("%s to %s after the verification: %s (%s), want %s", tc.user, tc.number, d.Code, d.Reason, tc.code)
		}
	}
}

// Range hopping (V07), in Spanish: after more than the distinct-number
// limit of one range, the caller is asked, passes, and the number that was
// stopped goes through on redial, as do more numbers of that range.
func TestRangeHoppingVerifiedLetsTheCallerGoOn(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *ivr.Options, _ *ivr.Flows) { o.Grace, o.RangeWindow = 0, time.Hour })
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, DailyQuota: 100, DestinationCountries: []string{"US", "GB"}, Language: "es"})
	number := func(i int) string { return fmt.Sprintf("+4420794600%02d", i) }
	for i := range 10 { // the engine's default TFPS_RANGE_DISTINCT_LIMIT
		if d := r.decide(testUser, number(i)); d.Code != engine.A00 {
			t.Fatalf("number %d: %s (%s)", i, d.Code, d.Reason)
		}
	}
	d := r.decide(testUser, number(10))
	if d.Code != engine.V07 || d.Flow != engine.FlowRangeHopping {
		t.Fatalf("eleventh number: %s %s (%s), want V07 range_hopping", d.Code, d.Flow, d.Reason)
	}
	c := r.phone.VerifyCall(d.Ticket)
	code := c.Challenge()
	c.WaitPlay("/es/explain-range-hopping", 20*time.Second)
	c.Press(code)
	c.WaitPlay("/es/range-raised", 30*time.Second)
	c.WaitEnd(20 * time.Second)
	if got := r.outbox(); !slices.Equal(got, []string{string(tfps.NotifyRangeRaised)}) {
		t.Errorf("outbox %q, want one range_raised mail", got)
	}
	if lv := r.account(testUser).VerifiedRangeLevel("44207946", "", time.Now()); lv != 20 {
		t.Errorf("proved level %d, want 20 numbers of the range", lv)
	}
	for i := 10; i < 20; i++ {
		if d := r.decide(testUser, number(i)); d.Code != engine.A00 {
			t.Fatalf("number %d after the verification: %s (%s), want A00", i, d.Code, d.Reason)
		}
	}
	if d := r.decide(testUser, number(20)); d.Code != engine.V07 {
		t.Errorf("21st number: %s (%s), want V07 again", d.Code, d.Reason)
	}
}

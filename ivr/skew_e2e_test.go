package ivr_test

import (
	"context"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/state"
)

// A verification box whose clock runs ten minutes ahead of the gateway's:
// the ticket the gateway just issued is taken (not "expired"), and the
// wrong entries block the account at the gateway at once (R18), as if the
// clocks agreed.
func TestIVRClockAheadOfTheGateway(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(_ *ivr.Options, f *ivr.Flows) {
		f.Now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	})
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, DailyQuota: 10, DestinationCountries: []string{"US"}})
	for call := 1; call <= 2; call++ {
		d := r.decide(testUser, "+442079460000")
		if d.Result != engine.Verify {
			t.Fatalf("call %d to a new destination: %s %s (%s), want verify", call, d.Result, d.Code, d.Reason)
		}
		c := r.phone.VerifyCall(d.Ticket)
		digits := c.Challenge()
		if digits == "" {
			c.WaitEnd(20 * time.Second)
			t.Fatalf("call %d: no challenge for the gateway's fresh ticket (played %q)", call, c.Played)
		}
		failChallenge(c, call, digits)
	}
	if d := r.decide(testUser, "+442079460000"); d.Code != engine.R18 {
		t.Errorf("after 3 failures the gateway says %s (%s), want R18", d.Code, d.Reason)
	}
}

// A verification box whose clock runs ten minutes behind the gateway's
// refuses a ticket once its TTL has passed since the decision.
func TestIVRClockBehindTheGateway(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(_ *ivr.Options, f *ivr.Flows) {
		f.Now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	})
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	now := time.Now()
	tk := &engine.Ticket{Flow: engine.FlowQuota, User: testUser, Domain: testDomain, Created: now, Expires: now.Add(time.Second)}
	if _, err := state.NewDecideCounters(r.st).Count(context.Background(), &engine.CountRequest{Now: now, User: testUser, Domain: testDomain, Ticket: tk}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	c := r.phone.VerifyCall(tk.ID)
	c.WaitPlay("ticket-invalid", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if c.PlayedAny("/digit-") {
		t.Errorf("a ticket past its one-second TTL was challenged: %q", c.Played)
	}
	if ev := r.events(testUser); len(ev) != 1 || ev[0].Outcome != "expired" {
		t.Errorf("events %+v, want one expired", ev)
	}
}

// What a passed limit verification proves lasts the grace on the gateway's
// clock, even when the verification box's clock is ten minutes behind
// (with a five-minute grace the proof would otherwise have ended before it
// was made).
func TestGraceOnTheGatewayClock(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *ivr.Options, f *ivr.Flows) {
		o.StepPercent, o.Grace = 50, 5*time.Minute
		f.Now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	})
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, DailyQuota: 100, DestinationCountries: []string{"US"}})
	d := r.decideConcurrent(testUser, 4)
	if d.Code != engine.V08 {
		t.Fatalf("4 calls over a limit of 2: %s %s (%s), want V08", d.Result, d.Code, d.Reason)
	}
	c := r.phone.VerifyCall(d.Ticket)
	c.Press(c.Challenge())
	c.WaitPlay("concurrent-raised", 30*time.Second)
	c.WaitEnd(20 * time.Second)
	if lv := r.account(testUser).VerifiedLevel(tfps.LimitConcurrent, "", time.Now()); lv != 6 {
		t.Errorf("proved level now %d, want 6 (4 plus 50 %%) for the next 5 minutes", lv)
	}
	if d := r.decideConcurrent(testUser, 6); d.Result != engine.Approve {
		t.Errorf("6 calls within the grace: %s %s (%s), want approve", d.Result, d.Code, d.Reason)
	}
}

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
		c.Press(wrong(digits))
		if call == 1 {
			c.Press(wrong(c.Challenge()))
			c.WaitPlay("verify-failed", 20*time.Second)
		} else {
			c.WaitPlay("blocked", 20*time.Second)
		}
		c.WaitEnd(20 * time.Second)
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

package ivr_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
)

// decideConcurrent asks the gateway's engine about a call while the PBX
// reports n concurrent calls of user.
func (r *rig) decideConcurrent(user string, n int) engine.Decision {
	r.t.Helper()
	ctx := context.Background()
	if err := r.eng.Refresh(ctx); err != nil {
		r.t.Fatalf("refresh engine: %v", err)
	}
	d, err := r.eng.Decide(ctx, engine.Call{
		User: user, Domain: testDomain, SourceIP: netip.MustParseAddr("10.1.2.3"), UserAgent: "Yealink",
		ConcurrentCalls: n, Number: "+12025550123", Caller: "+12125550100",
		CallID: fmt.Sprintf("call-%d", time.Now().UnixNano()), FromTag: "t", Time: time.Now(), Transport: "sip",
	})
	if err != nil {
		r.t.Fatalf("decide: %v", err)
	}
	return d
}

// Over the concurrent-call limit the gateway asks instead of refusing
// (V08). The caller who passes gets the limit raised to cover the calls
// they have now, and within the grace a little more is not asked again.
func TestConcurrencyVerificationRaisesTheLimit(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *ivr.Options, _ *ivr.Flows) { o.StepPercent, o.Grace = 50, 12*time.Hour })
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, DailyQuota: 100, DestinationCountries: []string{"US"}})

	d := r.decideConcurrent(testUser, 4)
	if d.Code != engine.V08 || d.Flow != engine.FlowConcurrent {
		t.Fatalf("4 calls over a limit of 2: %s %s (%s), want V08", d.Result, d.Code, d.Reason)
	}
	c := r.phone.VerifyCall(d.Ticket)
	code := c.Challenge()
	// The reason of the call follows the code; the caller listens to it
	// before typing (the first-key window is still open).
	c.WaitPlay("/en/explain-concurrent", 20*time.Second)
	c.Press(code)
	c.WaitPlay("concurrent-raised", 30*time.Second)
	c.WaitEnd(20 * time.Second)
	a := r.account(testUser)
	if a.ConcurrentCalls != 4 {
		t.Errorf("limit after the verification %d, want 4 (the calls the caller had)", a.ConcurrentCalls)
	}
	if lv := a.VerifiedLevel(tfps.LimitConcurrent, "", time.Now()); lv != 6 {
		t.Errorf("proved level %d, want 6 (4 plus 50 %%)", lv)
	}
	if d := r.decideConcurrent(testUser, 6); d.Result != engine.Approve {
		t.Errorf("6 calls within the grace: %s %s (%s), want approve", d.Result, d.Code, d.Reason)
	}
	if d := r.decideConcurrent(testUser, 7); d.Code != engine.V08 {
		t.Errorf("7 calls, past the proved level: %s %s, want V08", d.Result, d.Code)
	}
}

// A dialer over the limit cannot pass the voice check: its failures block
// the account (R18) and the limit stays where it was.
func TestConcurrencyVerificationFailureBlocks(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *ivr.Options, _ *ivr.Flows) { o.StepPercent, o.Grace = 50, 12*time.Hour })
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, DailyQuota: 100, DestinationCountries: []string{"US"}})

	for call := 1; call <= 2; call++ {
		d := r.decideConcurrent(testUser, 8)
		if d.Code != engine.V08 {
			t.Fatalf("call %d: %s %s (%s), want V08", call, d.Result, d.Code, d.Reason)
		}
		c := r.phone.VerifyCall(d.Ticket)
		failChallenge(c, call, c.Challenge())
	}
	if d := r.decideConcurrent(testUser, 1); d.Code != engine.R18 {
		t.Errorf("after three failures: %s %s (%s), want R18", d.Result, d.Code, d.Reason)
	}
	if a := r.account(testUser); a.ConcurrentCalls != 2 || len(a.Verified) != 0 {
		t.Errorf("account after failures: limit %d, proved %+v; want 2 and nothing", a.ConcurrentCalls, a.Verified)
	}
}

package ivr_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
)

// ruleRig is a rig whose account follows a profile with one rule: a
// warning at 2 calls a minute that verifies (V11), critical at 6.
func ruleRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t, func(o *ivr.Options, _ *ivr.Flows) { o.StepPercent, o.Grace = 50, 12*time.Hour })
	if err := r.db.PutRules(context.Background(), []tfps.Rule{{ID: 7, Profile: "office",
		CPMWarning: 2, CPMCritical: 6, WarningAction: tfps.RuleWarningVerify}}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 9, DailyQuota: 100, DestinationCountries: []string{"US"}, Profile: "office"})
	if d := r.ruleCall(); d.Result != engine.Approve {
		t.Fatalf("first call of the minute: %s %s (%s), want approve", d.Result, d.Code, d.Reason)
	}
	return r
}

// A fraud rule's warning with warning_action verify asks the caller
// (V11). The caller who passes has proved the rate they called at: the
// redial, one call more, goes through; beyond what was proved it asks again.
func TestRuleWarningVerificationLetsTheRedialThrough(t *testing.T) {
	t.Parallel()
	r := ruleRig(t)

	d := r.ruleCall()
	if d.Code != engine.V11 || d.Flow != engine.FlowRuleWarning {
		t.Fatalf("second call of the minute: %s %s (%s), want V11", d.Result, d.Code, d.Reason)
	}
	c := r.phone.VerifyCall(d.Ticket)
	code := c.Challenge()
	c.WaitPlay("/en/explain-rule-warning", 20*time.Second)
	c.Press(code)
	c.WaitPlay("rule-allowed", 30*time.Second)
	c.WaitEnd(20 * time.Second)

	a := r.account(testUser)
	if lv := a.VerifiedRuleLevel(7, tfps.StatCPM, "", time.Now()); lv != 3 {
		t.Errorf("proved cpm of rule 7: %d, want 3 (2 calls plus 50 %%, at least one); verified %+v", lv, a.Verified)
	}
	if d := r.ruleCall(); d.Result != engine.Approve {
		t.Errorf("redial after passing (3 calls a minute): %s %s (%s), want approve", d.Result, d.Code, d.Reason)
	} else if d.Rule == nil || d.Rule.Level != "warning" {
		t.Errorf("redial after passing: rule trip %+v, want the warning still reported", d.Rule)
	}
	if d := r.ruleCall(); d.Code != engine.V11 {
		t.Errorf("4 calls a minute, past the proved 3: %s %s (%s), want V11", d.Result, d.Code, d.Reason)
	}
	if got := r.outbox(); !containsKind(got, tfps.NotifyRuleVerified) {
		t.Errorf("outbox %q, want a rule_verified mail", got)
	}
}

// A dialer at a rule's warning cannot pass the voice check: its failures
// count toward the account's block (R18) and nothing is proved.
func TestRuleWarningVerificationFailureBlocks(t *testing.T) {
	t.Parallel()
	r := ruleRig(t)

	for call := 1; call <= 2; call++ {
		d := r.ruleCall()
		if d.Code != engine.V11 {
			t.Fatalf("call %d: %s %s (%s), want V11", call, d.Result, d.Code, d.Reason)
		}
		c := r.phone.VerifyCall(d.Ticket)
		failChallenge(c, call, c.Challenge())
	}
	if d := r.ruleCall(); d.Code != engine.R18 {
		t.Errorf("after three failures: %s %s (%s), want R18", d.Result, d.Code, d.Reason)
	}
	if a := r.account(testUser); len(a.Verified) != 0 {
		t.Errorf("account after failures: proved %+v, want nothing", a.Verified)
	}
}

// ruleCall asks about a call of testUser to the next of a run of US
// numbers: each call a different number, so only the rule counts them
// (the same number again would trip the A->B repeat check).
func (r *rig) ruleCall() engine.Decision {
	r.t.Helper()
	r.calls++
	return r.decide(testUser, fmt.Sprintf("+1202555%04d", r.calls))
}

func containsKind(outbox []string, k tfps.NotificationKind) bool {
	for _, s := range outbox {
		if s == string(k) {
			return true
		}
	}
	return false
}

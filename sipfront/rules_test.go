package sipfront_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/sipfront"
)

// Fraud rules over SIP (sipp): the call that reaches a rule's critical
// calls-per-minute threshold answers R20 (603 in failover mode), and a
// warning whose action is verify redirects to the IVR with a rule_warning
// ticket that names the rule.
func TestFraudRulesOverSIP(t *testing.T) {
	r302 := newRig(t, sipfront.Options{Method: 302, ContactHost: "192.0.2.1", IVRAddress: "198.51.100.7:5080"})
	r503 := newRig(t, sipfront.Options{Method: 503, IVRAddress: "198.51.100.7:5080"})
	ctx := context.Background()
	setup := func(r *rig, rule tfps.Rule) {
		t.Helper()
		a, err := r.db.GetAccount(ctx, "alice", "pbx.example.com")
		if err != nil {
			t.Fatal(err)
		}
		a.Profile = "sip"
		if err := r.db.UpdateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		rule.Profile = "sip"
		if err := r.db.PutRules(ctx, []tfps.Rule{rule}); err != nil {
			t.Fatal(err)
		}
		if err := r.eng.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	alice := []string{"P-tfps: alice;pbx.example.com;127.0.0.1;Yealink T46U;1"}

	setup(r302, tfps.Rule{CPMCritical: 2})
	setup(r503, tfps.Rule{CPMCritical: 2})
	if user, _ := contactOf(t, r302.sipp(t, call{Number: "+12125550140", FromUser: "100", Headers: alice, Status: 302})); user != "A00+12125550140" {
		t.Fatalf("first call under the rule: Contact %s, want A00", user)
	}
	if user, host := contactOf(t, r302.sipp(t, call{Number: "+12125550141", FromUser: "101", Headers: alice, Status: 302})); user != "R20+12125550141" || host != "192.0.2.1" {
		t.Errorf("second call within a minute, critical cpm 2: Contact %s@%s, want R20+12125550141@192.0.2.1", user, host)
	}
	r503.sipp(t, call{Number: "+12125550140", FromUser: "100", Headers: alice, Status: 503})
	r503.sipp(t, call{Number: "+12125550141", FromUser: "101", Headers: alice, Status: 603})

	rv := newRig(t, sipfront.Options{Method: 302, ContactHost: "192.0.2.1", IVRAddress: "198.51.100.7:5080"})
	setup(rv, tfps.Rule{CPMWarning: 2, WarningAction: tfps.RuleWarningVerify})
	rv.sipp(t, call{Number: "+12125550150", FromUser: "100", Headers: alice, Status: 302})
	user, host := contactOf(t, rv.sipp(t, call{Number: "+12125550151", FromUser: "101", Headers: alice, Status: 302}))
	if host != "198.51.100.7:5080" || !strings.HasPrefix(user, "V") {
		t.Fatalf("warning that verifies: Contact %s@%s, want V<ticket>@198.51.100.7:5080", user, host)
	}
	tk, err := rv.st.ClaimTicket(ctx, strings.TrimPrefix(user, "V"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if tk.Flow != engine.FlowRuleWarning || tk.Code != engine.V11 {
		t.Errorf("ticket %+v, want a V11 rule_warning ticket", tk)
	}
}

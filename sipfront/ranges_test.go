package sipfront_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/sipfront"
)

// High-risk number ranges over SIP (sipp): a reject range answers R21 (603
// in failover mode), a verify range redirects to the IVR with a risky_range
// ticket for that range, and the eleventh distinct number of one range
// within the window (range hopping) redirects with a range_hopping ticket.
func TestNumberRangesOverSIP(t *testing.T) {
	r302 := newRig(t, sipfront.Options{Method: 302, ContactHost: "192.0.2.1", IVRAddress: "198.51.100.7:5080"})
	r503 := newRig(t, sipfront.Options{Method: 503, IVRAddress: "198.51.100.7:5080"})
	ctx := context.Background()
	for _, r := range []*rig{r302, r503} {
		if err := r.db.PutRanges(ctx, []tfps.NumberRange{
			{Prefix: "+4420795", Level: tfps.RangeReject, Source: "carrier A"},
			{Prefix: "+4420796", Level: tfps.RangeVerify, Source: "carrier A"},
		}); err != nil {
			t.Fatal(err)
		}
		if err := r.eng.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	alice := []string{"P-tfps: alice;pbx.example.com;127.0.0.1;Yealink T46U;1"}

	// R21: the code in the Contact of the 302, or 603 in failover mode.
	user, host := contactOf(t, r302.sipp(t, call{Number: "+442079512345", FromUser: "100", Headers: alice, Status: 302}))
	if user != "R21+442079512345" || host != "192.0.2.1" {
		t.Errorf("reject range: Contact %s@%s, want R21+442079512345@192.0.2.1", user, host)
	}
	r503.sipp(t, call{Number: "+442079512345", FromUser: "100", Headers: alice, Status: 603})

	// V06 and V07 redirect to the IVR in both modes, with a ticket that
	// names the flow and the range.
	claim := func(r *rig, logged string) engine.Ticket {
		t.Helper()
		user, host := contactOf(t, logged)
		if host != "198.51.100.7:5080" || !strings.HasPrefix(user, "V") {
			t.Fatalf("verify Contact = %s@%s, want V<ticket>@198.51.100.7:5080", user, host)
		}
		tk, err := r.st.ClaimTicket(ctx, strings.TrimPrefix(user, "V"), time.Now())
		if err != nil {
			t.Fatalf("claim ticket %s: %v", user, err)
		}
		return tk
	}
	for _, r := range []*rig{r302, r503} {
		tk := claim(r, r.sipp(t, call{Number: "+442079612345", FromUser: "100", Headers: alice, Status: 302}))
		if tk.Flow != engine.FlowRiskyRange || tk.Range != "4420796" || tk.Number != "+442079612345" || tk.User != "alice" {
			t.Errorf("verify range ticket %+v, want risky_range of 4420796", tk)
		}
	}
	number := func(i int) string { return fmt.Sprintf("+1303555%04d", i) }
	for i := range 10 { // the default TFPS_RANGE_DISTINCT_LIMIT
		user, _ := contactOf(t, r302.sipp(t, call{Number: number(i), FromUser: "100", Headers: alice, Status: 302}))
		if user != "A00"+number(i) {
			t.Fatalf("number %d of the range: Contact %s, want A00", i, user)
		}
	}
	tk := claim(r302, r302.sipp(t, call{Number: number(10), FromUser: "100", Headers: alice, Status: 302}))
	if tk.Flow != engine.FlowRangeHopping || tk.Range != "13035550" {
		t.Errorf("eleventh number: ticket %+v, want range_hopping of 13035550", tk)
	}
}

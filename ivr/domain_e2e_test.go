package ivr_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
)

// A user of a service provider's domain, decided with the domain's default
// account, who passes a verification (here a new destination country) gets
// an account of their own: the default's limits and countries plus the
// verified country, without the default holder's PIN or e-mail.
func TestDefaultedUserPassingGetsOwnAccount(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: "default", ConcurrentCalls: 3, DailyQuota: 77, Email: "boss@provider.example",
		DestinationCountries: []string{"US"}})
	if err := r.db.PutDomain(context.Background(), &tfps.Domain{Domain: testDomain, DefaultUser: "default", Unknown: tfps.UnknownDefault}); err != nil {
		t.Fatal(err)
	}
	if d := r.decide("alice", "+12025550123"); d.Code != engine.A00 {
		t.Fatalf("unknown user of a default domain to an allowed country: %s (%s), want A00", d.Code, d.Reason)
	}
	d := r.decide("alice", "+442079460000")
	if d.Code != engine.V03 || d.Ticket == "" {
		t.Fatalf("new destination: %s (%s), want V03 with a ticket", d.Code, d.Reason)
	}
	c := r.phone.VerifyCall(d.Ticket)
	c.Press(c.Challenge())
	c.WaitPlay("country-added", 30*time.Second)
	c.WaitEnd(20 * time.Second)
	a := r.account("alice")
	if a == nil {
		t.Fatal("alice has no account after passing")
	}
	if a.DailyQuota != 77 || a.ConcurrentCalls != 3 || !slices.Contains(a.DestinationCountries, "GB") || !slices.Contains(a.DestinationCountries, "US") || a.Email != "" {
		t.Errorf("alice's account %+v: want the default's limits and countries plus GB, no e-mail", a)
	}
	if def := r.account("default"); slices.Contains(def.DestinationCountries, "GB") {
		t.Errorf("the default account gained GB: %v", def.DestinationCountries)
	}
	if d := r.decide("alice", "+442079460001"); d.Code != engine.A00 {
		t.Errorf("alice after passing: %s (%s), want A00", d.Code, d.Reason)
	}
}

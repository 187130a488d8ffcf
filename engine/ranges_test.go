package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

func newRangeRig(t *testing.T, opts engine.Options) *rig {
	t.Helper()
	db, st := storetest.MustOpen(t, store.SQLite), statetest.MustOpen(t)
	eng, err := engine.New(context.Background(), engine.Deps{
		Accounts: db, Lists: db, Changes: db, Log: db, Counters: state.NewDecideCounters(st),
		Reputation: &testReputation{}, Ranges: db,
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	return &rig{eng: eng, db: db, st: st, opts: opts}
}

func TestNumberRanges(t *testing.T) {
	r := newRangeRig(t, baseOptions(t))
	r.account(t, "1001", func(a *tfps.Account) { a.DailyQuota = 100 })
	ctx := context.Background()
	if err := r.db.PutRanges(ctx, []tfps.NumberRange{
		{Prefix: "+4420794", Level: tfps.RangeVerify, Source: "carrier"},
		{Prefix: "44207946", Level: tfps.RangeReject, Source: "carrier"}, // longer: wins inside +4420794
		{Prefix: "+1201555", Level: tfps.RangeVerify},
	}); err != nil {
		t.Fatal(err)
	}
	r.refresh(t)
	num := func(n string) func(c *engine.Call) { return func(c *engine.Call) { c.Number = n } }

	if d := r.decide(t, call(num("+442079460000"))); d.Code != engine.R21 {
		t.Errorf("reject range: %s (%s), want R21", d.Code, d.Reason)
	}
	d := r.decide(t, call(num("+442079410000")))
	if d.Code != engine.V06 || d.Flow != engine.FlowRiskyRange || d.Ticket == "" {
		t.Fatalf("verify range: %s %s ticket %q (%s), want V06 risky_range with a ticket", d.Code, d.Flow, d.Ticket, d.Reason)
	}
	tk, err := r.st.ClaimTicket(ctx, d.Ticket, inHours)
	if err != nil || tk.Range != "4420794" || tk.Flow != "risky_range" {
		t.Fatalf("ticket %+v, %v: want range 4420794", tk, err)
	}
	// The verified caller allows the range for the account (what the IVR
	// does after a passed risky_range flow): that range only.
	if err := r.db.AllowRange(ctx, "1001", "pbx.example", tk.Range); err != nil {
		t.Fatal(err)
	}
	r.refresh(t)
	if d := r.decide(t, call(num("+442079410001"))); d.Code != engine.A00 {
		t.Errorf("verified range: %s (%s), want A00", d.Code, d.Reason)
	}
	if d := r.decide(t, call(num("+12015550199"))); d.Code != engine.V06 {
		t.Errorf("another range: %s (%s), want V06", d.Code, d.Reason)
	}
	r.account(t, "1002", nil)
	if d := r.decide(t, call(num("+442079410002"), func(c *engine.Call) { c.User = "1002" })); d.Code != engine.V06 {
		t.Errorf("another account: %s (%s), want V06", d.Code, d.Reason)
	}
}

func TestRangeHopping(t *testing.T) {
	opts := baseOptions(t)
	opts.RangeDistinctLimit = 3
	r := newRangeRig(t, opts)
	r.account(t, "1001", func(a *tfps.Account) { a.DailyQuota = 100 })
	num := func(n int) func(c *engine.Call) {
		return func(c *engine.Call) {
			c.Number = fmt.Sprintf("+4420794600%02d", n)
			c.Caller = fmt.Sprintf("+1212555%04d", n)
		}
	}
	for i := range 3 {
		if d := r.decide(t, call(num(i))); d.Code != engine.A00 {
			t.Fatalf("number %d: %s (%s)", i, d.Code, d.Reason)
		}
	}
	// A number already called passes; a fourth distinct one verifies.
	if d := r.decide(t, call(num(1))); d.Code != engine.A00 {
		t.Errorf("known number again: %s (%s)", d.Code, d.Reason)
	}
	d := r.decide(t, call(num(3)))
	if d.Code != engine.V07 || d.Flow != engine.FlowRangeHopping || d.Ticket == "" {
		t.Fatalf("fourth number: %s %s (%s), want V07 with a ticket", d.Code, d.Flow, d.Reason)
	}
	tk, err := r.st.ClaimTicket(context.Background(), d.Ticket, inHours)
	if err != nil || tk.Range != "44207946" {
		t.Errorf("ticket %+v %v, want range 44207946", tk, err)
	}
	// Another range of the same account is counted apart; the window ends.
	if d := r.decide(t, call(func(c *engine.Call) { c.Number = "+442071230000" })); d.Code != engine.A00 {
		t.Errorf("other range: %s (%s)", d.Code, d.Reason)
	}
	if d := r.decide(t, call(num(4), func(c *engine.Call) { c.Time = inHours.Add(2 * time.Hour) })); d.Code == engine.V07 {
		t.Errorf("after the window: %s (%s)", d.Code, d.Reason)
	}
}

// One number dialled in several ways (international with +, with 00,
// national) is one number of its range: range hopping counts its E.164
// form, not the digits as dialled.
func TestRangeHoppingCountsE164(t *testing.T) {
	opts := baseOptions(t)
	opts.RangeDistinctLimit = 2
	r := newRangeRig(t, opts)
	r.account(t, "1001", func(a *tfps.Account) { a.DailyQuota = 100; a.HomeCountry = "GB" })
	seq := 0
	dial := func(n string) engine.Decision {
		seq++
		return r.decide(t, call(func(c *engine.Call) { c.Number = n; c.Caller = fmt.Sprintf("+1212555%04d", seq) }))
	}
	for _, n := range []string{"+442079460001", "00442079460001", "02079460001", "+442079460002", "02079460002"} {
		if d := dial(n); d.Code != engine.A00 {
			t.Fatalf("%s: %s (%s); two numbers of the range, each dialled in several ways, are within the limit of 2", n, d.Code, d.Reason)
		}
	}
	if d := dial("02079460003"); d.Code != engine.V07 {
		t.Errorf("a third number: %s (%s), want V07", d.Code, d.Reason)
	}
}

// After a passed range-hopping verification (what the IVR's range_hopping
// flow remembers on the account), the number that was stopped passes on
// redial and more numbers of that range follow, up to the level proved;
// the raise is for that range and that source country only, and ends.
func TestRangeHoppingVerified(t *testing.T) {
	opts := baseOptions(t)
	opts.RangeDistinctLimit = 2
	r := newRangeRig(t, opts)
	r.account(t, "1001", func(a *tfps.Account) { a.DailyQuota = 100; a.SourceCountries = []string{"US", "GB"} })
	seq := 0
	dial := func(n string, edit ...func(c *engine.Call)) engine.Decision {
		seq++
		return r.decide(t, call(append([]func(c *engine.Call){func(c *engine.Call) {
			c.Number = n
			c.Caller = fmt.Sprintf("+1212555%04d", seq)
		}}, edit...)...))
	}
	dial("+442079460001")
	dial("+442079460002")
	d := dial("+442079460003")
	if d.Code != engine.V07 {
		t.Fatalf("third number: %s (%s), want V07", d.Code, d.Reason)
	}
	tk, err := r.st.ClaimTicket(context.Background(), d.Ticket, inHours)
	if err != nil || tk.Observed != 3 || tk.SourceCountry != "US" {
		t.Fatalf("ticket %+v %v: want observed 3 from US", tk, err)
	}
	ctx := context.Background()
	a, err := r.db.GetAccount(ctx, "1001", "pbx.example")
	if err != nil {
		t.Fatal(err)
	}
	a.RememberVerified(tfps.VerifiedLimit{Kind: tfps.LimitRange, Range: tk.Range, SourceCountry: tk.SourceCountry, Level: 4, Until: inHours.Add(time.Hour)}, inHours)
	if err := r.db.UpdateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	r.refresh(t)
	if d := dial("+442079460004", func(c *engine.Call) { c.SourceIP = ipGB }); d.Code != engine.V07 {
		t.Errorf("a new number from another source country: %s (%s), want V07", d.Code, d.Reason)
	}
	for _, n := range []string{"+442079460003", "+442079460004"} {
		if d := dial(n); d.Code != engine.A00 {
			t.Errorf("%s after the verification: %s (%s), want A00", n, d.Code, d.Reason)
		}
	}
	if d := dial("+442079460005"); d.Code != engine.V07 {
		t.Errorf("fifth number, over the proved 4: %s (%s), want V07", d.Code, d.Reason)
	}
	if d := dial("+442079410001"); d.Code != engine.A00 {
		t.Errorf("first number of another range: %s (%s)", d.Code, d.Reason)
	}
}

// Premium-rate and personal numbers verify even in a country the account
// may call (IRSF's slow drip), until the account verified that range;
// TFPS_PREMIUM_NUMBERS=reject refuses them, allow lets them through, and an
// operator range takes precedence.
func TestPremiumNumbers(t *testing.T) {
	num := func(n string) func(c *engine.Call) { return func(c *engine.Call) { c.Number = n } }
	de := func(a *tfps.Account) {
		a.DailyQuota = 100
		a.DestinationCountries = append(a.DestinationCountries, "DE", "GB")
	}
	ctx := context.Background()

	r := newRangeRig(t, baseOptions(t))
	r.account(t, "1001", de)
	if d := r.decide(t, call(num("+4930901820"))); d.Code != engine.A00 {
		t.Fatalf("ordinary German number: %s (%s), want A00", d.Code, d.Reason)
	}
	d := r.decide(t, call(num("+499001123456")))
	if d.Code != engine.V06 || d.Flow != engine.FlowRiskyRange || d.Ticket == "" {
		t.Fatalf("German 0900 number: %s %s (%s), want V06 risky_range with a ticket", d.Code, d.Flow, d.Reason)
	}
	tk, err := r.st.ClaimTicket(ctx, d.Ticket, inHours)
	if err != nil || tk.Range != "499001" {
		t.Fatalf("ticket range %q (%v), want 499001", tk.Range, err)
	}
	if err := r.db.AllowRange(ctx, "1001", "pbx.example", tk.Range); err != nil {
		t.Fatal(err)
	}
	r.refresh(t)
	if d := r.decide(t, call(num("+499001765432"))); d.Code != engine.A00 {
		t.Errorf("verified premium range: %s (%s), want A00", d.Code, d.Reason)
	}
	if d := r.decide(t, call(num("+447011234567"))); d.Code != engine.V06 {
		t.Errorf("GB 070 personal number: %s (%s), want V06", d.Code, d.Reason)
	}
	r.ranges(t, tfps.NumberRange{Prefix: "4470", Level: tfps.RangeReject})
	if d := r.decide(t, call(num("+447011234568"))); d.Code != engine.R21 {
		t.Errorf("operator reject range over a premium range: %s (%s), want R21", d.Code, d.Reason)
	}

	for action, want := range map[engine.PremiumAction]engine.Code{engine.PremiumReject: engine.R21, engine.PremiumAllow: engine.A00} {
		o := baseOptions(t)
		o.PremiumNumbers = action
		r := newRangeRig(t, o)
		r.account(t, "1001", de)
		if d := r.decide(t, call(num("+499001123456"))); d.Code != want {
			t.Errorf("TFPS_PREMIUM_NUMBERS=%s: %s (%s), want %s", action, d.Code, d.Reason, want)
		}
	}
}

// Failed verifications of a new source country, or of a number range,
// block that situation of the account only: the honest customer's ordinary
// calls go on while the attacker's are rejected (R18) without a ticket.
func TestFailuresBlockTheirOwnSituation(t *testing.T) {
	r := newRangeRig(t, baseOptions(t))
	r.account(t, "1001", func(a *tfps.Account) {
		a.DailyQuota = 100
		a.DestinationCountries = append(a.DestinationCountries, "DE")
	})
	ctx := context.Background()
	num := func(n string) func(c *engine.Call) { return func(c *engine.Call) { c.Number = n } }
	fail := func(scope string) {
		t.Helper()
		for i := range 3 {
			if _, err := r.st.RecordVerifyFailureIn(ctx, "1001", "pbx.example", scope, fmt.Sprint(scope, i), inHours.Add(-time.Minute), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	fail(engine.FailureScope(engine.FlowSourceCountry, "GB", ""))
	if d := r.decide(t, call(func(c *engine.Call) { c.SourceIP = ipGB })); d.Code != engine.R18 || d.Ticket != "" {
		t.Errorf("from the source country whose checks failed: %s ticket %q (%s), want R18 without a ticket", d.Code, d.Ticket, d.Reason)
	}
	if d := r.decide(t, call()); d.Code != engine.A00 {
		t.Errorf("from the account's own country: %s (%s), want A00", d.Code, d.Reason)
	}

	fail(engine.FailureScope(engine.FlowRiskyRange, "", "499001"))
	if d := r.decide(t, call(num("+499001123456"))); d.Code != engine.R18 {
		t.Errorf("premium range whose checks failed: %s (%s), want R18", d.Code, d.Reason)
	}
	if d := r.decide(t, call(num("+499005123456"))); d.Code != engine.V06 {
		t.Errorf("another premium range: %s (%s), want V06", d.Code, d.Reason)
	}
	if d := r.decide(t, call(num("+4930901820"))); d.Code != engine.A00 {
		t.Errorf("ordinary German number: %s (%s), want A00", d.Code, d.Reason)
	}

	// Failures of a flow that proves nothing narrower block the account.
	fail("")
	if d := r.decide(t, call()); d.Code != engine.R18 {
		t.Errorf("after account-wide failures: %s (%s), want R18", d.Code, d.Reason)
	}
}

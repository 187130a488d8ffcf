package ivr_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// An account created by onboarding reads its callers' national numbers
// with its own home country: the caller number's country when it is a full
// international number, else the source address's country. Before, such
// accounts had none, so a Spanish "912 345 678" was read as +91 (India) and
// a German "030 ..." had no country at all.
func TestOnboardedAccountReadsNationalNumbers(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t, store.SQLite)
	st := statetest.MustOpen(t)
	bh, _, err := config.Load(config.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Deps{Accounts: db, Lists: db, Changes: db, Log: db,
		Counters: state.NewDecideCounters(st), Reputation: reputation.Local{}},
		engine.Options{BusinessHours: bh.BusinessHours, CacheRefresh: time.Hour, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	o := testOptions()
	o.Defaults.SourceCountries = []string{"US"}
	o.Defaults.DailyQuotaOff = 10                      // 15:00 UTC is office time in Europe, early morning in California
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC) // a Monday

	for _, tc := range []struct {
		user, caller, source, home, zone string
		national                         []string // numbers that must be read in the home country
	}{
		{"de", "+49 30 12345678", "46.4.0.1", "DE", "Europe/Berlin", []string{"030 12345678", "0176 12345678", "089 1234567"}},
		{"es", "201", "80.58.61.250", "ES", "Europe/Madrid", []string{"912 345 678", "934 123 456", "612 345 678"}},
		{"us", "+1 415 555 2671", "10.0.0.5", "US", "America/Los_Angeles", []string{"(212) 555-0100", "415 555 2672", "1 312 555 0100"}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			src := netip.MustParseAddr(tc.source)
			call := func(i int, number string) engine.Call {
				return engine.Call{User: tc.user, Domain: "pbx.example", SourceIP: src, UserAgent: "Yealink", ConcurrentCalls: 1,
					Number: number, Caller: tc.caller, CallID: fmt.Sprintf("%s-%d", tc.user, i), Time: at.Add(time.Duration(i) * time.Minute)}
			}
			d, err := eng.Decide(ctx, call(0, tc.national[0]))
			if err != nil || d.Code != engine.V01 {
				t.Fatalf("first call: %s %s, %v; want V01", d.Code, d.Reason, err)
			}
			tk, err := st.ClaimTicket(ctx, d.Ticket, at)
			if err != nil {
				t.Fatal(err)
			}
			ch, err := ivr.PlanChange(&o, ivr.Verified{Flow: tk.Flow, User: tk.User, Domain: tk.Domain, Language: "en",
				Caller: tk.Caller, SourceCountry: tk.SourceCountry, At: at})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.RecordVerification(ctx, &tfps.VerificationRecord{User: tk.User, Domain: tk.Domain, Create: ch.Create,
				Event: tfps.VerificationEvent{At: at, User: tk.User, Domain: tk.Domain, Flow: string(tk.Flow), Outcome: "success"}}); err != nil {
				t.Fatal(err)
			}
			a, err := db.GetAccount(ctx, tc.user, "pbx.example")
			if err != nil {
				t.Fatal(err)
			}
			if a.HomeCountry != tc.home || a.Timezone != tc.zone || !a.AllowsDestination(tc.home) {
				t.Errorf("onboarded account: home %q, zone %q, destinations %q; want %s, %s and %s allowed", a.HomeCountry, a.Timezone, a.DestinationCountries, tc.home, tc.zone, tc.home)
			}
			if err := eng.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for i, n := range tc.national {
				d, err := eng.Decide(ctx, call(i+1, n))
				if err != nil {
					t.Fatal(err)
				}
				if d.Facts.DestinationCountry != tc.home || d.Code != engine.A00 {
					t.Errorf("national %q: %s (%s), country %q, want A00 in %s", n, d.Code, d.Reason, d.Facts.DestinationCountry, tc.home)
				}
			}
		})
	}
}

// The raise rules of the limit flows, as PlanChange plans them.
func TestLimitFlowsRaise(t *testing.T) {
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                       string
		flow                       engine.Flow
		pct, maxCC, maxQ, grace    int
		cc, ccOff, quota, quotaOff int
		observed                   int
		wantCC, wantCCOff          int
		wantQ, wantQOff            int
		wantLevel                  int
	}{
		{"quota +50 % of 10", engine.FlowQuota, 50, 9, 500, 12, 2, 1, 10, 2, 11, 2, 1, 15, 2, 16},
		{"quota covers a day far over it", engine.FlowQuota, 50, 9, 500, 12, 2, 1, 10, 2, 31, 2, 1, 31, 2, 46},
		{"off-hours quota from 0", engine.FlowQuotaOff, 50, 9, 500, 12, 2, 0, 10, 0, 1, 2, 0, 10, 1, 2},
		{"quota capped", engine.FlowQuota, 50, 9, 40, 12, 2, 1, 30, 2, 31, 2, 1, 40, 2, 46},
		{"TFPS: quota by one", engine.FlowQuota, 0, 9, 500, 0, 2, 1, 10, 2, 11, 2, 1, 11, 2, 0},
		{"concurrent covers the calls", engine.FlowConcurrent, 50, 9, 500, 12, 2, 0, 10, 2, 5, 5, 0, 10, 2, 7},
		{"off-hours concurrent from 0", engine.FlowConcurrentOff, 50, 9, 500, 12, 2, 0, 10, 2, 1, 2, 1, 10, 2, 2},
		{"concurrent capped at TFPS_MAX_CONCURRENT", engine.FlowConcurrent, 50, 5, 500, 12, 4, 0, 10, 2, 12, 5, 0, 10, 2, 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ivr.Options{StepPercent: tc.pct, MaxConcurrent: tc.maxCC, MaxQuota: tc.maxQ, Grace: time.Duration(tc.grace) * time.Hour}
			ch, err := ivr.PlanChange(&o, ivr.Verified{Flow: tc.flow, User: "u", Domain: "d", SourceCountry: "ES", Observed: tc.observed, At: at})
			if err != nil {
				t.Fatal(err)
			}
			a := &tfps.Account{ConcurrentCalls: tc.cc, ConcurrentCallsOff: tc.ccOff, DailyQuota: tc.quota, DailyQuotaOff: tc.quotaOff}
			if err := ch.Update(a); err != nil {
				t.Fatal(err)
			}
			if a.ConcurrentCalls != tc.wantCC || a.ConcurrentCallsOff != tc.wantCCOff || a.DailyQuota != tc.wantQ || a.DailyQuotaOff != tc.wantQOff {
				t.Errorf("limits %d/%d, quota %d/%d; want %d/%d, %d/%d", a.ConcurrentCalls, a.ConcurrentCallsOff, a.DailyQuota, a.DailyQuotaOff, tc.wantCC, tc.wantCCOff, tc.wantQ, tc.wantQOff)
			}
			kind := tfps.LimitQuota
			if tc.flow == engine.FlowConcurrent || tc.flow == engine.FlowConcurrentOff {
				kind = tfps.LimitConcurrent
			}
			if got := a.VerifiedLevel(kind, "ES", at.Add(11*time.Hour)); got != tc.wantLevel {
				t.Errorf("proved level %d, want %d", got, tc.wantLevel)
			}
			if got := a.VerifiedLevel(kind, "ES", at.Add(12*time.Hour)); got != 0 {
				t.Errorf("proved level at the end of the grace %d, want 0", got)
			}
			if got := a.VerifiedLevel(kind, "FR", at); got != 0 {
				t.Errorf("proved level from another source country %d, want 0", got)
			}
		})
	}
}

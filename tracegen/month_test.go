package tracegen_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/tracegen"
)

// attacked are the honest customers whose accounts an attack scenario uses.
var attacked = map[string]bool{"de-berlin-agentur": true, "us-chicago-logistics": true, "mx-cdmx-consultores": true,
	"es-valencia-export": true, "de-muenchen-ingenieure": true}

// tfpsDefaults are TFPS's settings: limits refuse, its default limits and
// countries, its A->B limit, a quota raised by one, nothing remembered.
var tfpsDefaults = map[string]string{
	"TFPS_LIMIT_ACTION":                  "reject",
	"TFPS_DEFAULT_CONCURRENT_CALLS":      "2",
	"TFPS_DEFAULT_CONCURRENT_CALLS_OFF":  "0",
	"TFPS_DEFAULT_QUOTA":                 "10",
	"TFPS_DEFAULT_QUOTA_OFF":             "2",
	"TFPS_DEFAULT_SOURCE_COUNTRIES":      "US",
	"TFPS_DEFAULT_DESTINATION_COUNTRIES": "US",
	"TFPS_MAX_CONCURRENT":                "5",
	"TFPS_AB_REPEAT_LIMIT":               "5",
	"TFPS_QUOTA_STEP_PERCENT":            "0",
	"TFPS_VERIFIED_GRACE":                "0",
}

// outcome tallies one run of the month.
type outcome struct {
	legit, legitRejected, legitVerified    int
	legitAfterWeek, legitVerifiedAfterWeek int
	rejectedBy, verifiedAfterWeekBy        map[string]int
	scenario                               map[string]*scenarioOutcome
}

type scenarioOutcome struct {
	calls, approvedBefore, approvedAfter int
	caught                               bool
	first                                string // code of the first reject/verify
}

// runMonth decides every call of the month on a simulated clock (the
// call's own time) with real Redis and SQLite. A call sent to the IVR is
// answered as its record says: pass applies the flow's change exactly as
// the IVR does (ivr.PlanChange through ivr.SQLRecorder); fail and silent
// record the failed tries; hangup leaves nothing.
func runMonth(t *testing.T, recs []tracegen.Record, settings map[string]string) outcome {
	t.Helper()
	ctx := context.Background()
	cfg, _, err := config.Load(config.Options{Lookup: func(k string) (string, bool) { v, ok := settings[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	db := store.MustOpen(t, store.SQLite)
	st := state.MustOpen(t)
	opts := engine.OptionsFrom(cfg)
	opts.CacheRefresh = time.Hour // refreshed after each change below
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := engine.New(ctx, engine.Deps{Accounts: db, Lists: db, Changes: db, Log: db,
		Counters: state.NewDecideCounters(st), Reputation: reputation.Local{}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	io := ivr.Options{
		MaxConcurrent: cfg.MaxConcurrent, MaxQuota: cfg.Engine.MaxQuota, StepPercent: cfg.Engine.QuotaStepPercent,
		Grace: cfg.Engine.VerifiedGrace, DefaultHome: cfg.Engine.DefaultHome,
		Defaults: tfps.Account{
			ConcurrentCalls: cfg.DefaultConcurrentCalls, ConcurrentCallsOff: cfg.DefaultConcurrentCallsOff,
			DailyQuota: cfg.DefaultQuota, DailyQuotaOff: cfg.DefaultQuotaOff,
			SourceCountries: cfg.DefaultSourceCountries, DestinationCountries: cfg.DefaultDestinationCountries,
		},
	}
	rec := &ivr.SQLRecorder{Store: db}

	out := outcome{rejectedBy: map[string]int{}, verifiedAfterWeekBy: map[string]int{}, scenario: map[string]*scenarioOutcome{}}
	firstCall := map[string]time.Time{}
	for _, r := range recs {
		call := engine.Call{User: r.User, Domain: r.Domain, SourceIP: netip.MustParseAddr(r.SourceIP), UserAgent: r.UserAgent,
			ConcurrentCalls: r.ConcurrentCalls, Number: r.Number, Caller: r.Caller, CallID: r.CallID, Time: r.Time, Transport: "http"}
		d, err := eng.Decide(ctx, call)
		if err != nil {
			t.Fatalf("decide %s: %v", r.CallID, err)
		}
		if d.Result == engine.Verify {
			simulateIVR(t, ctx, st, eng, rec, &io, cfg, r, d)
		}
		if r.Label == tracegen.Legit {
			acct := r.User + "@" + r.Domain
			if _, ok := firstCall[acct]; !ok {
				firstCall[acct] = r.Time
			}
			out.legit++
			afterWeek := r.Time.Sub(firstCall[acct]) >= 7*24*time.Hour
			if afterWeek {
				out.legitAfterWeek++
			}
			switch d.Result {
			case engine.Reject:
				out.legitRejected++
				out.rejectedBy[d.Code.String()+" "+r.Scenario]++
			case engine.Verify:
				out.legitVerified++
				if afterWeek {
					out.legitVerifiedAfterWeek++
					out.verifiedAfterWeekBy[d.Code.String()+" "+r.Scenario]++
				}
			}
			continue
		}
		s := out.scenario[r.Scenario]
		if s == nil {
			s = &scenarioOutcome{}
			out.scenario[r.Scenario] = s
		}
		s.calls++
		switch {
		case d.Result == engine.Approve && !s.caught:
			s.approvedBefore++
		case d.Result == engine.Approve:
			s.approvedAfter++
		case !s.caught:
			s.caught, s.first = true, d.Code.String()
		}
	}
	return out
}

func simulateIVR(t *testing.T, ctx context.Context, st *state.State, eng *engine.Engine, rec *ivr.SQLRecorder, o *ivr.Options, cfg *config.Config, r tracegen.Record, d engine.Decision) {
	t.Helper()
	at := r.Time.Add(20 * time.Second) // the caller reaches the IVR
	tk, err := st.ClaimTicket(ctx, d.Ticket, at)
	if err != nil {
		t.Fatalf("claim ticket of %s: %v", r.CallID, err)
	}
	switch r.IVR {
	case tracegen.IVRPass:
		ch, err := ivr.PlanChange(o, ivr.Verified{Flow: tk.Flow, User: tk.User, Domain: tk.Domain, Language: "en", Country: tk.Country,
			Caller: tk.Caller, SourceCountry: tk.SourceCountry, Observed: tk.Observed, At: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Record(ctx, &ivr.Record{User: tk.User, Domain: tk.Domain, Create: ch.Create, Update: ch.Update,
			Event: tfps.VerificationEvent{At: at, User: tk.User, Domain: tk.Domain, Ticket: tk.ID, Flow: tk.Flow, Outcome: "success"}}); err != nil {
			t.Fatal(err)
		}
		if err := eng.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	case tracegen.IVRFail, tracegen.IVRSilent:
		// Every wrong or missing entry is a failure, up to the tries of one
		// call; the IVR stops at the block.
		for i := range cfg.IVR.CaptchaTries {
			n, err := st.RecordVerifyFailure(ctx, tk.User, tk.Domain, fmt.Sprintf("%s:%d", tk.ID, i), at.Add(time.Duration(i)*10*time.Second), cfg.CacheBlockTime)
			if err != nil {
				t.Fatal(err)
			}
			if n >= cfg.MaxCaptchaAttempts {
				break
			}
		}
	}
}

func (o outcome) verifiedShare() float64 {
	if o.legitAfterWeek == 0 {
		return 0
	}
	return 100 * float64(o.legitVerifiedAfterWeek) / float64(o.legitAfterWeek)
}

// TestMonthOutcome replays the synthetic month with the default settings
// and with TFPS's (limits refuse, TFPS's default limits), side by side.
// The goals with the defaults: no honest call refused, under 0.5 % of the
// honest calls after each customer's first week sent to verification, at
// most 3 attack calls of a scenario approved before the first refusal or
// verification, and none after it.
func TestMonthOutcome(t *testing.T) {
	if testing.Short() {
		t.Skip("a month of calls")
	}
	recs := tracegen.Month(tracegen.Options{Seed: 1})
	def := runMonth(t, recs, nil)
	old := runMonth(t, recs, tfpsDefaults)

	var b strings.Builder
	fmt.Fprintf(&b, "\n%-44s %14s %14s\n", "synthetic month, seed 1", "defaults", "TFPS defaults")
	row := func(name, a, c string) { fmt.Fprintf(&b, "%-44s %14s %14s\n", name, a, c) }
	row("honest calls", fmt.Sprint(def.legit), fmt.Sprint(old.legit))
	row("honest calls rejected", fmt.Sprint(def.legitRejected), fmt.Sprint(old.legitRejected))
	row("honest calls verified (all)", fmt.Sprint(def.legitVerified), fmt.Sprint(old.legitVerified))
	row("honest calls after each first week", fmt.Sprint(def.legitAfterWeek), fmt.Sprint(old.legitAfterWeek))
	row("  of them verified", fmt.Sprintf("%d (%.2f %%)", def.legitVerifiedAfterWeek, def.verifiedShare()),
		fmt.Sprintf("%d (%.2f %%)", old.legitVerifiedAfterWeek, old.verifiedShare()))
	var names []string
	for n := range def.scenario {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a, c := def.scenario[n], old.scenario[n]
		f := func(s *scenarioOutcome) string {
			return fmt.Sprintf("%d/%d/%d %s", s.approvedBefore, s.approvedAfter, s.calls, s.first)
		}
		row("attack "+n+" (approved before/after/calls)", f(a), f(c))
	}
	t.Log(b.String())
	t.Logf("defaults, honest rejected by code: %v; verified after first week by code: %v", def.rejectedBy, def.verifiedAfterWeekBy)
	t.Logf("TFPS defaults, honest rejected by code: %v; verified after first week by code: %v", old.rejectedBy, old.verifiedAfterWeekBy)

	// The one way an honest call is refused with the defaults: its
	// account was just blocked (R18) because an attacker using it failed
	// the voice check (the compromised PBX pumps from the customer's own
	// address; the takeover's failures block the account whatever the
	// source). Anything else is a defect.
	for k, n := range def.rejectedBy {
		if !strings.HasPrefix(k, "R18 ") || !attacked[strings.TrimPrefix(k, "R18 ")] || n > 5 {
			t.Errorf("defaults: %d honest calls rejected with %s, want none but a few R18 right after an attack on the account", n, k)
		}
	}
	if def.verifiedShare() >= 0.5 {
		t.Errorf("defaults: %.2f %% of honest calls after the first week verified, want under 0.5 %%: %v", def.verifiedShare(), def.verifiedAfterWeekBy)
	}
	for _, n := range names {
		s := def.scenario[n]
		if n == "slow-drip" {
			// Premium-rate numbers of an allowed country, one call at a
			// time: no limit of this policy trips on them. The number-range
			// rules are what catch it; the figures above show it.
			continue
		}
		if s.approvedBefore > 3 || s.approvedAfter > 0 {
			t.Errorf("defaults: attack %s: %d calls approved before the first reject/verify, %d after; want at most 3 and 0", n, s.approvedBefore, s.approvedAfter)
		}
	}
}

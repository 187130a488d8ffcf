package ivr

import (
	"fmt"
	"slices"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/numbering"
)

// Change is the account change a verified ticket flow makes, apart from any
// audio: the voice session applies it after the caller passes, and the
// replay's simulated caller applies the same change, so the rules exist once.
type Change struct {
	// Create is the account onboarding creates; nil for the other flows.
	Create *tfps.Account
	// Update changes an existing account; nil for onboarding.
	Update func(a *tfps.Account) error
	// AllowRange is the high-risk number range (E.164 digits) a verified
	// risky_range caller allows for the account; "" for the other flows.
	AllowRange string
	// Kind is the notification the change sends.
	Kind tfps.NotificationKind
}

// Verified describes the verified caller a Change is planned for: the
// ticket's facts and when the caller passed.
type Verified struct {
	Flow          engine.Flow // a ticket flow
	User          string
	Domain        string
	Language      string // prompt language of a new account
	Country       string // the country a source or destination flow adds
	Range         string // the number range a risky_range flow allows, or a range_hopping flow raises
	Caller        string // the calling number (A)
	SourceCountry string // the source address's country, "" when private
	// Observed is what a limit flow's raise covers: the concurrent calls
	// or the day's calls (this one included) when the limit tripped.
	// For rule_warning, the value of RuleStat when the warning tripped.
	Observed int
	// Rule and RuleStat (rule_warning): the fraud rule whose warning asked
	// and the statistic that reached it ("cpm", "total", ...).
	Rule     int64
	RuleStat string
	// At is when the caller passed, on the gateways' clock (they compare
	// the grace that runs from it with their calls' times).
	At time.Time
}

// PlanChange returns the change the verified flow v makes under options o.
// engine.FlowChange is not a ticket flow (its values come from the caller's
// answers) and gives an error, as does an unknown flow or a country flow
// without a country.
//
// The limit flows raise the limit that tripped to cover what the caller
// does now and by at least o.StepPercent of it (one when 0, as TFPS did),
// never above o.MaxConcurrent / o.MaxQuota nor below the current value;
// with o.Grace they also remember what the caller proved, from which
// source country, until when (tfps.Account.Verified).
func PlanChange(o *Options, v Verified) (Change, error) {
	switch v.Flow {
	case engine.FlowOnboarding:
		return Change{Create: onboard(o, v), Kind: tfps.NotifyNewAccount}, nil
	case engine.FlowSourceCountry, engine.FlowDestinationCountry, engine.FlowDestinationConfirm:
		cc := v.Country
		if cc == "" {
			return Change{}, fmt.Errorf("%s ticket without a country", v.Flow)
		}
		src := v.Flow == engine.FlowSourceCountry
		kind := tfps.NotifyDestinationCountryAdded
		if src {
			kind = tfps.NotifySourceCountryAdded
		}
		return Change{Kind: kind, Update: func(a *tfps.Account) error {
			list := &a.DestinationCountries
			if src {
				list = &a.SourceCountries
			}
			if !slices.Contains(*list, cc) {
				*list = append(*list, cc)
			}
			return nil
		}}, nil
	case engine.FlowQuota, engine.FlowQuotaOff:
		off := v.Flow == engine.FlowQuotaOff
		return Change{Kind: tfps.NotifyQuotaRaised, Update: func(a *tfps.Account) error {
			limit := &a.DailyQuota
			if off {
				limit = &a.DailyQuotaOff
			}
			*limit = raise(*limit, v.Observed, o.StepPercent, o.MaxQuota)
			remember(o, v, a, tfps.LimitQuota)
			return nil
		}}, nil
	case engine.FlowConcurrent, engine.FlowConcurrentOff:
		off := v.Flow == engine.FlowConcurrentOff
		return Change{Kind: tfps.NotifyConcurrentCallsRaised, Update: func(a *tfps.Account) error {
			limit := &a.ConcurrentCalls
			if off {
				limit = &a.ConcurrentCallsOff
			}
			*limit = raise(*limit, v.Observed, o.StepPercent, o.MaxConcurrent)
			remember(o, v, a, tfps.LimitConcurrent)
			return nil
		}}, nil
	case engine.FlowRiskyRange:
		if v.Range == "" {
			return Change{}, fmt.Errorf("%s ticket without a range", v.Flow)
		}
		return Change{AllowRange: v.Range, Kind: tfps.NotifyRangeAllowed}, nil
	case engine.FlowRangeHopping:
		if v.Range == "" {
			return Change{}, fmt.Errorf("%s ticket without a range", v.Flow)
		}
		return Change{Kind: tfps.NotifyRangeRaised, Update: func(a *tfps.Account) error {
			rememberRange(o, v, a)
			return nil
		}}, nil
	case engine.FlowRuleWarning:
		st, ok := tfps.ParseRuleStat(v.RuleStat)
		if v.Rule == 0 || !ok || v.Observed <= 0 {
			return Change{}, fmt.Errorf("%s ticket without its rule, statistic or value (rule %d, stat %q, value %d)", v.Flow, v.Rule, v.RuleStat, v.Observed)
		}
		return Change{Kind: tfps.NotifyRuleVerified, Update: func(a *tfps.Account) error {
			rememberRule(o, v, st, a)
			return nil
		}}, nil
	}
	return Change{}, fmt.Errorf("unknown flow %q in ticket", v.Flow)
}

// onboard builds the account a verified first call creates: the default
// limits and countries, plus what the call shows. Its home country reads
// national numbers: the caller number's country when it is a full
// international number, else the source address's, else the operator's
// default. Its time zone follows the home country (for countries of
// several zones, the caller number's region). The source country the
// caller was verified from and the home country are allowed at once: a
// business calls from and to its own country first.
func onboard(o *Options, v Verified) *tfps.Account {
	a := o.Defaults
	a.User, a.Domain, a.Language = v.User, v.Domain, v.Language
	a.SourceCountries = slices.Clone(o.Defaults.SourceCountries)
	a.DestinationCountries = slices.Clone(o.Defaults.DestinationCountries)
	home := numbering.CallerCountry(v.Caller)
	if home == "" {
		home = v.SourceCountry
	}
	if home == "" {
		home = o.DefaultHome
	}
	a.HomeCountry = home
	if home != "" {
		a.Timezone = numbering.TimeZone(home, v.Caller)
		if !slices.Contains(a.DestinationCountries, home) {
			a.DestinationCountries = append(a.DestinationCountries, home)
		}
	}
	if v.SourceCountry != "" && !slices.Contains(a.SourceCountries, v.SourceCountry) {
		a.SourceCountries = append(a.SourceCountries, v.SourceCountry)
	}
	return &a
}

// raise returns the new value of a limit at cur that a caller, verified
// while needing observed, gets: at least cur plus pct percent of it (one
// more when pct is 0 or the percentage rounds to nothing), at least
// observed, at most ceiling (when positive), and never below cur.
func raise(cur, observed, pct, ceiling int) int {
	step := max(cur*pct/100, 1)
	n := max(cur+step, observed)
	if ceiling > 0 {
		n = min(n, ceiling)
	}
	return max(n, cur)
}

// remember records on a what the verified caller proved, for o.Grace:
// the observed value plus o.StepPercent of it (at least one more).
func remember(o *Options, v Verified, a *tfps.Account, kind string) {
	if o.Grace <= 0 || v.At.IsZero() || v.Observed <= 0 {
		return
	}
	level := v.Observed + max(v.Observed*o.StepPercent/100, 1)
	a.RememberVerified(tfps.VerifiedLimit{Kind: kind, SourceCountry: v.SourceCountry, Level: level, Until: v.At.Add(o.Grace)}, v.At)
}

// rememberRange records what a verified range-hopping caller proved: the
// range, not the whole country, and for a while, not for good. A person
// passed the check, but IRSF pumping is done by people too; so the account
// may call twice the numbers of that range it was stopped at (at least
// one more), from the same source country, for TFPS_VERIFIED_GRACE and
// at least the range window TFPS_RANGE_WINDOW (the time the count covers,
// so the redial of the number that was stopped passes even when the grace
// is off). Allowing the range for good, as a verified risky_range does,
// would switch the check off for exactly the traffic it is there to see.
func rememberRange(o *Options, v Verified, a *tfps.Account) {
	if v.At.IsZero() {
		return
	}
	seen := max(v.Observed, 1)
	level := max(2*(seen-1), seen+1)
	a.RememberVerified(tfps.VerifiedLimit{Kind: tfps.LimitRange, Range: v.Range, SourceCountry: v.SourceCountry,
		Level: level, Until: v.At.Add(max(o.Grace, o.RangeWindow))}, v.At)
}

// rememberRule records what a caller verified at a fraud rule's warning
// proved: the statistic's value when it tripped plus o.StepPercent of it
// (at least one more), for that rule and statistic, from the same source
// country, for TFPS_VERIFIED_GRACE. The rule itself is the operator's and
// stays as it is; only the warning's question is not asked again while
// the caller stays within what was proved. Beyond it, or after the grace,
// it asks again; the critical threshold rejects whatever was proved.
func rememberRule(o *Options, v Verified, st tfps.RuleStat, a *tfps.Account) {
	if o.Grace <= 0 || v.At.IsZero() {
		return
	}
	level := v.Observed + max(v.Observed*o.StepPercent/100, 1)
	a.RememberVerified(tfps.VerifiedLimit{Kind: tfps.LimitRule, Range: tfps.RuleLimitKey(v.Rule, st), SourceCountry: v.SourceCountry,
		Level: level, Until: v.At.Add(o.Grace)}, v.At)
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/numbering"
)

// policy is the TFPS check order (docs/engine.md, "Check order").
// The first check that does not pass decides; everything passed is A00.
func (e *Engine) policy() []Check {
	return []Check{
		injection{},              // R12 quote, comment or separator in an identity field
		userAgent{},              // R01 scanner or operator User-Agent pattern
		ipBlacklist{},            // R14 operator IP/CIDR list
		&sourceReputation{e},     // R02 abuse score, R15 APIBAN (public sources only)
		numberBlacklist{},        // R03 operator number/prefix list
		&abRepeat{e},             // R13 pair trips the limit, R16 pair blocked      [Redis]
		&verificationFailures{e}, // R18 too many failed verifications, known account or not [Redis]
		&knownAccount{e},         // V01 unknown account: onboarding
		accountBlocked{},         // R17 blocked by the operator
		&sourceCountry{e},        // R05 no country, V02 new source country (public sources only)
		&destinationCountry{e},   // R07 no country, R06 blacklisted, V03 new destination, V10 confirm
		&numberRange{e},          // R21 reject range, V06 verify range (operator's, or premium rate) not yet verified
		&rangeHopping{e},         // V07 too many distinct numbers of one range          [Redis]
		&fraudRules{e},           // R20 critical, V11 warning that verifies (rules.go)  [Redis]
		businessHours{},          // picks in-hours or off-hours limits (never decides)
		&concurrentCalls{e},      // R10/V08 in hours, R08/V09 off hours
		&dailyQuota{e},           // V04 in hours, V05 off hours                      [Redis]
	}
}

// injection: TFPS rejected SQL-injection-looking identities (R12). Our SQL is
// parameterised, but such a request is still an attack, not a customer.
type injection struct{}

func (injection) Name() string { return "injection" }
func (injection) Check(_ context.Context, ev *Eval) (Verdict, error) {
	c := ev.Call
	for _, f := range [...]Field{{"user", c.User}, {"domain", c.Domain}, {"number", c.Number}, {"caller", c.Caller}} {
		if v, bad := injected(f); bad {
			return v, nil
		}
	}
	for _, f := range c.Extra {
		if v, bad := injected(f); bad {
			return v, nil
		}
	}
	return Pass(), nil
}

// injected returns R12 and true when f looks like an injection attempt.
func injected(f Field) (Verdict, bool) {
	if i := strings.IndexAny(f.Value, "'\"`;\\\x00"); i >= 0 {
		return RejectWith(R12, fmt.Sprintf("%s contains %q", f.Name, f.Value[i])), true
	}
	if strings.Contains(f.Value, "--") || strings.Contains(f.Value, "/*") {
		return RejectWith(R12, fmt.Sprintf("%s contains an SQL comment", f.Name)), true
	}
	return Verdict{}, false
}

type userAgent struct{}

func (userAgent) Name() string { return "user_agent" }
func (userAgent) Check(_ context.Context, ev *Eval) (Verdict, error) {
	if p := ev.snap.matchUA(ev.Call.UserAgent); p != "" {
		return RejectWith(R01, "user agent matches "+p), nil
	}
	return Pass(), nil
}

type ipBlacklist struct{}

func (ipBlacklist) Name() string { return "ip_blacklist" }
func (ipBlacklist) Check(_ context.Context, ev *Eval) (Verdict, error) {
	if p, ok := ev.snap.matchIP(ev.Call.SourceIP); ok {
		return RejectWith(R14, "source address in blacklist entry "+p), nil
	}
	return Pass(), nil
}

// sourceReputation asks the reputation service about public sources; the
// same answer gives the source country (TFPS: one AbuseIPDB answer).
type sourceReputation struct{ e *Engine }

func (*sourceReputation) Name() string { return "reputation" }
func (c *sourceReputation) Check(ctx context.Context, ev *Eval) (Verdict, error) {
	if tfps.PrivateAddr(ev.Call.SourceIP) {
		ev.Facts.Private = true
		return Pass(), nil
	}
	r, err := c.e.deps.Reputation.Lookup(ctx, ev.Call.SourceIP)
	if err != nil {
		return Verdict{}, depError("reputation", err)
	}
	ev.Facts.SourceCountry, ev.Facts.AbuseScore = r.Country, r.AbuseScore
	switch {
	case r.Listed:
		return RejectWith(R15, "source address listed by "+r.Source), nil
	case r.AbuseScore >= c.e.opts.AbuseScoreLimit && !r.Whitelisted:
		return RejectWith(R02, fmt.Sprintf("abuse score %d reaches the limit %d", r.AbuseScore, c.e.opts.AbuseScoreLimit)), nil
	}
	return Pass(), nil
}

type numberBlacklist struct{}

func (numberBlacklist) Name() string { return "number_blacklist" }
func (numberBlacklist) Check(_ context.Context, ev *Eval) (Verdict, error) {
	if p, ok := ev.snap.matchNumber(ev.Call.Number); ok {
		return RejectWith(R03, "number matches blacklisted prefix "+p), nil
	}
	return Pass(), nil
}

// abRepeat: more than Limit attempts of one caller to one number within the
// window block the pair (R13 on the attempt that trips it, R16 while blocked).
type abRepeat struct{ e *Engine }

func (*abRepeat) Name() string { return "ab_repeat" }
func (c *abRepeat) Check(_ context.Context, ev *Eval) (Verdict, error) {
	if ev.Call.Caller == "" {
		return Pass(), nil // anonymous: no pair to count
	}
	o := &c.e.opts
	return ev.Count(c.Name(), Step{Kind: StepABRepeat, Limit: int64(o.ABRepeatLimit), Window: o.ABRepeatWindow, Block: o.ABBlockTime}, c), nil
}
func (c *abRepeat) Counted(ev *Eval, _ *Step, r StepResult) Verdict {
	ev.Facts.ABAttempts = r.Count
	switch {
	case r.Blocked:
		return RejectWith(R16, "caller "+ev.Call.Caller+" to "+ev.Call.Number+" blocked until "+r.Until.UTC().Format("2006-01-02T15:04:05Z"))
	case r.Failed:
		return RejectWith(R13, fmt.Sprintf("%d attempts from %s to %s within %s: pair blocked for %s", r.Count, ev.Call.Caller, ev.Call.Number, c.e.opts.ABRepeatWindow, c.e.opts.ABBlockTime))
	}
	return Pass()
}

type knownAccount struct{ e *Engine }

func (*knownAccount) Name() string { return "account" }

// Check finds the caller's account. A user without one is onboarded (V01)
// unless the domain says otherwise: a service provider's domain can name a
// default account, whose limits, countries and profile the user then gets
// (counters stay per real user: they are keyed by the call's user), or
// reject unknown users (R23). An own account always wins over the default.
func (c *knownAccount) Check(ctx context.Context, ev *Eval) (Verdict, error) {
	ev.accountRead = true
	a, err := c.e.account(ctx, ev.snap, ev.Call.User, ev.Call.Domain)
	if err != nil {
		return Verdict{}, err
	}
	if a == nil {
		d := ev.snap.domains[ev.Call.Domain]
		switch {
		case d == nil:
		case d.Effective() == tfps.UnknownReject:
			return RejectWith(R23, "unknown user "+ev.Call.User+" of domain "+ev.Call.Domain+", which rejects unknown users"), nil
		case d.Effective() == tfps.UnknownDefault && d.DefaultUser != "":
			def, err := c.e.account(ctx, ev.snap, d.DefaultUser, d.Domain)
			if err != nil {
				return Verdict{}, err
			}
			if def != nil {
				ev.Account, ev.Default = def, true
				ev.Facts.Account, ev.Facts.DefaultOf = def.ID, def.User
				return Pass(), nil
			}
			// The default account is gone: onboarding, as without one.
			c.e.log.Warn("domain default account missing: onboarding", "domain", d.Domain, "default_user", d.DefaultUser)
		}
		return VerifyWith(V01, "", "unknown account "+ev.Call.User+"@"+ev.Call.Domain), nil
	}
	ev.Account = a
	ev.Facts.Account = a.ID
	return Pass(), nil
}

type accountBlocked struct{}

func (accountBlocked) Name() string { return "account_blocked" }
func (accountBlocked) Check(_ context.Context, ev *Eval) (Verdict, error) {
	if ev.Account.Blocked {
		if ev.Default {
			return RejectWith(R17, "default account "+ev.Account.User+"@"+ev.Account.Domain+" of unknown user "+ev.Call.User+" is blocked"), nil
		}
		return RejectWith(R17, "account "+ev.Call.User+"@"+ev.Call.Domain+" is blocked"), nil
	}
	return Pass(), nil
}

// verificationFailures reads the failures the IVR records (TFPS: more than
// MAX_CAPTCHAATTEMPTS within CACHE_BLOCK_TIME). The failures belong to the
// identity that was verified (user@domain), known account or not, so it runs
// before the account check: an unknown account that keeps failing its
// onboarding gets R18 and no new ticket. It must not read ev.Account.
type verificationFailures struct{ e *Engine }

func (*verificationFailures) Name() string { return "verification_failures" }
func (c *verificationFailures) Check(_ context.Context, ev *Eval) (Verdict, error) {
	o := &c.e.opts
	return ev.Count(c.Name(), Step{Kind: StepFailures, Limit: int64(o.MaxFailures), Window: o.FailureWindow}, c), nil
}
func (c *verificationFailures) Counted(ev *Eval, s *Step, r StepResult) Verdict {
	if s.Scope != "" {
		if r.Failed {
			return RejectWith(R18, fmt.Sprintf("%d failed verifications within %s for %s", r.Count, c.e.opts.FailureWindow, s.Scope))
		}
		return Pass()
	}
	ev.Facts.Failures = r.Count
	if r.Failed {
		return RejectWith(R18, fmt.Sprintf("%d failed verifications within %s", r.Count, c.e.opts.FailureWindow))
	}
	return Pass()
}

// verifyIn is the verify verdict of a check whose verification proves one
// situation of the account (FailureScope): the failures recorded for that
// situation are read in the same round trip, and once they reach the limit
// the call is rejected (R18) instead of being sent to the IVR again.
func (e *Engine) verifyIn(ev *Eval, v Verdict) Verdict {
	scope := FailureScope(v.Code.Info().Flow, v.Country, v.Range)
	if scope == "" {
		return v
	}
	o := &e.opts
	ev.Count("verification_failures", Step{Kind: StepFailures, Limit: int64(o.MaxFailures), Window: o.FailureWindow, Scope: scope}, &verificationFailures{e})
	return v
}

type sourceCountry struct{ e *Engine }

func (*sourceCountry) Name() string { return "source_country" }
func (c *sourceCountry) Check(_ context.Context, ev *Eval) (Verdict, error) {
	if ev.Facts.Private {
		return Pass(), nil
	}
	cc := ev.Facts.SourceCountry
	switch {
	case cc == "":
		return RejectWith(R05, "no country known for source "+ev.Call.SourceIP.String()), nil
	case !ev.Account.AllowsSource(cc):
		return c.e.verifyIn(ev, VerifyWith(V02, cc, "new source country "+cc)), nil
	}
	return Pass(), nil
}

type destinationCountry struct{ e *Engine }

func (*destinationCountry) Name() string { return "destination_country" }

// Check reads the number with the account's home country, else the source
// country, else TFPS_DEFAULT_HOME_COUNTRY (national numbers and their own
// international prefix). A number none of them reads, and that is only a
// valid number when taken as international without a prefix, is V10 (the
// caller confirms that country, which is then allowed) unless the account
// already allows that country; a number not valid in any reading is R07.
func (c *destinationCountry) Check(_ context.Context, ev *Eval) (Verdict, error) {
	homes := [3]string{ev.Account.HomeCountry, ev.Facts.SourceCountry, c.e.opts.DefaultHome}
	guessed := false
	var d numbering.Destination
	var err error
	tried := 0
	for i, h := range homes {
		if h == "" || slices.Contains(homes[:i], h) {
			continue
		}
		tried++
		if d, err = c.e.numbers.Lookup(ev.Call.Number, h); err == nil || !errors.Is(err, numbering.ErrNoCountry) {
			break
		}
	}
	if tried == 0 || err != nil && errors.Is(err, numbering.ErrNoCountry) {
		// No home reads it: the prefix-less international reading (TFPS's
		// prefix table) is all that is left.
		d, err = c.e.numbers.Lookup(ev.Call.Number, "")
		guessed = err == nil && !international(ev.Call.Number)
	}
	if err != nil {
		if errors.Is(err, numbering.ErrNoCountry) {
			return RejectWith(R07, "no country for number "+ev.Call.Number), nil
		}
		return Verdict{}, fmt.Errorf("read number: %w", err)
	}
	cc := d.Country
	ev.Facts.DestinationCountry, ev.Facts.E164 = cc, d.E164
	ev.premium = d.Premium
	switch {
	case slices.Contains(c.e.opts.DestinationBlacklist, cc):
		return RejectWith(R06, "destination country "+cc+" is blacklisted"), nil
	case ev.Account.AllowsDestination(cc), slices.Contains(c.e.opts.DestinationAllow, cc):
		return Pass(), nil
	case guessed:
		return VerifyWith(V10, cc, "number "+ev.Call.Number+" read as international without a prefix: "+cc), nil
	}
	return VerifyWith(V03, cc, "new destination country "+cc), nil
}

// numberRange matches the E.164 number against the operator's high-risk
// ranges, longest prefix first, then, when none matches, against the
// premium-rate and personal-number ranges libphonenumber knows
// (TFPS_PREMIUM_NUMBERS): IRSF pumps those numbers even in countries the
// account may call, one call at a time, under every limit. It runs after
// the destination check, which reads the number (E.164 needs the account's
// home country).
type numberRange struct{ e *Engine }

func (*numberRange) Name() string { return "number_range" }
func (c *numberRange) Check(_ context.Context, ev *Eval) (Verdict, error) {
	rs := ev.snap.ranges
	if ev.Facts.E164 == "" {
		return Pass(), nil
	}
	p, level, ok := "", tfps.RangeLevel(""), false
	if rs != nil {
		p, level, ok = rs.match(strings.TrimPrefix(ev.Facts.E164, "+"))
	}
	what := "high-risk range"
	if !ok {
		if ev.premium == "" || c.e.opts.PremiumNumbers == PremiumAllow {
			return Pass(), nil
		}
		p, level, what = ev.premium, tfps.RangeVerify, "premium-rate range"
		if c.e.opts.PremiumNumbers == PremiumReject {
			level = tfps.RangeReject
		}
	}
	if level == tfps.RangeReject {
		return RejectWith(R21, "number in "+what+" +"+p), nil
	}
	if rs != nil && rs.allows(ev.Call.User, ev.Call.Domain, p) {
		return Pass(), nil
	}
	v := VerifyWith(V06, "", "number in "+what+" +"+p+" not yet verified by the account")
	v.Range = p
	return c.e.verifyIn(ev, v), nil
}

// rangeHopping counts the distinct numbers an account calls under one
// range (the first RangePrefixDigits digits of the E.164 number): IRSF
// pumping hops to a new number of the same range every few calls to stay
// under per-number limits.
type rangeHopping struct{ e *Engine }

func (*rangeHopping) Name() string { return "range_hopping" }
func (c *rangeHopping) Check(_ context.Context, ev *Eval) (Verdict, error) {
	o := &c.e.opts
	d := strings.TrimPrefix(ev.Facts.E164, "+")
	if o.RangeDistinctLimit < 0 || len(d) <= o.RangePrefixDigits {
		return Pass(), nil
	}
	p := d[:o.RangePrefixDigits]
	// Failed range-hopping verifications block the range for the account
	// (FailureScope), read in the same round trip before the count.
	ev.Count("verification_failures", Step{Kind: StepFailures, Limit: int64(o.MaxFailures), Window: o.FailureWindow,
		Scope: FailureScope(FlowRangeHopping, "", p)}, &verificationFailures{c.e})
	// A range-hopping verification passed from the same source country
	// within the grace proved this many numbers of the range.
	limit := o.RangeDistinctLimit
	if ev.Account != nil {
		limit = max(limit, ev.Account.VerifiedRangeLevel(p, ev.Facts.SourceCountry, ev.Call.Time))
	}
	s := Step{Kind: StepRangeHop, Limit: int64(limit), Window: o.RangeWindow, Range: p, Member: d}
	s.Ticket = c.e.newTicket(ev, V07, "")
	s.Ticket.Range = p
	s.Ticket.Observed = limit + 1 // the step fails only for one number over
	return ev.Count(c.Name(), s, c), nil
}
func (c *rangeHopping) Counted(ev *Eval, s *Step, r StepResult) Verdict {
	if !r.Failed {
		return Pass()
	}
	v := VerifyWith(V07, "", fmt.Sprintf("%d distinct numbers of range +%s within %s, limit %d", r.Count, s.Range, c.e.opts.RangeWindow, s.Limit))
	v.Range = s.Range
	return v
}

// international reports whether number starts with "+", "00" or "011".
func international(number string) bool {
	n := strings.TrimLeft(number, " (")
	return strings.HasPrefix(n, "+") || strings.HasPrefix(n, "00") || strings.HasPrefix(n, "011")
}

type businessHours struct{}

func (businessHours) Name() string { return "business_hours" }
func (businessHours) Check(_ context.Context, ev *Eval) (Verdict, error) {
	ev.hours()
	return Pass(), nil
}

// concurrentCalls compares the calls the PBX reports with the in-hours or
// off-hours limit. Over it, TFPS_LIMIT_ACTION=reject answers R10/R08 as
// TFPS did; verify (the default) asks the caller (V08/V09), unless a
// verification passed from the same source country within the grace
// already proved this many calls.
type concurrentCalls struct{ e *Engine }

func (*concurrentCalls) Name() string { return "concurrent_calls" }
func (c *concurrentCalls) Check(_ context.Context, ev *Eval) (Verdict, error) {
	ev.hours()
	limit, code, when := ev.Account.ConcurrentCalls, R10, "in business hours"
	if ev.Facts.OffHours {
		limit, code, when = ev.Account.ConcurrentCallsOff, R08, "off hours"
	}
	ev.Facts.ConcurrentLimit = limit
	n := ev.Call.ConcurrentCalls
	if n <= limit {
		return Pass(), nil
	}
	reason := fmt.Sprintf("%d concurrent calls, limit %d %s", n, limit, when)
	if c.e.opts.LimitAction == LimitReject {
		return RejectWith(code, reason), nil
	}
	if n <= ev.Account.VerifiedLevel(tfps.LimitConcurrent, ev.Facts.SourceCountry, ev.Call.Time) {
		return Pass(), nil // proved by a verification within the grace
	}
	code = V08
	if ev.Facts.OffHours {
		code = V09
	}
	v := VerifyWith(code, "", reason)
	v.Observed = n
	return v, nil
}

// dailyQuota counts approved calls per local day, separately in and off
// hours, and asks for the quota flow once the day's limit is reached.
type dailyQuota struct{ e *Engine }

func (*dailyQuota) Name() string { return "daily_quota" }
func (c *dailyQuota) Check(_ context.Context, ev *Eval) (Verdict, error) {
	ev.hours()
	limit, code := ev.Account.DailyQuota, V04
	if ev.Facts.OffHours {
		limit, code = ev.Account.DailyQuotaOff, V05
	}
	// A quota verification passed from the same source country within the
	// grace proved this many calls of a day: not asked again below it.
	limit = max(limit, ev.Account.VerifiedLevel(tfps.LimitQuota, ev.Facts.SourceCountry, ev.Call.Time))
	ev.Facts.DailyLimit = limit
	s := Step{Kind: StepQuota, Limit: int64(limit), Day: ev.Facts.LocalDate, OffHours: ev.Facts.OffHours}
	s.Ticket = c.e.newTicket(ev, code, "")
	s.Ticket.Observed = limit + 1 // the step fails only when this call is one over
	return ev.Count(c.Name(), s, c), nil
}
func (c *dailyQuota) Counted(ev *Eval, s *Step, r StepResult) Verdict {
	ev.Facts.DailyCount = r.Count
	if !r.Failed {
		return Pass()
	}
	code, when := V04, "in business hours"
	if s.OffHours {
		code, when = V05, "off hours"
	}
	return VerifyWith(code, "", fmt.Sprintf("%d calls today %s, quota %d", r.Count, when, s.Limit))
}

// depError marks err as a failed dependency, for the error policy and the
// dependency-errors metric.
func depError(dep string, err error) error {
	return &DependencyError{Dependency: dep, Err: err}
}

// DependencyError is a failure of Redis, SQL or a reputation service during
// a decision. errors.Is(err, ErrDependency) holds for it.
type DependencyError struct {
	Dependency string // accounts, lists, changes, counters, reputation, decision_log
	Err        error
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("%s: %v", e.Dependency, e.Err)
}
func (e *DependencyError) Unwrap() []error { return []error{ErrDependency, e.Err} }

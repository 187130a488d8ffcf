package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/voipshield/tfps"
)

// Fraud rules: the feature set of OpenSIPS's fraud_detection module. An
// account's profile (see Engine.profileOf) holds rules; the rule with the
// longest prefix of the dialled number whose window includes the call
// applies, and the account's statistics under it (kept in Redis by the
// decision's one round trip, StepRule) are compared with its thresholds.

// ruleSet is the compiled copy of every rule, shared by snapshots while the
// rules are unchanged.
type ruleSet struct {
	source   []tfps.Rule
	profiles map[string]*profileRules
	byID     map[int64]*compiledRule
}

type profileRules struct {
	byPrefix map[string][]*compiledRule // prefix -> rules in id order
	maxLen   int
}

type compiledRule struct {
	tfps.Rule
	win tfps.RuleWindow
}

func compileRules(rules []tfps.Rule, log *slog.Logger) *ruleSet {
	rs := &ruleSet{source: rules, profiles: map[string]*profileRules{}, byID: map[int64]*compiledRule{}}
	for _, r := range rules {
		// The API and tfpsctl refuse a bad rule; one written into SQL by
		// hand is left out, loudly.
		if err := tfps.NormalizeRule(&r); err != nil {
			log.Warn("ignore fraud rule", "rule", r.ID, "err", err)
			continue
		}
		w, err := r.Window()
		if err != nil {
			log.Warn("ignore fraud rule", "rule", r.ID, "err", err)
			continue
		}
		cr := &compiledRule{Rule: r, win: w}
		p := rs.profiles[r.Profile]
		if p == nil {
			p = &profileRules{byPrefix: map[string][]*compiledRule{}}
			rs.profiles[r.Profile] = p
		}
		p.byPrefix[r.Prefix] = append(p.byPrefix[r.Prefix], cr) // rules come in id order
		p.maxLen = max(p.maxLen, len(r.Prefix))
		rs.byID[r.ID] = cr
	}
	return rs
}

// sameSource reports whether rules are what rs was compiled from.
func (rs *ruleSet) sameSource(rules []tfps.Rule) bool {
	if rs == nil || len(rs.source) != len(rules) {
		return false
	}
	for i := range rules {
		if rs.source[i] != rules[i] {
			return false
		}
	}
	return true
}

// match returns the rule of profile for the number digits at local time t:
// the longest prefix with a rule whose window and days include t (a longer
// prefix whose rules are all outside their windows gives way to a shorter
// one), and the start of that window.
func (rs *ruleSet) match(profile, digits string, t time.Time) (*compiledRule, time.Time, bool) {
	p := rs.profiles[profile]
	if p == nil {
		return nil, time.Time{}, false
	}
	for n := min(len(digits), p.maxLen); n >= 0; n-- {
		for _, r := range p.byPrefix[digits[:n]] {
			if start, ok := r.win.StartOf(t); ok {
				return r, start, true
			}
		}
	}
	return nil, time.Time{}, false
}

// profileOf resolves the fraud-rule profile of a call: the account's own,
// else its domain's default. This is the one place that decides it.
func (e *Engine) profileOf(ev *Eval) string {
	if ev.Account != nil && ev.Account.Profile != "" {
		return ev.Account.Profile
	}
	return ev.snap.domainProfile(ev.Call.Domain)
}

// domainProfile is the default profile of a domain's accounts (the
// domain resource's profile), "" for none.
func (s *snapshot) domainProfile(domain string) string {
	if d := s.domains[domain]; d != nil {
		return d.Profile
	}
	return ""
}

// fraudRules is the rule check. It runs after the lists and number ranges
// and before the account's own limits; its statistics are counted in the
// decision's one Redis round trip.
type fraudRules struct{ e *Engine }

func (*fraudRules) Name() string { return "fraud_rules" }
func (c *fraudRules) Check(_ context.Context, ev *Eval) (Verdict, error) {
	rs := ev.snap.rules
	if rs == nil || len(rs.profiles) == 0 {
		return Pass(), nil
	}
	profile := c.e.profileOf(ev)
	if profile == "" {
		return Pass(), nil
	}
	digits := strings.TrimPrefix(ev.Facts.E164, "+")
	if digits == "" {
		digits = digitsOnly(ev.Call.Number)
	}
	loc := time.UTC
	if s := c.e.schedules.of(ev.Account); s != nil {
		loc = s.Location()
	}
	r, start, ok := rs.match(profile, digits, ev.Call.Time.In(loc))
	if !ok {
		return Pass(), nil
	}
	s := Step{Kind: StepRule, Rule: &r.Rule, Since: start, Window: c.e.opts.MaxCallDuration}
	if r.WarningAction == tfps.RuleWarningVerify {
		s.Ticket = c.e.newTicket(ev, V11, "")
		s.Ticket.Rule = r.ID
		// A warning the caller proved by passing the verification within
		// TFPS_VERIFIED_GRACE, from the same source country, is not asked
		// again up to the value proved: else a caller who passes and
		// redials would meet the same question at once.
		if ev.Account != nil && len(ev.Account.Verified) > 0 {
			for i, st := range [...]tfps.RuleStat{tfps.StatCPM, tfps.StatTotal, tfps.StatConcurrent, tfps.StatSequential} {
				s.Proved[i] = int64(ev.Account.VerifiedRuleLevel(r.ID, st, ev.Facts.SourceCountry, ev.Call.Time))
			}
		}
	}
	return ev.Count(c.Name(), s, c), nil
}

func (c *fraudRules) Counted(ev *Eval, s *Step, r StepResult) Verdict {
	if r.Trip == 0 {
		return Pass()
	}
	t := c.e.trip(s.Rule, r.TripStat(), r.TripLevel(), r.Count)
	ev.ruleTrip = t
	reason := fmt.Sprintf("rule %d: %s %d reached the %s threshold %d", t.ID, t.Stat, t.Value, t.Level, t.Threshold)
	switch {
	case t.Level == levelCritical:
		return RejectWith(R20, reason)
	case r.Failed:
		return VerifyWith(V11, "", reason)
	}
	return Pass()
}

const (
	levelWarning  = "warning"
	levelCritical = "critical"
)

// trip describes a threshold rule reached and counts it.
func (e *Engine) trip(rule *tfps.Rule, stat tfps.RuleStat, level int, value int64) *RuleTrip {
	w, cr := rule.Thresholds(stat)
	t := &RuleTrip{ID: rule.ID, Stat: stat.String(), Value: value, Threshold: w, Level: levelWarning}
	if level == 2 {
		t.Threshold, t.Level = cr, levelCritical
	}
	e.metrics.ruleTrips.WithLabelValues(t.Level, t.Stat).Inc()
	return t
}

// ruleAlert is the mail (and webhook) event of a rule trip, with the
// fields OpenSIPS's events carry: param, value, threshold, user, called
// number, rule id.
func ruleAlert(c *Call, t *RuleTrip, email string) *tfps.Notification {
	kind := tfps.NotifyFraudWarning
	if t.Level == levelCritical {
		kind = tfps.NotifyFraudCritical
	}
	n := &tfps.Notification{
		Kind: kind, At: c.Time, User: c.User, Domain: c.Domain, Email: email,
		Caller: c.Caller, Number: c.Number, Count: int(t.Value), Limit: t.Threshold,
		Detail: fmt.Sprintf("rule %d: %s %d reached the %s threshold %d", t.ID, t.Stat, t.Value, t.Level, t.Threshold),
		Fields: map[string]string{
			"rule_id": strconv.FormatInt(t.ID, 10), "param": t.Stat, "value": strconv.FormatInt(t.Value, 10),
			"threshold": strconv.Itoa(t.Threshold), "user": c.User, "called_number": c.Number, "level": t.Level,
		},
	}
	if c.SourceIP.IsValid() {
		n.SourceIP = c.SourceIP.String()
	}
	id := "engine-" + string(kind) + "-" + c.CallID + "-" + strconv.FormatInt(c.Time.UnixMilli(), 10)
	if len(id) <= 200 {
		n.ID = id
	}
	return n
}

// CallEnd reports the end of a call (POST /v1/calls/end).
type CallEnd struct {
	CallID   string
	User     string
	Domain   string
	Duration time.Duration // 0: from the check that counted it to Time
	Time     time.Time     // when the end was reported
	Number   string        // optional, for the event
}

// CallEndResult says what the end did.
type CallEndResult struct {
	Already bool      // the end was reported before: nothing counted again
	Counted bool      // the call was counted as in progress: concurrent calls dropped by one
	RuleID  int64     // the rule the call was counted under
	Rule    *RuleTrip // the duration threshold it reached, nil when none
}

// EndCall ends a call the fraud rules counted: it stops counting as
// concurrent, and its duration is compared with the rule's duration
// thresholds (critical first), raising the event of a trip. Reporting the
// same end twice changes nothing. A call no rule counted, or counted more
// than MaxCallDuration ago, is an ENOTFOUND error.
func (e *Engine) EndCall(ctx context.Context, end CallEnd) (CallEndResult, error) {
	switch {
	case end.CallID == "":
		return CallEndResult{}, tfps.Errorf(tfps.EINVALID, "call_id: required")
	case end.User == "":
		return CallEndResult{}, tfps.Errorf(tfps.EINVALID, "user: required")
	case end.Duration < 0:
		return CallEndResult{}, tfps.Errorf(tfps.EINVALID, "duration: must not be negative")
	case end.Time.IsZero():
		return CallEndResult{}, tfps.Errorf(tfps.EINVALID, "time: not set")
	case e.deps.Calls == nil:
		return CallEndResult{}, fmt.Errorf("end call %s: no call store configured", end.CallID)
	}
	for _, f := range [...]struct{ n, v string }{{"call_id", end.CallID}, {"user", end.User}, {"domain", end.Domain}} {
		if len(f.v) > maxField {
			return CallEndResult{}, tfps.Errorf(tfps.EINVALID, "%s: longer than %d bytes", f.n, maxField)
		}
	}
	got, err := e.deps.Calls.EndCall(ctx, end.User, end.Domain, end.CallID, end.Time, e.opts.MaxCallDuration)
	if err != nil {
		return CallEndResult{}, depError("counters", fmt.Errorf("end call %s: %w", end.CallID, err))
	}
	if !got.Known {
		return CallEndResult{}, tfps.Errorf(tfps.ENOTFOUND, "call %q of %s@%s is unknown: no fraud rule counted it, or it started more than %s ago (TFPS_MAX_CALL_DURATION)",
			end.CallID, end.User, end.Domain, e.opts.MaxCallDuration)
	}
	res := CallEndResult{Already: got.Already, Counted: got.InProgress && !got.Already, RuleID: got.Rule}
	if !res.Counted {
		return res, nil
	}
	s := e.snap.Load()
	if s.rules == nil {
		return res, nil
	}
	r := s.rules.byID[got.Rule]
	if r == nil {
		return res, nil // the rule was removed since
	}
	d := end.Duration
	if d == 0 {
		d = end.Time.Sub(got.Start)
	}
	secs := int64(d / time.Second)
	level := 0
	switch {
	case r.DurationCritical > 0 && secs >= int64(r.DurationCritical):
		level = 2
	case r.DurationWarning > 0 && secs >= int64(r.DurationWarning):
		level = 1
	}
	if level == 0 {
		return res, nil
	}
	res.Rule = e.trip(&r.Rule, tfps.StatDuration, level, secs)
	if e.alerts != nil {
		email := ""
		if a, err := e.account(ctx, s, end.User, end.Domain); err == nil && a != nil {
			email = a.Email
		}
		c := &Call{User: end.User, Domain: end.Domain, CallID: end.CallID, Number: end.Number, Time: end.Time}
		e.mu.RLock()
		if !e.closed {
			e.alerts.raise(ruleAlert(c, res.Rule, email))
		}
		e.mu.RUnlock()
	}
	return res, nil
}

package tfps

import (
	"slices"
	"strconv"
	"time"
)

// Account is one customer identity as the PBX reports it: a SIP user at a
// domain. Limits come in two sets, in business hours and off hours, exactly as
// TFPS kept them (cc_calls, cc_calls_off, daily_quota, daily_quota_off).
type Account struct {
	ID     int64
	User   string
	Domain string
	Email  string

	ConcurrentCalls    int // limit in business hours (TFPS cc_calls)
	ConcurrentCallsOff int // limit off hours (TFPS cc_calls_off)
	DailyQuota         int // approved calls per local day in business hours
	DailyQuotaOff      int // approved calls per local day off hours

	SourceCountries      []string // ISO 3166 alpha-2 codes the account may call from
	DestinationCountries []string // ISO 3166 alpha-2 codes the account may call to

	Blocked     bool   // administratively blocked (reason R17)
	Language    string // prompt language: "en", "es", "fr", "pt-BR" (prompts.Languages)
	PINHash     string // hash of the per-account PIN, empty when the global PIN applies
	HomeCountry string // country used to read national numbers, e.g. "US"
	Mode        Mode   // "" (the gateway's TFPS_MODE), enforce or monitor
	// Timezone is the IANA zone of the account's business hours and daily
	// counters, e.g. "Europe/Madrid"; empty: the home country's zone, else
	// the zone of the operator's rule.
	Timezone string
	// BusinessHours is the account's own business-hours rule (the
	// TFPS_BUSINESS_HOURS layout); empty: the operator's rule, moved to the
	// account's time zone.
	BusinessHours string
	// Verified remembers limits a caller proved by passing a verification,
	// each until its grace ends (TFPS_VERIFIED_GRACE).
	Verified []VerifiedLimit
	// Profile names the account's fraud-rule profile (see Rule); "" lets
	// the domain's default apply, if any.
	Profile string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Mode says whether the gateway applies its decisions to calls.
type Mode string

const (
	// ModeInherit: an account follows the gateway's TFPS_MODE.
	ModeInherit Mode = ""
	// ModeEnforce: decisions are applied (reject, verify).
	ModeEnforce Mode = "enforce"
	// ModeMonitor: every check runs and is logged with what it would have
	// answered, and the call is approved (detection only).
	ModeMonitor Mode = "monitor"
)

// Valid reports whether m is one of the modes (ModeInherit included).
func (m Mode) Valid() bool { return m == ModeInherit || m == ModeEnforce || m == ModeMonitor }

// Kinds of limit a verification can prove.
const (
	LimitConcurrent = "concurrent" // concurrent calls, in or off hours
	LimitQuota      = "quota"      // daily calls, in or off hours
	// LimitRange: distinct numbers of one number range within the
	// range-hopping window (VerifiedLimit.Range names the range).
	LimitRange = "range"
	// LimitRule: a fraud rule's statistic at its warning threshold with
	// warning_action verify (VerifiedLimit.Range names the rule and the
	// statistic, RuleLimitKey).
	LimitRule = "rule"
)

// RuleLimitKey names a fraud rule's statistic in VerifiedLimit.Range for
// LimitRule: the rule id and the stat, e.g. "17:cpm".
func RuleLimitKey(ruleID int64, stat RuleStat) string {
	return strconv.FormatInt(ruleID, 10) + ":" + stat.String()
}

// VerifiedLimit is what one passed limit verification proved: from
// SourceCountry ("" for a private source), the caller needed up to Level
// (concurrent calls, calls of the day, or distinct numbers of Range) of
// Kind, and is not asked again for it before Until.
type VerifiedLimit struct {
	Kind          string    `json:"kind"`
	Range         string    `json:"range,omitempty"` // LimitRange: the range prefix (E.164 digits); LimitRule: RuleLimitKey
	SourceCountry string    `json:"source_country,omitempty"`
	Level         int       `json:"level"`
	Until         time.Time `json:"until"`
}

// VerifiedLevel returns the level of kind proved from sourceCountry whose
// grace has not ended at now, 0 when there is none.
func (a *Account) VerifiedLevel(kind, sourceCountry string, now time.Time) int {
	return a.verifiedLevel(kind, "", sourceCountry, now)
}

// VerifiedRangeLevel returns the distinct numbers of the range prefix a
// range-hopping verification from sourceCountry proved, whose grace has
// not ended at now; 0 when there is none.
func (a *Account) VerifiedRangeLevel(prefix, sourceCountry string, now time.Time) int {
	return a.verifiedLevel(LimitRange, prefix, sourceCountry, now)
}

// VerifiedRuleLevel returns the value of stat of the fraud rule ruleID a
// rule-warning verification from sourceCountry proved, whose grace has not
// ended at now; 0 when there is none.
func (a *Account) VerifiedRuleLevel(ruleID int64, stat RuleStat, sourceCountry string, now time.Time) int {
	if len(a.Verified) == 0 {
		return 0
	}
	return a.verifiedLevel(LimitRule, RuleLimitKey(ruleID, stat), sourceCountry, now)
}

func (a *Account) verifiedLevel(kind, rng, sourceCountry string, now time.Time) int {
	level := 0
	for _, v := range a.Verified {
		if v.Kind == kind && v.Range == rng && v.SourceCountry == sourceCountry && now.Before(v.Until) {
			level = max(level, v.Level)
		}
	}
	return level
}

// RememberVerified records v, dropping entries whose grace ended before
// now and an older entry for the same kind, range and source country.
func (a *Account) RememberVerified(v VerifiedLimit, now time.Time) {
	a.Verified = slices.DeleteFunc(a.Verified, func(o VerifiedLimit) bool {
		return !now.Before(o.Until) || (o.Kind == v.Kind && o.Range == v.Range && o.SourceCountry == v.SourceCountry)
	})
	a.Verified = append(a.Verified, v)
}

// AccountName names an account: user at domain.
type AccountName struct{ User, Domain string }

// AllowsSource reports whether cc is among the account's source countries.
func (a *Account) AllowsSource(cc string) bool { return slices.Contains(a.SourceCountries, cc) }

// AllowsDestination reports whether cc is among the account's destination countries.
func (a *Account) AllowsDestination(cc string) bool {
	return slices.Contains(a.DestinationCountries, cc)
}

// AccountFilter selects a page of accounts.
type AccountFilter struct {
	Domain string // optional exact domain
	Offset int
	Limit  int // 0 means the default page size
}

// DefaultPageSize and MaxPageSize bound list queries.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

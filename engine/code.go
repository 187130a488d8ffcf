package engine

import "fmt"

// Code is the stable reason code of a decision. The table below is published
// (README, GET /v1/codes, docs/engine.md) and held stable by TestCodeTable:
// a number never changes meaning and is never reused.
//
// TFPS published R01-R13 in its database but its script reused some of them
// for other reasons. We keep each published meaning where it was unambiguous,
// give every other reason a new number, and keep TFPS numbers we never emit
// reserved so they can not come back with a new meaning.
type Code uint8

// The codes. A = approved, R = rejected, V = verify (a voice flow runs).
const (
	codeUnknown Code = iota

	A00 // approved: every check passed
	A01 // approved unchecked: a dependency failed and TFPS_ENGINE_ERROR_POLICY=approve

	R01 // user agent blacklisted (scanner tool or operator pattern)
	R02 // source IP reputation too bad (AbuseIPDB score at or above the limit)
	R03 // dialled number blacklisted (operator number/prefix list)
	R04 // reserved: TFPS "country of origin not authorized"; a new source country verifies (V02)
	R05 // source country not found (public address unknown to the IP-country table)
	R06 // destination country blacklisted
	R07 // destination country not found (number belongs to no country)
	R08 // too many concurrent calls off hours
	R09 // reserved: TFPS "quota exceeded off hours"; it verifies (V05)
	R10 // too many concurrent calls in business hours
	R11 // reserved: TFPS "quota exceeded in hours"; it verifies (V04)
	R12 // injection attempt (quote, comment or statement separator in an identity field)
	R13 // same caller to same number too often: this attempt blocked the pair
	R14 // source IP in the operator's IP/CIDR blacklist
	R15 // source IP listed by APIBAN
	R16 // same caller to same number: pair blocked (within TFPS_AB_BLOCK_TIME)
	R17 // account blocked by the operator
	R18 // too many failed verifications within TFPS_CACHE_BLOCK_TIME
	R19 // not checked: a dependency failed and TFPS_ENGINE_ERROR_POLICY=reject
	R20 // fraud rule: a statistic reached the rule's critical threshold
	R21 // dialled number in a high-risk range the operator rejects
	R22 // too many unanswered verifications (TFPS_MAX_OPEN_TICKETS unclaimed tickets)
	R23 // unknown user of a domain set to reject unknown users

	V01 // verify: unknown account, onboarding flow
	V02 // verify: source country not yet allowed for the account
	V03 // verify: destination country not yet allowed for the account
	V04 // verify: daily quota reached in business hours
	V05 // verify: daily quota reached off hours
	V06 // verify: dialled number in a high-risk range the account has not verified
	V07 // verify: range hopping, too many distinct numbers of one range
	V08 // verify: concurrent calls over the business-hours limit (TFPS_LIMIT_ACTION=verify)
	V09 // verify: concurrent calls over the off-hours limit (TFPS_LIMIT_ACTION=verify)
	V10 // verify: no country for the number with the home, source or default country; the caller confirms it
	V11 // verify: fraud rule warning threshold reached and the rule's warning action is verify

	codeEnd
)

// CodeInfo is one row of the published table.
type CodeInfo struct {
	Code     Code
	Result   Result // the result this code comes with; 0 for reserved codes
	Flow     Flow   // verify flow, verify codes only
	Check    string // the check that emits it ("" for reserved or policy codes)
	Meaning  string
	Reserved bool // never emitted: kept so the number is not reused
}

var codeTable = [codeEnd]CodeInfo{
	A00: {A00, Approve, "", "", "approved: every check passed", false},
	A01: {A01, Approve, "", "", "approved without checks: a dependency failed and the error policy is approve", false},
	R01: {R01, Reject, "", "user_agent", "user agent blacklisted", false},
	R02: {R02, Reject, "", "reputation", "source IP has a bad reputation (abuse score at or above the limit)", false},
	R03: {R03, Reject, "", "number_blacklist", "dialled number blacklisted", false},
	R04: {R04, 0, "", "", "reserved (TFPS: country of origin not authorized); a new source country verifies, see V02", true},
	R05: {R05, Reject, "", "source_country", "source country not found for a public source address", false},
	R06: {R06, Reject, "", "destination_country", "destination country blacklisted", false},
	R07: {R07, Reject, "", "destination_country", "destination country not found for the dialled number", false},
	R08: {R08, Reject, "", "concurrent_calls", "too many concurrent calls off hours", false},
	R09: {R09, 0, "", "", "reserved (TFPS: quota exceeded off hours); the quota verifies, see V05", true},
	R10: {R10, Reject, "", "concurrent_calls", "too many concurrent calls in business hours", false},
	R11: {R11, 0, "", "", "reserved (TFPS: quota exceeded in hours); the quota verifies, see V04", true},
	R12: {R12, Reject, "", "injection", "injection attempt in an identity field", false},
	R13: {R13, Reject, "", "ab_repeat", "same caller to same number too often: pair now blocked", false},
	R14: {R14, Reject, "", "ip_blacklist", "source IP in the operator's blacklist", false},
	R15: {R15, Reject, "", "reputation", "source IP listed by APIBAN", false},
	R16: {R16, Reject, "", "ab_repeat", "same caller to same number: pair blocked", false},
	R17: {R17, Reject, "", "account_blocked", "account blocked by the operator", false},
	R18: {R18, Reject, "", "verification_failures", "too many failed verifications: account blocked for a while", false},
	R19: {R19, Reject, "", "", "not checked: a dependency failed and the error policy is reject", false},
	R20: {R20, Reject, "", "fraud_rules", "a fraud rule's critical threshold reached (calls per minute, total, concurrent or sequential calls)", false},
	R21: {R21, Reject, "", "number_range", "dialled number in a high-risk number range the operator rejects", false},
	R22: {R22, Reject, "", "open_tickets", "too many unanswered verifications", false},
	R23: {R23, Reject, "", "account", "unknown user of a domain that rejects unknown users", false},
	V01: {V01, Verify, FlowOnboarding, "account", "unknown account: onboarding verification", false},
	V02: {V02, Verify, FlowSourceCountry, "source_country", "new source country: verification", false},
	V03: {V03, Verify, FlowDestinationCountry, "destination_country", "new destination country: verification", false},
	V04: {V04, Verify, FlowQuota, "daily_quota", "daily quota reached in business hours: verification", false},
	V05: {V05, Verify, FlowQuotaOff, "daily_quota", "daily quota reached off hours: verification", false},
	V06: {V06, Verify, FlowRiskyRange, "number_range", "dialled number in a high-risk number range: verification", false},
	V07: {V07, Verify, FlowRangeHopping, "range_hopping", "too many distinct numbers of one number range: verification", false},
	V08: {V08, Verify, FlowConcurrent, "concurrent_calls", "concurrent calls over the business-hours limit: verification", false},
	V09: {V09, Verify, FlowConcurrentOff, "concurrent_calls", "concurrent calls over the off-hours limit: verification", false},
	V10: {V10, Verify, FlowDestinationConfirm, "destination_country", "number read only as international without a prefix: the caller confirms the destination", false},
	V11: {V11, Verify, FlowRuleWarning, "fraud_rules", "a fraud rule's warning threshold reached: verification", false},
}

var codeNames = [codeEnd]string{
	"", "A00", "A01",
	"R01", "R02", "R03", "R04", "R05", "R06", "R07", "R08", "R09", "R10",
	"R11", "R12", "R13", "R14", "R15", "R16", "R17", "R18", "R19", "R20", "R21", "R22", "R23",
	"V01", "V02", "V03", "V04", "V05", "V06", "V07", "V08", "V09", "V10", "V11",
}

// String returns the three-character code, e.g. "R05".
func (c Code) String() string {
	if c == codeUnknown || c >= codeEnd {
		return fmt.Sprintf("Code(%d)", uint8(c))
	}
	return codeNames[c]
}

// Info returns the published row of c.
func (c Code) Info() CodeInfo {
	if c >= codeEnd {
		return CodeInfo{}
	}
	return codeTable[c]
}

// Meaning is the published human meaning of c.
func (c Code) Meaning() string { return c.Info().Meaning }

// MarshalText writes the code as "R05".
func (c Code) MarshalText() ([]byte, error) {
	if c == codeUnknown || c >= codeEnd {
		return nil, fmt.Errorf("marshal code %d: not in the table", uint8(c))
	}
	return []byte(codeNames[c]), nil
}

// UnmarshalText reads "R05".
func (c *Code) UnmarshalText(b []byte) error {
	p, err := ParseCode(string(b))
	if err != nil {
		return err
	}
	*c = p
	return nil
}

// ParseCode reads a code such as "R05".
func ParseCode(s string) (Code, error) {
	for i := A00; i < codeEnd; i++ {
		if codeNames[i] == s {
			return i, nil
		}
	}
	return codeUnknown, fmt.Errorf("parse code %q: not in the published table", s)
}

// Codes returns the published table in code order (reserved codes included).
func Codes() []CodeInfo {
	out := make([]CodeInfo, 0, codeEnd-1)
	for c := A00; c < codeEnd; c++ {
		out = append(out, codeTable[c])
	}
	return out
}

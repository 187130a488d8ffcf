// Package api is the JSON HTTP API of the gateway: POST /v1/check for PBXs
// and proxies, and the admin routes (accounts, blacklists, decision log,
// code table) that tfpsctl uses.
//
// Service is the set of operations. Local implements it on the engine, the
// SQL store and Redis; Handler serves any Service over HTTP with chi; Client
// implements Service over HTTP, so a tfps.Error code (invalid, not_found,
// conflict, ...) and its message survive the round trip.
package api

import (
	"context"
	"io"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
)

// Service is what the HTTP API offers. Errors carry a tfps.ErrorCode.
type Service interface {
	// Check decides one call attempt.
	Check(ctx context.Context, req *CheckRequest) (*CheckResponse, error)
	// Codes returns the published reason-code table.
	Codes(ctx context.Context) ([]Code, error)

	ListAccounts(ctx context.Context, q AccountQuery) (*AccountPage, error)
	// GetAccount returns the account with today's call counters.
	GetAccount(ctx context.Context, user, domain string) (*Account, error)
	// CreateAccount adds an account; limits and countries not given take the
	// TFPS_DEFAULT_* settings.
	CreateAccount(ctx context.Context, in *AccountInput) (*Account, error)
	// UpdateAccount changes the fields set in in (nil fields stay).
	UpdateAccount(ctx context.Context, user, domain string, in *AccountInput) (*Account, error)
	DeleteAccount(ctx context.Context, user, domain string) error
	// SetBlocked blocks (R17) or unblocks an account.
	SetBlocked(ctx context.Context, user, domain string, blocked bool) (*Account, error)
	// ResetAccount clears today's daily counters (in and off hours) in the
	// business-hours time zone, so the quota starts again.
	ResetAccount(ctx context.Context, user, domain string) (*Account, error)
	// AllowCountry adds cc to the account's source or destination countries;
	// DisallowCountry removes it. Both are idempotent.
	AllowCountry(ctx context.Context, user, domain string, dir Direction, cc string) (*Account, error)
	DisallowCountry(ctx context.Context, user, domain string, dir Direction, cc string) (*Account, error)

	// ListBlacklist returns the entries of kind, or every entry for "".
	ListBlacklist(ctx context.Context, kind string) ([]BlacklistEntry, error)
	AddBlacklist(ctx context.Context, e *BlacklistEntry) (*BlacklistEntry, error)
	RemoveBlacklist(ctx context.Context, kind, value string) error

	// ListRanges returns the high-risk number ranges in prefix order.
	ListRanges(ctx context.Context) ([]Range, error)
	// PutRanges adds ranges, or replaces those whose prefix exists, all or
	// none: every bad row is named by its position (row 1 is the first)
	// and field, and then nothing is written. It returns the ranges as
	// stored (prefixes as E.164 digits without "+").
	PutRanges(ctx context.Context, ranges []Range) ([]Range, error)
	// RemoveRange deletes the range of prefix (with or without "+").
	RemoveRange(ctx context.Context, prefix string) error

	// History returns the account's daily statistics of the last days
	// local days (0: 30) and the limits trained from its kept history.
	History(ctx context.Context, user, domain string, days int) (*History, error)
	// SetPIN gives the account its own 4-digit PIN (never returned: the
	// account shows has_pin); ClearPIN returns it to TFPS_PIN.
	SetPIN(ctx context.Context, user, domain, pin string) (*Account, error)
	ClearPIN(ctx context.Context, user, domain string) (*Account, error)

	// Decisions returns decision-log rows, newest first, or with AfterID the
	// rows after it in ascending order (tailing).
	Decisions(ctx context.Context, q DecisionQuery) ([]Decision, error)
	// ExportDecisions writes the decision-log rows of q's time range to w
	// as they are read (JSON lines in the replay's input format, or CSV).
	ExportDecisions(ctx context.Context, q ExportQuery, w io.Writer) error

	// GetDomain returns a service-provider domain's settings.
	GetDomain(ctx context.Context, domain string) (*Domain, error)
	// UpdateDomain changes the fields set in in, creating the domain's
	// settings when it has none.
	UpdateDomain(ctx context.Context, domain string, in *DomainInput) (*Domain, error)

	// Blocks lists every active block of user@domain (known account or
	// not): the operator's (R17), the verification-failure block (R18)
	// and the A->B pair blocks (R16).
	Blocks(ctx context.Context, user, domain string) (*Blocks, error)
	// ClearVerification forgets the failed verifications of user@domain,
	// lifting R18.
	ClearVerification(ctx context.Context, user, domain string) (*Blocks, error)
	// ClearPairs lifts the block of caller->number, or every pair block of
	// user@domain when both are empty.
	ClearPairs(ctx context.Context, user, domain, caller, number string) (*Blocks, error)

	// ListOutbox lists notification rows, newest first (state "" for all).
	ListOutbox(ctx context.Context, state string, limit int) ([]OutboxRow, error)
	// RetryOutbox sends a failed row again now.
	RetryOutbox(ctx context.Context, id string) error
	// DropOutbox deletes a failed or pending row: it is never sent.
	DropOutbox(ctx context.Context, id string) error

	// ListRules returns the fraud rules of a profile ("" every profile).
	ListRules(ctx context.Context, profile string) ([]tfps.Rule, error)
	// PutRules adds or replaces fraud rules, all or none.
	PutRules(ctx context.Context, rules []tfps.Rule) ([]tfps.Rule, error)
	RemoveRule(ctx context.Context, id int64) error
	// EndCall reports the end of a call (concurrent calls, duration).
	EndCall(ctx context.Context, req *CallEndRequest) (*CallEndResponse, error)
	// AccountStats returns an account's fraud-rule statistics.
	AccountStats(ctx context.Context, user, domain string) (*RuleStats, error)
}

// CheckRequest is the body of POST /v1/check.
type CheckRequest struct {
	User            string `json:"user"`
	Domain          string `json:"domain"`
	SourceIP        string `json:"source_ip"`
	UserAgent       string `json:"user_agent"`
	ConcurrentCalls *int   `json:"concurrent_calls"` // absent: 1, as TFPS assumed
	Number          string `json:"number"`
	Caller          string `json:"caller"`
	CallID          string `json:"call_id"` // a retry with the same call_id and number gets the same answer, counted once
}

// CheckResponse is the decision. Result is approve, reject or verify; Code
// is a row of GET /v1/codes; Flow, Country and Ticket come with verify.
//
// In monitor mode (TFPS_MODE=monitor or the account's mode) Enforced is
// false, Result is approve (code A00, no ticket) and WouldBe holds what
// enforcement would have answered.
type CheckResponse struct {
	Result             string `json:"result"`
	Code               string `json:"code"`
	Reason             string `json:"reason"`
	Flow               string `json:"flow,omitempty"`
	Country            string `json:"country,omitempty"`
	Ticket             string `json:"ticket,omitempty"`
	SourceCountry      string `json:"source_country,omitempty"`
	DestinationCountry string `json:"destination_country,omitempty"`
	OffHours           bool   `json:"off_hours"`
	Replayed           bool   `json:"replayed,omitempty"` // a retried call_id answered from the earlier decision
	// Rule is the fraud-rule threshold the call reached (a warning that
	// approves included).
	Rule *engine.RuleTrip `json:"rule,omitempty"`

	// Enforced is false in monitor mode, and WouldBe then says what
	// enforcement would have answered.
	Enforced bool     `json:"enforced"`
	WouldBe  *WouldBe `json:"would_be,omitempty"`
}

// WouldBe is what enforcement would have answered a monitor-mode check.
type WouldBe struct {
	Result  string `json:"result"`
	Code    string `json:"code"`
	Reason  string `json:"reason"`
	Flow    string `json:"flow,omitempty"`
	Country string `json:"country,omitempty"`
}

// Code is one row of the published reason-code table.
type Code struct {
	Code     string `json:"code"`
	Result   string `json:"result,omitempty"` // empty for reserved codes
	Flow     string `json:"flow,omitempty"`
	Check    string `json:"check,omitempty"`
	Meaning  string `json:"meaning"`
	Reserved bool   `json:"reserved,omitempty"`
}

// Account is a customer account as the API shows it.
type Account struct {
	ID                   int64    `json:"id"`
	User                 string   `json:"user"`
	Domain               string   `json:"domain"`
	Email                string   `json:"email"`
	ConcurrentCalls      int      `json:"concurrent_calls"`
	ConcurrentCallsOff   int      `json:"concurrent_calls_off"`
	DailyQuota           int      `json:"daily_quota"`
	DailyQuotaOff        int      `json:"daily_quota_off"`
	SourceCountries      []string `json:"source_countries"`
	DestinationCountries []string `json:"destination_countries"`
	Blocked              bool     `json:"blocked"`
	Language             string   `json:"language"`
	HomeCountry          string   `json:"home_country"`
	// Timezone and BusinessHours: the account's own zone and rule ("" for
	// the home country's zone and the operator's rule).
	Timezone      string `json:"timezone"`
	BusinessHours string `json:"business_hours"`
	// Verified are the limits callers proved by passing a verification,
	// not asked again until their grace ends.
	Verified  []tfps.VerifiedLimit `json:"verified_limits,omitempty"`
	HasPIN    bool                 `json:"has_pin"`
	Mode      string               `json:"mode"`    // "" (the gateway's TFPS_MODE), enforce or monitor
	Profile   string               `json:"profile"` // fraud-rule profile, "" none
	CreatedAt time.Time            `json:"created_at"`
	UpdatedAt time.Time            `json:"updated_at"`
	// Today is set by GetAccount, ResetAccount and the country/block
	// operations: the approved calls of the current local day.
	Today *Usage `json:"today,omitempty"`
}

// Usage is an account's approved-call counters of one local date.
type Usage struct {
	Date     string `json:"date"` // YYYY-MM-DD in the account's business-hours time zone
	Calls    int64  `json:"calls"`
	CallsOff int64  `json:"calls_off"`
}

// AccountInput creates or updates an account. In an update, nil fields keep
// their value; User and Domain may only repeat the account's own.
type AccountInput struct {
	User                 string    `json:"user"`
	Domain               string    `json:"domain"`
	Email                *string   `json:"email,omitempty"`
	ConcurrentCalls      *int      `json:"concurrent_calls,omitempty"`
	ConcurrentCallsOff   *int      `json:"concurrent_calls_off,omitempty"`
	DailyQuota           *int      `json:"daily_quota,omitempty"`
	DailyQuotaOff        *int      `json:"daily_quota_off,omitempty"`
	SourceCountries      *[]string `json:"source_countries,omitempty"`
	DestinationCountries *[]string `json:"destination_countries,omitempty"`
	Blocked              *bool     `json:"blocked,omitempty"`
	Language             *string   `json:"language,omitempty"`
	HomeCountry          *string   `json:"home_country,omitempty"`
	Mode                 *string   `json:"mode,omitempty"` // "" inherits TFPS_MODE, enforce, monitor
	// Timezone is an IANA zone such as "Europe/Madrid"; "" clears it.
	Timezone *string `json:"timezone,omitempty"`
	// BusinessHours is a rule in the TFPS_BUSINESS_HOURS layout; "" clears it.
	BusinessHours *string `json:"business_hours,omitempty"`
	// Profile names the account's fraud-rule profile; "" clears it.
	Profile *string `json:"profile,omitempty"`
}

// AccountQuery selects a page of accounts, ordered by domain and user.
type AccountQuery struct {
	Domain string
	Offset int
	Limit  int // 0: 100; at most 1000
}

// AccountPage is one page of accounts and the total that match.
type AccountPage struct {
	Accounts []Account `json:"accounts"`
	Total    int       `json:"total"`
	Offset   int       `json:"offset"`
	Limit    int       `json:"limit"`
}

// Direction says which country list of an account is meant.
type Direction string

const (
	Source      Direction = "source"
	Destination Direction = "destination"
)

// BlacklistEntry is one operator list entry. Kind is user_agent (a regular
// expression), ip (address or CIDR) or number (digit prefix).
type BlacklistEntry struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Value     string    `json:"value"`
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
}

// Range is one high-risk number range: calls to numbers under Prefix are
// rejected (level reject, R21) or verified (level verify, V06) until the
// account passed a voice verification for the range.
type Range struct {
	Prefix    string    `json:"prefix"` // E.164 digits, country code first; "+" optional on input
	Level     string    `json:"level"`  // reject or verify
	Source    string    `json:"source"` // who reported it (a carrier, a fraud feed)
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at,omitzero"` // set by the server; ignored on input
}

// DecisionQuery selects decision-log rows. User and Domain go together.
type DecisionQuery struct {
	User, Domain string
	CallID       string
	AfterID      int64
	Limit        int // 0: 100; at most 1000
}

// Decision is one decision-log row.
type Decision struct {
	ID                 int64     `json:"id"`
	At                 time.Time `json:"at"`
	CallID             string    `json:"call_id"`
	SourceIP           string    `json:"source_ip"`
	Caller             string    `json:"caller"`
	Number             string    `json:"number"`
	UserAgent          string    `json:"user_agent"`
	AbuseScore         int       `json:"abuse_score"`
	User               string    `json:"user"`
	Domain             string    `json:"domain"`
	Result             string    `json:"result"`
	Code               string    `json:"code"`
	Reason             string    `json:"reason"`
	Flow               string    `json:"flow,omitempty"`
	Ticket             string    `json:"ticket,omitempty"`
	OffHours           bool      `json:"off_hours"`
	ConcurrentCalls    int       `json:"concurrent_calls"`
	SourceCountry      string    `json:"source_country"`
	DestinationCountry string    `json:"destination_country"`
	Transport          string    `json:"transport"`
	LatencyMicros      int64     `json:"latency_us"`
	// Enforced is false for monitor mode: Result and Code are what
	// enforcement would have answered, and the caller was approved.
	Enforced bool `json:"enforced"`
}

// ExportQuery selects the decision-log rows to export: At in [Since,
// Until) (Until zero: no end), in log order.
type ExportQuery struct {
	Since, Until time.Time
	Format       string // ExportJSONL (default) or ExportCSV
}

// Export formats.
const (
	// ExportJSONL writes one replay input line per decision: the POST
	// /v1/check fields, time and, for a verification whose outcome was
	// recorded, ivr (what that caller did).
	ExportJSONL = "jsonl"
	// ExportCSV writes every decision-log column, with a header row.
	ExportCSV = "csv"
)

// Domain is a service provider's domain as the API shows it.
type Domain struct {
	Domain string `json:"domain"`
	// DefaultUser is the account of this domain whose limits, countries
	// and profile an unknown user of the domain gets ("" none).
	DefaultUser string `json:"default_user"`
	// Unknown is what an unknown user gets: default, onboarding, reject,
	// or "" (default when DefaultUser is set, else onboarding).
	Unknown string `json:"unknown"`
	// Effective is Unknown with "" resolved.
	Effective string `json:"effective"`
	// Profile is the domain's default rule profile ("" none).
	Profile   string    `json:"profile"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DomainInput changes a domain's settings; nil fields keep their value.
type DomainInput struct {
	DefaultUser *string `json:"default_user,omitempty"`
	Unknown     *string `json:"unknown,omitempty"`
	Profile     *string `json:"profile,omitempty"`
}

// Blocks are the active blocks of one identity.
type Blocks struct {
	User   string `json:"user"`
	Domain string `json:"domain"`
	// Operator: the account is blocked by the operator (R17; lifted with
	// unblock). False for an identity without an account.
	Operator bool `json:"operator"`
	// Verification is set while failed verifications block the identity
	// (R18); Failures counts those within the window either way.
	Verification *VerificationBlock `json:"verification,omitempty"`
	Failures     int                `json:"failures"`
	// Pairs are the blocked caller->number pairs (R16), soonest end first.
	Pairs []PairBlock `json:"pairs"`
}

// VerificationBlock is an R18 block and its end.
type VerificationBlock struct {
	Until time.Time `json:"until"`
}

// PairBlock is a blocked caller->number pair and its end.
type PairBlock struct {
	Caller string    `json:"caller"`
	Number string    `json:"number"`
	Until  time.Time `json:"until"`
}

// OutboxRow is one notification of the outbox.
type OutboxRow struct {
	ID            string    `json:"id"`
	Kind          string    `json:"kind"`
	Account       string    `json:"account"` // user@domain, "" for none
	State         string    `json:"state"`   // pending, sent, failed, merged
	Attempts      int       `json:"attempts"`
	CreatedAt     time.Time `json:"created_at"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	SentAt        time.Time `json:"sent_at"`
	Delivered     []string  `json:"delivered"`
	LastError     string    `json:"last_error"`
	MergedInto    string    `json:"merged_into,omitempty"`
}

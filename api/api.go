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

	// Decisions returns decision-log rows, newest first, or with AfterID the
	// rows after it in ascending order (tailing).
	Decisions(ctx context.Context, q DecisionQuery) ([]Decision, error)

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

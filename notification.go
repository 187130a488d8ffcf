package tfps

import (
	"fmt"
	"slices"
	"time"
)

// NotificationKind names one kind of mail the service sends to the admins.
type NotificationKind string

// The notification kinds. Account changes (made by the IVR) are always sent;
// threshold alerts are rate limited per account and kind (see Throttled).
const (
	NotifyNewAccount              NotificationKind = "new_account"               // onboarding verified, account created
	NotifyLearnedParameters       NotificationKind = "learned_parameters"        // full onboarding or change: limits told by the caller
	NotifySourceCountryAdded      NotificationKind = "source_country_added"      // verified call from a new source country
	NotifyDestinationCountryAdded NotificationKind = "destination_country_added" // verified call to a new destination country
	NotifyQuotaRaised             NotificationKind = "quota_raised"              // verified call over the daily quota
	NotifyConcurrentCallsRaised   NotificationKind = "concurrent_calls_raised"   // verified call over the concurrent-call limit
	NotifyRangeAllowed            NotificationKind = "range_allowed"             // verified call to a high-risk number range: the range allowed
	NotifyRangeRaised             NotificationKind = "range_raised"              // verified call after many numbers of one range: more allowed for a while
	NotifyRuleVerified            NotificationKind = "rule_verified"             // verified call at a fraud rule's warning: not asked again for a while
	NotifyVerificationFailed      NotificationKind = "verification_failed"       // wrong captcha/PIN, timeout
	NotifyAccountBlocked          NotificationKind = "account_blocked"           // too many failed verifications
	NotifyBurst                   NotificationKind = "ab_burst"                  // same caller to the same number too often
	NotifyConcurrentCallsExceeded NotificationKind = "concurrent_calls_exceeded" // in or off hours (OffHours)
	NotifyQuotaExceeded           NotificationKind = "quota_exceeded"            // in or off hours (OffHours)
	NotifyFraudWarning            NotificationKind = "fraud_warning"             // fraud rule warning threshold
	NotifyFraudCritical           NotificationKind = "fraud_critical"            // fraud rule critical threshold
	NotifyLimitsLearned           NotificationKind = "limits_learned"            // TFPS_LEARNING=apply set the limits from the history
	NotifyLearningDigest          NotificationKind = "learning_digest"           // TFPS_LEARNING=suggest: trained limits differ from the account's
)

// NotificationKinds lists every kind, in a stable order.
var NotificationKinds = []NotificationKind{
	NotifyNewAccount, NotifyLearnedParameters, NotifySourceCountryAdded,
	NotifyDestinationCountryAdded, NotifyQuotaRaised, NotifyConcurrentCallsRaised, NotifyRangeAllowed, NotifyRangeRaised, NotifyRuleVerified, NotifyVerificationFailed,
	NotifyAccountBlocked, NotifyBurst, NotifyConcurrentCallsExceeded,
	NotifyQuotaExceeded, NotifyFraudWarning, NotifyFraudCritical,
	NotifyLimitsLearned, NotifyLearningDigest,
}

// Valid reports whether k is a known kind.
func (k NotificationKind) Valid() bool {
	return slices.Contains(NotificationKinds, k)
}

// Throttled reports whether k is a threshold alert: at most one mail per
// account and kind per alert interval (TFPS: 25 minutes), the others are
// summarised in the next mail. Account changes are never throttled.
func (k NotificationKind) Throttled() bool {
	switch k {
	case NotifyVerificationFailed, NotifyBurst, NotifyConcurrentCallsExceeded,
		NotifyQuotaExceeded, NotifyFraudWarning, NotifyFraudCritical:
		return true
	}
	return false
}

// Notification is one event to tell the admins about. It is stored in the
// outbox before any sending is attempted, so every field must survive a JSON
// round trip.
type Notification struct {
	// ID makes enqueueing idempotent: a second notification with the same ID
	// is ignored, and the mail carries it in its Message-ID. Empty means the
	// store generates one.
	ID   string           `json:"id"`
	Kind NotificationKind `json:"kind"`
	At   time.Time        `json:"at"` // when the event happened

	User   string `json:"user,omitempty"`
	Domain string `json:"domain,omitempty"`
	Email  string `json:"email,omitempty"` // the account's own address, when known

	SourceIP           string   `json:"source_ip,omitempty"`
	Caller             string   `json:"caller,omitempty"` // A number
	Number             string   `json:"number,omitempty"` // dialled (B) number
	SourceCountry      string   `json:"source_country,omitempty"`
	DestinationCountry string   `json:"destination_country,omitempty"`
	Countries          []string `json:"countries,omitempty"` // the account's list after a change
	Range              string   `json:"range,omitempty"`     // a number range (E.164 digits) a verification allowed or raised

	Count    int  `json:"count,omitempty"`     // measured value: calls, attempts, failures
	Limit    int  `json:"limit,omitempty"`     // the threshold or limit it was compared with
	OffHours bool `json:"off_hours,omitempty"` // the off-hours limits applied

	ConcurrentCalls    int `json:"concurrent_calls,omitempty"`     // account limit after a change
	ConcurrentCallsOff int `json:"concurrent_calls_off,omitempty"` // account limit after a change
	DailyQuota         int `json:"daily_quota,omitempty"`          // account limit after a change
	DailyQuotaOff      int `json:"daily_quota_off,omitempty"`      // account limit after a change

	Flow   string            `json:"flow,omitempty"`   // IVR flow, verification method, ...
	Detail string            `json:"detail,omitempty"` // free text
	Fields map[string]string `json:"fields,omitempty"` // extras, e.g. fraud rule_id, param, value, threshold
}

// Account returns "user@domain", or "" when the notification names no account.
func (n *Notification) Account() string {
	if n.User == "" && n.Domain == "" {
		return ""
	}
	return n.User + "@" + n.Domain
}

// RateKey returns the key threshold alerts are rate limited on (kind and
// account), or "" when n is not throttled.
func (n *Notification) RateKey() string {
	if !n.Kind.Throttled() {
		return ""
	}
	return string(n.Kind) + "|" + n.Account()
}

// Validate reports a missing kind or time as an EINVALID error.
func (n *Notification) Validate() error {
	switch {
	case !n.Kind.Valid():
		return Errorf(EINVALID, "notification kind %q is unknown", n.Kind)
	case n.At.IsZero():
		return Errorf(EINVALID, "notification %s has no time", n.Kind)
	case len(n.ID) > 200:
		return Errorf(EINVALID, "notification id is longer than 200 characters")
	}
	return nil
}

// String names the notification for logs.
func (n *Notification) String() string {
	return fmt.Sprintf("%s %s %s", n.Kind, n.Account(), n.ID)
}

// OutboxEntry is one notification in the outbox, as a delivery worker sees it
// after claiming it.
type OutboxEntry struct {
	Notification Notification
	RateKey      string    // "" when not throttled
	Attempts     int       // failed tries so far
	CreatedAt    time.Time // when it was queued
	Delivered    []string  // channels that already have it (a retry skips them)
	LastError    string
}

// Outbox states.
const (
	OutboxPending = "pending" // waiting for its next attempt
	OutboxSent    = "sent"    // delivered (or refused for good by some channels, see LastError)
	OutboxFailed  = "failed"  // given up: a final error, or retried for too long
	OutboxMerged  = "merged"  // a throttled alert summarised in another row's mail
)

// OutboxRow is an outbox row as operators and tests inspect it.
type OutboxRow struct {
	OutboxEntry
	State         string
	NextAttemptAt time.Time
	SentAt        time.Time
	MergedInto    string
}

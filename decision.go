package tfps

import (
	"errors"
	"time"
)

// DecisionRecord is one line of the decision log: every column the TFPS
// accounting table kept (time, call-id, source ip, from, to, user agent, abuse
// score, reason, account, response code, off-hours flag, concurrent calls,
// source and destination country) plus what our gateway adds.
type DecisionRecord struct {
	ID int64
	// Key is the decision's unique id, given when it was decided: the log
	// stores each key once, so writing a row again adds nothing. Empty for
	// rows written before keys existed. A row drained again from the
	// journal after a crash carries the same key.
	Key                string
	At                 time.Time
	CallID             string
	SourceIP           string
	Caller             string // From user (A number)
	Number             string // dialled number (B number)
	UserAgent          string
	AbuseScore         int
	User               string
	Domain             string
	Result             string // approve, reject, verify
	Code               string // A00, Rnn, or the verify flow code
	Reason             string // human-readable reason
	Flow               string // verify flow, empty otherwise
	Ticket             string // verify ticket id, empty otherwise
	OffHours           bool
	ConcurrentCalls    int
	SourceCountry      string
	DestinationCountry string
	Transport          string // sip, http
	LatencyMicros      int64
	// Enforced is false for a monitor-mode decision: Result and Code are
	// what enforcement would have answered, and the caller was approved.
	Enforced bool
	// LocalDate is the call's date in the account's business-hours time
	// zone (YYYY-MM-DD), set only for a known account: the writer adds the
	// row to that day's statistics (tfps.DayStats). Not a log column.
	LocalDate string
}

// VerificationEvent records one outcome of a voice verification in the IVR.
type VerificationEvent struct {
	ID       int64
	At       time.Time
	User     string
	Domain   string
	Ticket   string
	Flow     string // onboarding, source_country, destination_country, quota, quota_off, change
	Method   string // captcha, pin
	Outcome  string // success, failure, timeout, hangup, blocked
	SourceIP string
	Country  string
	Caller   string
	Number   string
	Detail   string
}

// VerificationRecord is what one voice verification stores, in one
// transaction: the account it creates or changes, a number range it
// allowed, its event and the notifications it queues. Either all of it is
// stored or none, so a mail goes out if and only if the change was made.
type VerificationRecord struct {
	User, Domain string
	// Create is the account onboarding creates (an account that appeared
	// meanwhile is kept as it is), or the own account of a service
	// provider's user decided with the domain's default, which Update then
	// changes in the same transaction.
	Create *Account
	// Update changes the current account inside the transaction, under
	// its row lock.
	Update func(a *Account) error
	// AllowRange is a number range the account verified (risky_range).
	AllowRange string
	// Event is the verification event.
	Event VerificationEvent
	// Notify returns the notifications to queue, given the account after
	// the change (nil when there is none).
	Notify func(a *Account) []Notification
}

// ErrRecordRefused marks a write the database refused because of a value
// in the rows (PostgreSQL's data exceptions: a NUL byte, invalid UTF-8),
// not because it is unreachable: writing the same rows again fails again.
var ErrRecordRefused = errors.New("record refused by the database")

package engine

import (
	"context"
	"net/netip"
	"time"

	"github.com/voipshield/tfps"
)

// The engine's dependencies are the small interfaces below; cmd/* injects
// the implementations (store for SQL, state for Redis, reputation for IP
// facts). The engine itself imports no driver and no transport.

// Accounts finds an account. An unknown account is an error whose
// tfps.ErrorCode is tfps.ENOTFOUND. The engine caches answers (unknown
// accounts too) until Changes reports a change.
type Accounts interface {
	AccountByUser(ctx context.Context, user, domain string) (*tfps.Account, error)
	// AccountsByName returns those of names that exist. After a change the
	// engine re-reads the accounts it holds with it, in a few queries.
	AccountsByName(ctx context.Context, names []tfps.AccountName) ([]*tfps.Account, error)
	// SomeAccounts returns up to limit accounts; at start the engine caches
	// them all when there are no more than it asked for.
	SomeAccounts(ctx context.Context, limit int) ([]*tfps.Account, error)
}

// Lists returns every operator blacklist entry (all kinds). The engine keeps
// a compiled copy until Changes reports a change.
type Lists interface {
	BlacklistEntries(ctx context.Context) ([]tfps.BlacklistEntry, error)
}

// Ranges returns the operator's high-risk number ranges and the ranges each
// account verified. The engine keeps a compiled copy until Changes reports a
// change.
type Ranges interface {
	RangeEntries(ctx context.Context) ([]tfps.NumberRange, []tfps.RangeAllowance, error)
}

// Domains returns every service-provider domain's settings: what an
// unknown user of the domain gets (its default account, onboarding or
// R23). The engine keeps a copy until Changes reports a change.
type Domains interface {
	Domains(ctx context.Context) ([]tfps.Domain, error)
}

// Rules returns every fraud rule (all profiles). The engine keeps a
// compiled copy until Changes reports a change.
type Rules interface {
	RuleEntries(ctx context.Context) ([]tfps.Rule, error)
}

// Calls ends calls the fraud rules counted (Counters stored them in
// progress): concurrent calls drop by one, and the caller learns which rule
// the call was counted under, for its duration thresholds.
type Calls interface {
	EndCall(ctx context.Context, user, domain, callID string, now time.Time, maxDuration time.Duration) (EndedCall, error)
}

// EndedCall is what Calls knew about an ended call.
type EndedCall struct {
	Known      bool      // counted within the last maximum call duration
	Already    bool      // ended before: the end is not counted again
	InProgress bool      // it was counted as in progress (approved), not refused
	Rule       int64     // the rule it was counted under
	Start      time.Time // when its check counted it
}

// Changes returns a number that grows whenever accounts or blacklists change,
// whoever changed them (another gateway, the IVR, an operator's SQL). The
// engine polls it every Options.CacheRefresh.
type Changes interface {
	ChangeVersion(ctx context.Context) (int64, error)
}

// Reputation tells what is known about a public source address. It is not
// asked about private addresses.
type Reputation interface {
	Lookup(ctx context.Context, addr netip.Addr) (tfps.SourceReport, error)
}

// DecisionLog stores decision-log rows. The engine queues rows and calls it
// from one goroutine with batches of up to Options.LogBatch rows.
type DecisionLog interface {
	WriteDecisions(ctx context.Context, rows []tfps.DecisionRecord) error
}

// PacedDecisionLog is a DecisionLog that writes a batch in several
// statements of one transaction and can call pause between them; the
// engine then lets decisions run in the middle of a long batch (see
// logWriter.writeDecisions). *store.Store implements it.
type PacedDecisionLog interface {
	WriteDecisionsPaced(ctx context.Context, rows []tfps.DecisionRecord, pause func(context.Context)) error
}

// LogJournal is the decision log's write-ahead file (package journal):
// every row is written there before the decision returns, and drained into
// the database in order; rows wait there while the database is unreachable.
type LogJournal interface {
	Encode(dst []byte, r *tfps.DecisionRecord) ([]byte, error) // r's line appended to dst
	Append(lines []byte) (start, end int64, err error)         // encoded lines in one write(2), no fsync; an error when full
	Sync() error                                               // fsync what was written
	Peek(max int) ([]tfps.DecisionRecord, int64, error)        // the oldest rows not drained and the position after them
	Commit(pos int64) error                                    // rows before pos are in the database
	Pos() int64                                                // the position of the oldest row not drained
	Pending() int64                                            // bytes not yet drained
	Size() int64                                               // bytes in the file
	Max() int64                                                // the size limit
}

// DecisionQuarantine is met by a DecisionLog that can set aside a row the
// database refuses (WriteDecisions failing with tfps.ErrRecordRefused for
// that row alone), keeping the error, so the rows after it are written.
type DecisionQuarantine interface {
	QuarantineDecision(ctx context.Context, row tfps.DecisionRecord, cause error, now time.Time) error
}

// Counters runs the Redis side of one decision in one round trip: the
// stateful steps in check order, stopping at the first that fails, then the
// verify ticket when the decision ends in verify. Steps after a failing one
// must leave their counters untouched.
type Counters interface {
	Count(ctx context.Context, req *CountRequest) (CountResult, error)
}

// StepKind names a stateful step.
type StepKind uint8

const (
	// StepABRepeat: fails when the Caller->Number pair is blocked (Blocked),
	// else records this attempt and fails when the attempts within Window
	// exceed Limit, blocking the pair for Block (Tripped).
	StepABRepeat StepKind = iota + 1
	// StepFailures: fails when the failed verifications of the identity
	// user@domain (known account or not) within Window reach Limit. The IVR
	// records them, so Counters measure this window on the clock the IVR's
	// writes use (Redis's own in production), not on Now.
	StepFailures
	// StepQuota: fails when the account's counter of Day (in or off hours)
	// has reached Limit; else counts this call.
	StepQuota
	// StepRangeHop: records Member (the number's E.164 digits) under the
	// account's range Range and fails when more than Limit distinct numbers
	// of that range were called within Window (the new number is then not
	// recorded).
	StepRangeHop
	// StepRule: counts the call in the account's fraud-rule statistics
	// under Rule (starting them again when the rule or the window that
	// started at Since differs from the last call's), then compares them
	// with the rule's thresholds, critical first. A critical threshold
	// fails the step; a warning fails it only when the rule's warning
	// action is verify (Ticket), and is reported in StepResult.Trip either
	// way. A call whose CallID was counted before (a retransmission) is
	// not counted again. Window is the maximum call duration: a call in
	// progress for longer stops counting as concurrent.
	StepRule
)

// Step is one stateful step of a CountRequest.
type Step struct {
	Kind     StepKind
	Limit    int64
	Window   time.Duration // StepABRepeat, StepFailures
	Block    time.Duration // StepABRepeat
	Day      string        // StepQuota: local date YYYY-MM-DD
	OffHours bool          // StepQuota: which of the day's two counters
	Range    string        // StepRangeHop: the range prefix (E.164 digits)
	Scope    string        // StepFailures: "" the account, else a FailureScope
	Rule     *tfps.Rule    // StepRule: the rule that matched (never modified)
	Since    time.Time     // StepRule: start of the rule's current window
	// Member is the number StepRangeHop counts: its E.164 digits, so one
	// number dialled two ways (+44..., 0044..., national) counts once.
	Member string
	// Proved (StepRule) is, per statistic (cpm, total, concurrent,
	// sequential), the value a passed rule-warning verification proved
	// within the grace: a warning of that statistic up to it does not ask
	// again (the call goes on, the trip is still reported).
	Proved [4]int64
	// Ticket, when set, is created if this step fails (the decision is a
	// verify, e.g. the quota flow).
	Ticket *Ticket
}

// CountRequest is the Redis side of one decision.
type CountRequest struct {
	Now    time.Time
	User   string
	Domain string
	Caller string // A number, for StepABRepeat
	Number string // B number, for StepABRepeat
	Member string // unique id of this attempt in the A->B window
	Steps  []Step
	// Ticket, when set, is created if no step fails: the checks already
	// decided verify (onboarding, source or destination country).
	Ticket *Ticket
	// Monitor: the decision is in monitor mode. The engine then sends no
	// ticket, and a StepABRepeat that trips blocks the pair for monitor
	// mode only: enforcement neither sees nor inherits that block.
	Monitor bool
	// MaxOpenTickets caps unclaimed tickets: a ticket is not stored (and
	// CountResult.TicketRefused is set) while MaxOpenTickets tickets of the
	// account, or of SourceIP when it is set, created within
	// OpenTicketWindow are still unclaimed. 0: no cap.
	MaxOpenTickets   int
	OpenTicketWindow time.Duration
	SourceIP         string
	// Settled: a check already decided reject or verify, so the call will
	// not be dialled; a StepRule counts the attempt but not a call in
	// progress.
	Settled bool
}

// StepResult is what one step found.
type StepResult struct {
	Failed  bool
	Blocked bool      // StepABRepeat: the pair was already blocked (else it tripped now)
	Count   int64     // attempts / failures / daily count (this call included when counted)
	Until   time.Time // StepABRepeat: end of the pair's block
	// Trip (StepRule) is the threshold the statistics reached, 0 none:
	// TripLevel and TripStat read it.
	Trip int64
}

// RuleTripCode encodes a StepRule trip: level 1 warning, 2 critical.
func RuleTripCode(level int, stat tfps.RuleStat) int64 { return int64(level)*8 + int64(stat) }

// TripLevel and TripStat decode StepResult.Trip.
func (r StepResult) TripLevel() int          { return int(r.Trip / 8) }
func (r StepResult) TripStat() tfps.RuleStat { return tfps.RuleStat(r.Trip % 8) }

// CountResult answers a CountRequest. Steps has one entry per step that ran
// (all of them when none failed, up to the failing one otherwise).
type CountResult struct {
	Steps  []StepResult
	Failed int // index of the failing step, -1 when all passed
	// TicketRefused: the decision's ticket was not stored because the
	// account or the source address has MaxOpenTickets unclaimed tickets
	// (OpenTickets of them, the larger of the two counts).
	TicketRefused bool
	OpenTickets   int64
}

// Ticket is the single-use hand-off from a verify decision to the IVR.
type Ticket struct {
	ID      string // set by Counters when it stores the ticket
	Code    Code
	Flow    Flow
	Country string // source or destination country the flow adds
	Range   string // risky_range, range_hopping: the number range (E.164 digits)
	// DefaultOf is the domain's default user whose account decided for
	// this user, who has none of their own: a passed verification creates
	// the user's account from it.
	DefaultOf string
	User      string
	Domain    string
	Number    string
	Caller    string
	SourceIP  string
	// SourceCountry is the source address's country ("" when private or
	// unknown): onboarding's home country when the caller number has none,
	// and the situation a passed limit verification proves.
	SourceCountry string
	UserAgent     string
	CallID        string
	// Observed is what a limit flow's raise must cover: the concurrent
	// calls (V08/V09) or the day's calls with this one (V04/V05); for
	// V11, the value of RuleStat when its warning tripped.
	Observed int
	// Rule and RuleStat (V11): the fraud rule whose warning asks for the
	// verification and the statistic that reached it (RuleStat is filled
	// in by Counters when the step fails).
	Rule     int64
	RuleStat string
	Created  time.Time
	Expires  time.Time
	// Claimed is set by the claim, not stored: when the IVR took the
	// ticket, on the clock of Created (the deciding gateway's), so what a
	// passed verification remembers for a while (the grace) is dated as
	// the gateways read it, whatever the IVR's own clock says.
	Claimed time.Time
}

// FailureScope names the situation a failed verification is counted for.
// Failures in a verification that proves one situation (a new source
// country, a number range) block only that situation for the account: an
// attacker calling from abroad, or pumping premium numbers, who fails the
// voice check leaves the honest customer's ordinary calls alone. Failures
// in every other flow (onboarding, destination country, limits) block the
// account. The IVR records failures under the ticket's scope and the
// engine reads the scope of the call's situation.
func FailureScope(f Flow, country, numberRange string) string {
	switch {
	case f == FlowSourceCountry && country != "":
		return "src:" + country
	case (f == FlowRiskyRange || f == FlowRangeHopping) && numberRange != "":
		return "range:" + numberRange
	}
	return ""
}

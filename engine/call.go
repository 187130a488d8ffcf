package engine

import (
	"fmt"
	"net/netip"
	"time"
)

// Call is one call attempt as a transport reports it.
type Call struct {
	User      string     // account user (P-tfps user, X-tfps user, From user)
	Domain    string     // account domain
	SourceIP  netip.Addr // the caller's address as the PBX saw it
	UserAgent string
	// ConcurrentCalls is what the PBX reports for this account now (P-Calls),
	// this attempt included; TFPS's fallback is 1.
	ConcurrentCalls int
	Number          string    // dialled number (B), as dialled
	Caller          string    // calling number or From user (A)
	CallID          string    // SIP Call-ID or the HTTP call_id
	FromTag         string    // SIP From tag; with CallID it identifies a retried request
	Time            time.Time // when the attempt arrived, from the transport's clock
	Transport       string    // "sip" or "http", for the decision log
	// Monitor asks for monitor mode whatever Options.Mode and the account
	// say (a listener that only watches, such as TFPS_SIP_MONITOR_LISTEN).
	Monitor bool
	// Extra is further text the caller sent along with its identity (over
	// SIP: the Request-URI host and the Contact's user and host). The
	// injection check reads it like the identity fields; it is neither
	// counted nor logged.
	Extra []Field
}

// Field is one named text of a call.
type Field struct{ Name, Value string }

// Result is what the PBX is told to do.
type Result uint8

const (
	Approve Result = iota + 1 // dial
	Reject                    // refuse, with a code
	Verify                    // hand the call to the IVR with a ticket
)

func (r Result) String() string {
	switch r {
	case Approve:
		return "approve"
	case Reject:
		return "reject"
	case Verify:
		return "verify"
	}
	return fmt.Sprintf("Result(%d)", uint8(r))
}

// MarshalText writes "approve", "reject" or "verify".
func (r Result) MarshalText() ([]byte, error) {
	if r < Approve || r > Verify {
		return nil, fmt.Errorf("marshal result %d: unknown", uint8(r))
	}
	return []byte(r.String()), nil
}

// Flow names a voice verification flow. The names are the ones the IVR and
// the verification events use.
type Flow string

const (
	FlowOnboarding         Flow = "onboarding"          // TFPS "o"
	FlowSourceCountry      Flow = "source_country"      // TFPS "i<CC>"
	FlowDestinationCountry Flow = "destination_country" // TFPS "d<CC>"
	FlowQuota              Flow = "quota"               // TFPS "q"
	FlowQuotaOff           Flow = "quota_off"           // TFPS "n"
	FlowRiskyRange         Flow = "risky_range"         // a verified caller allows the range for the account
	FlowRangeHopping       Flow = "range_hopping"       // many numbers of one range
	// Flows TFPS did not have (no prefix): its limits rejected outright and
	// a number without a country was R07.
	FlowConcurrent         Flow = "concurrent"          // V08
	FlowConcurrentOff      Flow = "concurrent_off"      // V09
	FlowDestinationConfirm Flow = "destination_confirm" // V10
	FlowRuleWarning        Flow = "rule_warning"        // V11
	// FlowChange is the change of parameters a caller reaches from the
	// IVR's own extension: no decision asks for it and no ticket carries it.
	FlowChange Flow = "change"
)

// TFPSPrefix returns the one-letter prefix TFPS put in front of the request
// user for the dialplan ("o", "iUS", "dGB", "q", "n").
func (f Flow) TFPSPrefix(country string) string {
	switch f {
	case FlowOnboarding:
		return "o"
	case FlowSourceCountry:
		return "i" + country
	case FlowDestinationCountry:
		return "d" + country
	case FlowQuota:
		return "q"
	case FlowQuotaOff:
		return "n"
	}
	return ""
}

// Facts are what the engine learned about a call, for the answer and the
// decision log. Fields of checks that did not run stay zero.
type Facts struct {
	Private            bool   // source address in a private range: reputation and source country skipped
	SourceCountry      string // from the reputation lookup
	AbuseScore         int
	DestinationCountry string
	E164               string // the dialled number in E.164 form when it has a country
	Account            int64  // account id, 0 when unknown
	DefaultOf          string // the domain's default user whose account decided for an unknown user; "" none
	OffHours           bool
	LocalDate          string // YYYY-MM-DD in the account's business-hours time zone
	ConcurrentCalls    int    // as reported
	ConcurrentLimit    int    // the limit that applied
	ABAttempts         int64  // attempts of this caller to this number within the window, this one included
	Failures           int64  // failed verifications within TFPS_CACHE_BLOCK_TIME
	DailyCount         int64  // approved calls of the local day (in or off hours, whichever applies), this one included when approved
	DailyLimit         int
}

// Outcome is what enforcement would have answered: a monitor-mode
// decision carries it in Decision.WouldBe.
type Outcome struct {
	Result  Result
	Code    Code
	Reason  string
	Flow    Flow   // verify only
	Country string // verify only
}

// Decision is the engine's answer for one Call.
//
// In monitor mode (Options.Mode, the account's Mode, or Call.Monitor) every
// check runs as in enforce mode, but the call is approved: Result is
// Approve, Code A00, and WouldBe holds what enforcement would have answered
// (A00 too when every check passed). No verify ticket is created. A
// transport that ignores WouldBe therefore approves, which is what monitor
// mode promises.
type Decision struct {
	Result  Result
	Code    Code
	Reason  string // human reason, more precise than the code's meaning
	Flow    Flow   // verify only
	Country string // verify only: the country the flow would add (source or destination)
	Ticket  string // verify only: the single-use ticket the IVR claims
	Check   string // the check that decided, "" for A00
	Facts   Facts
	// Replayed is true when the decision was given before for the same
	// Call-ID and From-tag and is repeated without counting the call again.
	Replayed bool
	// Err is the dependency error behind an A01/R19 decision (error policy).
	Err error
	// Rule is the fraud-rule threshold this call tripped, nil when none
	// (a warning that approves is reported here too).
	Rule *RuleTrip
	// WouldBe is set in monitor mode only: what enforcement would have
	// answered. See Enforced.
	WouldBe *Outcome

	email   string // the account's address, for alerts
	monitor bool   // decide: the mode resolved for this call, also on errors
}

// RuleTrip is a fraud-rule threshold a call reached.
type RuleTrip struct {
	ID        int64  `json:"id"`
	Stat      string `json:"stat"` // cpm, total, concurrent, sequential, duration
	Value     int64  `json:"value"`
	Threshold int    `json:"threshold"`
	Level     string `json:"level"` // warning or critical
}

// Enforced reports whether the decision is applied as it stands; false in
// monitor mode, where the caller is approved and WouldBe says what
// enforcement would have answered.
func (d *Decision) Enforced() bool { return d.WouldBe == nil }

// Effective returns what the checks found: WouldBe in monitor mode, the
// decision itself otherwise. The decision log and the metrics record it.
func (d *Decision) Effective() Outcome {
	if d.WouldBe != nil {
		return *d.WouldBe
	}
	return Outcome{Result: d.Result, Code: d.Code, Reason: d.Reason, Flow: d.Flow, Country: d.Country}
}

// unenforced turns d into its monitor-mode form: approved, with what the
// checks found in WouldBe and no ticket.
func (d Decision) unenforced() Decision {
	w := d.Effective()
	d.WouldBe = &w
	d.Result, d.Code, d.Flow, d.Country, d.Ticket = Approve, A00, "", "", ""
	d.Reason = "monitor mode, not enforced: would be " + w.Code.String() + " (" + w.Reason + ")"
	return d
}

package state

import (
	"strings"
)

// Keys builds every Redis key name. Nothing outside this package spells a key.
//
// Keys of one account carry the hash tag {domain/user}, so a script that
// touches several of them runs on one Redis Cluster slot.
type Keys struct{ prefix string }

var keyEscaper = strings.NewReplacer("%", "%25", ":", "%3A", "{", "%7B", "}", "%7D", "/", "%2F", " ", "%20")

func esc(s string) string { return keyEscaper.Replace(s) }

// Prefix is the installation prefix, e.g. "tfps:".
func (k Keys) Prefix() string { return k.prefix }

// Account is the tag shared by every key of one account.
func (k Keys) Account(user, domain string) string {
	return k.prefix + "acct:{" + esc(domain) + "/" + esc(user) + "}"
}

// VerifyFailures is a sorted set of failed voice verifications of an
// account, scored by the failure's Unix milliseconds.
func (k Keys) VerifyFailures(user, domain string) string {
	return k.Account(user, domain) + ":vfail"
}

// VerifyFailuresIn is the same set for failures of one situation of the
// account (engine.FailureScope: a new source country, a number range):
// they block that situation, not the account. "" is VerifyFailures.
func (k Keys) VerifyFailuresIn(user, domain, scope string) string {
	if scope == "" {
		return k.VerifyFailures(user, domain)
	}
	return k.VerifyFailures(user, domain) + ":" + esc(scope)
}

// Daily counts approved calls of an account on one local date, in or off
// business hours; the date in the name makes the counter reset at local
// midnight.
func (k Keys) Daily(user, domain, localDate string, offHours bool) string {
	part := ":day:"
	if offHours {
		part = ":dayoff:"
	}
	return k.Account(user, domain) + part + localDate
}

// ABAttempts is a sorted set of attempts from caller to number (scored by
// Unix ms) for the same-caller-to-same-number burst check.
func (k Keys) ABAttempts(user, domain, caller, number string) string {
	return k.Account(user, domain) + ":ab:" + esc(caller) + ":" + esc(number)
}

// ABBlock holds the Unix ms until which caller->number is blocked.
func (k Keys) ABBlock(user, domain, caller, number string) string {
	return k.Account(user, domain) + ":abblock:" + esc(caller) + ":" + esc(number)
}

// ABBlocks indexes an account's blocked pairs: a sorted set of
// pairMember(caller, number) scored by the block's end (Unix ms), written by
// the decision script in the same step that sets ABBlock. It lets an
// operator list an account's pair blocks with one read of the account's
// own slot; a SCAN for the account's abblock keys would walk the whole
// keyspace (every node of a cluster) for each listing.
func (k Keys) ABBlocks(user, domain string) string {
	return k.Account(user, domain) + ":abblocks"
}

// ABBlockMonitor is ABBlock for monitor-mode decisions: a pair tripped
// while an account is only watched gets its would-be R16 answers from it,
// and enforcement never inherits the block.
func (k Keys) ABBlockMonitor(user, domain, caller, number string) string {
	return k.Account(user, domain) + ":abblock-monitor:" + esc(caller) + ":" + esc(number)
}

// Ticket holds a verify ticket's JSON until it is claimed.
func (k Keys) Ticket(id string) string { return k.prefix + "ticket:" + esc(id) }

// TicketUsed marks a claimed ticket so a second claim says "used", not "unknown".
func (k Keys) TicketUsed(id string) string { return k.prefix + "ticket-used:" + esc(id) }

// Reputation caches one reputation service's answer about a source address
// (e.g. service "abuseipdb"), shared by every gateway. The answer carries
// the instant it was fetched; the TTL only collects garbage.
func (k Keys) Reputation(service, addr string) string {
	return k.prefix + "rep:" + esc(service) + ":" + esc(addr)
}

// RangeHop is a sorted set of the distinct numbers an account called under
// one range prefix, scored by the last call's Unix ms (range-hopping check).
func (k Keys) RangeHop(user, domain, prefix string) string {
	return k.Account(user, domain) + ":rhop:" + esc(prefix)
}

// OpenTickets is a sorted set of an account's unclaimed verify tickets (ids
// scored by creation Unix ms), for the open-ticket cap.
func (k Keys) OpenTickets(user, domain string) string {
	return k.Account(user, domain) + ":open"
}

// SourceOpenTickets is the same set per source address of the calls.
func (k Keys) SourceOpenTickets(addr string) string {
	return k.prefix + "src:" + esc(addr) + ":open"
}

// PINFailuresCaller is a sorted set of PIN attempts that did not succeed
// from one caller number, whichever account they were for, scored by Unix
// ms. The global TFPS_PIN is one secret for every account, so guesses are
// counted where they come from as well as per account.
func (k Keys) PINFailuresCaller(caller string) string {
	return k.prefix + "pin:caller:" + esc(caller)
}

// PINFailuresSource is the same set per source address of the calls.
func (k Keys) PINFailuresSource(addr string) string {
	return k.prefix + "pin:src:" + esc(addr)
}

// RuleStats is a hash of an account's fraud-rule statistics: the rule and
// window start (ms) they count under, the calls since, the consecutive
// calls to the last number and that number.
func (k Keys) RuleStats(user, domain string) string { return k.Account(user, domain) + ":rule" }

// RuleCPM is a sorted set of the account's calls under its current rule,
// scored by Unix ms (calls per minute).
func (k Keys) RuleCPM(user, domain string) string { return k.Account(user, domain) + ":rcpm" }

// RuleCalls is a sorted set of the account's calls in progress under its
// current rule (call ids scored by the Unix ms they were counted).
func (k Keys) RuleCalls(user, domain string) string { return k.Account(user, domain) + ":rcalls" }

// RuleCall holds "inprogress|rule|start ms" of a call the rules counted,
// until it ends or the maximum call duration passes; it also marks a
// retransmission, which is not counted again.
func (k Keys) RuleCall(user, domain, callID string) string {
	return k.Account(user, domain) + ":rcall:" + esc(callID)
}

// RuleCallEnded is RuleCall after the call's end was reported (a second end
// is answered from it, not counted).
func (k Keys) RuleCallEnded(user, domain, callID string) string {
	return k.Account(user, domain) + ":rdone:" + esc(callID)
}

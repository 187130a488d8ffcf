package state

import (
	"strconv"
	"strings"
)

// Keys builds every Redis key name. Nothing outside this package spells a key.
//
// Keys of one account carry the hash tag {domain/user}, so a script that
// touches several of them runs on one Redis Cluster slot. A verify ticket
// is found by its id alone (the IVR knows nothing else), so the id carries
// the slot: id mod 16384 is the slot of the account it was issued for
// (TicketIDInSlot), and the ticket's keys carry a hash tag of that slot
// (slotTags), which puts them next to the account's keys for the decide
// script. The open tickets of a source address are shared by every account
// and sit in another slot: on a cluster (TFPS_REDIS_CLUSTER=on) the decide
// script leaves them alone and a second script counts them (sourceCap).
type Keys struct {
	prefix  string
	cluster bool
}

// Cluster reports whether the keys are laid out for a Redis Cluster.
func (k Keys) Cluster() bool { return k.cluster }

// clusterSlots is the number of Redis Cluster hash slots.
const clusterSlots = 16384

// crc16 is the CRC16-CCITT (XMODEM) Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slotOf is the Cluster slot of a hash tag's content.
func slotOf(tag string) int { return int(crc16(tag)) % clusterSlots }

// slotTags[n] is a short hash tag whose slot is n (found once, by trying
// "0", "1", ... until every slot has one: about 170,000 CRCs).
var slotTags = func() []string {
	tags := make([]string, clusterSlots)
	left := clusterSlots
	for i := 0; left > 0; i++ {
		t := strconv.Itoa(i)
		if n := slotOf(t); tags[n] == "" {
			tags[n] = t
			left--
		}
	}
	return tags
}()

// AccountSlot is the Cluster slot of an account's keys.
func (k Keys) AccountSlot(user, domain string) int { return slotOf(esc(domain) + "/" + esc(user)) }

// TicketIDInSlot turns a drawn ticket id (engine.TicketIDDigits decimal digits)
// into one whose value mod 16384 is slot, keeping the other digits' draw:
// the ticket's keys then share the slot. An id that is not decimal is
// returned as it is.
func TicketIDInSlot(id string, slot int) string {
	v, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return id
	}
	const span = 10_000_000_000_000_000 // 10^engine.TicketIDDigits
	v = v - v%clusterSlots + uint64(slot)
	if v >= span {
		v -= clusterSlots
	}
	out := strconv.FormatUint(v, 10)
	return strings.Repeat("0", len(id)-len(out)) + out
}

// ticketTag is the hash tag of a ticket id's keys.
func ticketTag(id string) string {
	v, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return esc(id)
	}
	return slotTags[v%clusterSlots]
}

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

// ABAttempts holds the attempts from caller to number within the window of
// the same-caller-to-same-number burst check, packed in one string: per
// attempt "<Unix ms> <length of the call's id>:<call's id>" (read with the
// pair's block in one MGET and written back with one SET, where a sorted
// set took four commands per call). A packed value has its own key name
// (":abp:"), so a gateway of the sorted-set layout sharing the Redis during
// an upgrade keeps its own count instead of failing on the other type.
func (k Keys) ABAttempts(user, domain, caller, number string) string {
	return k.Account(user, domain) + ":abp:" + esc(caller) + ":" + esc(number)
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
func (k Keys) Ticket(id string) string { return k.prefix + "ticket:{" + ticketTag(id) + "}" + esc(id) }

// TicketUsed marks a claimed ticket so a second claim says "used", not "unknown".
func (k Keys) TicketUsed(id string) string {
	return k.prefix + "ticket-used:{" + ticketTag(id) + "}" + esc(id)
}

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
// counted where they come from as well as per account. Every caller and
// source set shares the hash tag {pin}, so on a Redis Cluster one script
// can count a caller and a source together.
func (k Keys) PINFailuresCaller(caller string) string {
	return k.prefix + "{pin}:caller:" + esc(caller)
}

// PINFailuresSource is the same set per source address of the calls.
func (k Keys) PINFailuresSource(addr string) string {
	return k.prefix + "{pin}:src:" + esc(addr)
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

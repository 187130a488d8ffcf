package engine

import "errors"

// Why a ticket cannot be claimed; the IVR tells the caller the call is not
// valid and records nothing else. Counters' stores wrap them.
var (
	ErrTicketUnknown = errors.New("ticket unknown")
	ErrTicketUsed    = errors.New("ticket already used")
	ErrTicketExpired = errors.New("ticket expired")
)

// TicketIDDigits is the length of a ticket id. Ids are decimal so they pass
// through any PBX dial plan or SIP proxy that only routes digits.
const TicketIDDigits = 16

// ValidTicketID reports whether id has the form every ticket id is issued
// in: exactly TicketIDDigits decimal digits. Anything else cannot name a
// ticket and is refused without asking Redis; the dialplan and the IVR
// check it before a caller's text goes further.
func ValidTicketID(id string) bool {
	if len(id) != TicketIDDigits {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

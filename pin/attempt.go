package pin

import "time"

// Attempt names one PIN attempt. The IVR reserves it before the digits are
// checked: it counts as a failed verification of the account, and of the
// caller number and the source address across accounts (the global PIN is
// one secret for all of them), and only a PIN that matches takes it back.
type Attempt struct {
	User, Domain string
	Caller       string // caller number; "" counts nothing per caller
	Source       string // source address of the call; "" counts nothing per source
	// ID names the attempt (ticket or channel, and the try); reserving the
	// same id again counts it once.
	ID string
	// At is the session's time of the attempt. A store whose windows run
	// on a clock every host shares may measure them on it instead.
	At time.Time
}

// Limits an attempt can be refused by (Reservation.BlockedBy).
const (
	BlockedAccount = "account"
	BlockedCaller  = "caller"
	BlockedSource  = "source"
)

// Reservation is the answer to reserving an Attempt.
type Reservation struct {
	// Reserved: the attempt is counted and the digits may be checked.
	Reserved bool
	// BlockedBy names the window at its limit when not Reserved, and Until
	// is when that window frees a place.
	BlockedBy string
	Until     time.Time
	// Failures in each window, the reserved attempt included.
	Account, Caller, Source int
}

// Most is the highest of the three counts.
func (r Reservation) Most() int { return max(r.Account, r.Caller, r.Source) }

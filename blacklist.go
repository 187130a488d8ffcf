package tfps

import "time"

// BlacklistKind names one of the operator's lists.
type BlacklistKind string

const (
	BlacklistUserAgent BlacklistKind = "user_agent" // regular expression matched against User-Agent
	BlacklistIP        BlacklistKind = "ip"         // IPv4/IPv6 address or CIDR
	BlacklistNumber    BlacklistKind = "number"     // dialled number prefix, digits only
)

// Valid reports whether k is a known kind.
func (k BlacklistKind) Valid() bool {
	switch k {
	case BlacklistUserAgent, BlacklistIP, BlacklistNumber:
		return true
	}
	return false
}

// BlacklistEntry is one row of an operator list.
type BlacklistEntry struct {
	ID        int64
	Kind      BlacklistKind
	Value     string
	Note      string
	CreatedAt time.Time
}

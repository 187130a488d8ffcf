package tfps

import "time"

// UnknownPolicy says what the engine does with a call from a user of a
// domain that has no account of its own.
type UnknownPolicy string

const (
	// UnknownAuto: UnknownDefault when the domain names a default user,
	// else UnknownOnboarding.
	UnknownAuto UnknownPolicy = ""
	// UnknownDefault: the call is decided with the default user's limits,
	// countries and rule profile; counters stay per real user.
	UnknownDefault UnknownPolicy = "default"
	// UnknownOnboarding: the onboarding verification (V01), as for a
	// domain with no settings.
	UnknownOnboarding UnknownPolicy = "onboarding"
	// UnknownReject: the call is rejected (R23).
	UnknownReject UnknownPolicy = "reject"
)

// Valid reports whether p is one of the policies.
func (p UnknownPolicy) Valid() bool {
	switch p {
	case UnknownAuto, UnknownDefault, UnknownOnboarding, UnknownReject:
		return true
	}
	return false
}

// Domain is a service provider's domain: the account its unknown users
// follow and what happens to them.
type Domain struct {
	Domain      string
	DefaultUser string        // an account of this domain; "" none
	Unknown     UnknownPolicy // what an unknown user gets
	Profile     string        // the domain's default rule profile; "" none
	UpdatedAt   time.Time
}

// Effective resolves UnknownAuto.
func (d *Domain) Effective() UnknownPolicy {
	if d.Unknown != UnknownAuto {
		return d.Unknown
	}
	if d.DefaultUser != "" {
		return UnknownDefault
	}
	return UnknownOnboarding
}

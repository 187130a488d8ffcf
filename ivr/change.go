package ivr

import (
	"fmt"
	"slices"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
)

// Change is the account change a verified ticket flow makes, apart from any
// audio: the voice session applies it after the caller passes, and the
// replay's simulated caller applies the same change, so the rules exist once.
type Change struct {
	// Create is the account onboarding creates; nil for the other flows.
	Create *tfps.Account
	// Update changes an existing account; nil for onboarding.
	Update func(a *tfps.Account) error
	// AllowRange is the high-risk number range (E.164 digits) a verified
	// risky_range caller allows for the account; "" for the other flows.
	AllowRange string
	// Kind is the notification the change sends.
	Kind tfps.NotificationKind
}

// Verified describes the verified caller a Change is planned for.
type Verified struct {
	Flow     string // a ticket flow (FlowOnboarding, FlowSource, ...)
	User     string
	Domain   string
	Language string // prompt language of a new account
	Country  string // the country a source or destination flow adds
	Range    string // the number range a risky_range flow allows
}

// PlanChange returns the change the verified flow v makes under options o.
// FlowChange is not a ticket flow (its values come from the caller's
// answers) and gives an error, as does an unknown flow or a country flow
// without a country.
func PlanChange(o *Options, v Verified) (Change, error) {
	switch v.Flow {
	case FlowOnboarding:
		a := o.Defaults
		a.User, a.Domain, a.Language = v.User, v.Domain, v.Language
		a.SourceCountries = slices.Clone(o.Defaults.SourceCountries)
		a.DestinationCountries = slices.Clone(o.Defaults.DestinationCountries)
		return Change{Create: &a, Kind: tfps.NotifyNewAccount}, nil
	case FlowSource, FlowDestination:
		cc := v.Country
		if cc == "" {
			return Change{}, fmt.Errorf("%s ticket without a country", v.Flow)
		}
		src := v.Flow == FlowSource
		kind := tfps.NotifyDestinationCountryAdded
		if src {
			kind = tfps.NotifySourceCountryAdded
		}
		return Change{Kind: kind, Update: func(a *tfps.Account) error {
			list := &a.DestinationCountries
			if src {
				list = &a.SourceCountries
			}
			if !slices.Contains(*list, cc) {
				*list = append(*list, cc)
			}
			return nil
		}}, nil
	case FlowQuota, FlowQuotaOff:
		off := v.Flow == FlowQuotaOff
		return Change{Kind: tfps.NotifyQuotaRaised, Update: func(a *tfps.Account) error {
			if off {
				a.DailyQuotaOff++
			} else {
				a.DailyQuota++
			}
			return nil
		}}, nil
	case string(engine.FlowRiskyRange):
		if v.Range == "" {
			return Change{}, fmt.Errorf("%s ticket without a range", v.Flow)
		}
		return Change{AllowRange: v.Range}, nil
	}
	return Change{}, fmt.Errorf("unknown flow %q in ticket", v.Flow)
}

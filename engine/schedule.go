package engine

import (
	"sync"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/bizhours"
	"github.com/voipshield/tfps/numbering"
)

// schedules gives each account its business hours: the account's own rule
// or the operator's (TFPS_BUSINESS_HOURS), in the account's time zone (its
// own, else its home country's). A Schedule memoises the days it expanded,
// so accounts sharing a zone and rule share one.
type schedules struct {
	base *bizhours.Schedule // the operator's rule; nil: always business hours, dates in UTC

	mu sync.Mutex
	by map[scheduleKey]*bizhours.Schedule
}

type scheduleKey struct{ zone, home, rule string }

// maxSchedules bounds the memo; past it, it starts again (every entry is
// cheap to rebuild).
const maxSchedules = 4096

func newSchedules(base *bizhours.Schedule) *schedules {
	return &schedules{base: base, by: map[scheduleKey]*bizhours.Schedule{}}
}

// of returns a's schedule; nil a (unknown account) gets the operator's.
func (s *schedules) of(a *tfps.Account) *bizhours.Schedule {
	if a == nil || (a.Timezone == "" && a.HomeCountry == "" && a.BusinessHours == "") {
		return s.base
	}
	k := scheduleKey{a.Timezone, a.HomeCountry, a.BusinessHours}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.by[k]; ok {
		return sc
	}
	sc := build(s.base, a)
	if len(s.by) >= maxSchedules {
		clear(s.by)
	}
	s.by[k] = sc
	return sc
}

// AccountSchedule returns the business hours of a: its own rule, or base
// (the operator's TFPS_BUSINESS_HOURS), in its time zone (its own, else its
// home country's). nil when neither a rule nor base exists. The admin API
// uses it for an account's "today"; the engine memoises the same answer.
func AccountSchedule(base *bizhours.Schedule, a *tfps.Account) *bizhours.Schedule {
	if a == nil || (a.Timezone == "" && a.HomeCountry == "" && a.BusinessHours == "") {
		return base
	}
	return build(base, a)
}

func build(base *bizhours.Schedule, a *tfps.Account) *bizhours.Schedule {
	sc := base
	if a.BusinessHours != "" {
		// The API and tfpsctl refuse a rule that does not parse; one
		// written into SQL by hand that does not falls back to the
		// operator's.
		if own, err := bizhours.Parse(a.BusinessHours); err == nil {
			if bizhours.HasZone(a.BusinessHours) {
				return own // the account's rule names its zone
			}
			sc = own
		}
	}
	if sc == nil {
		return nil
	}
	zone := a.Timezone
	if zone == "" {
		zone = numbering.TimeZone(a.HomeCountry, "")
	}
	if zone == "" {
		return sc
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return sc
	}
	return sc.In(loc)
}

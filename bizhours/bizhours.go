// Package bizhours decides whether an instant falls in business hours, from
// the recurrence string TFPS used (RFC 2445/5545 terms in the OpenSIPS
// "time recurrence" layout), and gives the local calendar date that daily
// counters are keyed by.
//
// The layout is
//
//	[tz|]dtstart|dtend|duration|freq|until|interval|byday|bymday|byyday|byweekno|bymonth
//
// for example the TFPS default
//
//	America/New_York|20210104T090000|21000104T170000||WEEKLY|||MO,TU,WE,TH,FR
//
// Two readings of dtend exist in the wild. When dtend falls on the same day as
// dtstart, or a duration is given, it is the end of the first occurrence (the
// OpenSIPS meaning). When dtend falls on a later day and no until is given, it
// is what TFPS meant: each occurrence runs from dtstart's time of day to
// dtend's time of day, and the recurrence ends on dtend's date. Occurrence
// boundaries are wall-clock times in tz, so 09:00 stays 09:00 across a DST
// change. The recurrence itself is expanded by github.com/teambition/rrule-go.
package bizhours

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/teambition/rrule-go"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("invalid business hours")

// Schedule is a parsed business-hours recurrence. It is safe for concurrent use.
type Schedule struct {
	raw      string
	loc      *time.Location
	rule     *rrule.RRule // nil for a single, non-recurring window
	first    time.Time    // dtstart in loc
	legacy   bool         // TFPS reading: window is start-of-day-time .. end-of-day-time
	endClock time.Duration
	length   time.Duration // window length in the OpenSIPS reading

	mu   sync.Mutex
	days map[string][]window // occurrences starting on a local date, memoised
}

type window struct{ start, end time.Time }

const stampLayout = "20060102T150405"

var durationRE = regexp.MustCompile(`^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

// Parse reads a business-hours string. The error names the field that is wrong.
func Parse(s string) (*Schedule, error) {
	fields, loc, err := split(s)
	if err != nil {
		return nil, err
	}
	return parse(s, fields, loc)
}

// split separates the optional leading time zone (UTC when absent) from
// the other fields.
func split(s string) ([]string, *time.Location, error) {
	fields := strings.Split(strings.TrimSpace(s), "|")
	loc := time.UTC
	if len(fields) > 0 && fields[0] != "" && (fields[0][0] < '0' || fields[0][0] > '9') {
		l, err := time.LoadLocation(fields[0])
		if err != nil {
			return nil, nil, fmt.Errorf("%w: unknown time zone %q", ErrSyntax, fields[0])
		}
		loc = l
		fields = fields[1:]
	}
	return fields, loc, nil
}

// HasZone reports whether the rule s names its time zone.
func HasZone(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && (s[0] < '0' || s[0] > '9')
}

// In returns the same rule with its wall-clock times in loc: 09:00-17:00
// New York moved to Madrid is 09:00-17:00 Madrid time. Accounts in other
// zones get the operator's rule this way.
func (s *Schedule) In(loc *time.Location) *Schedule {
	if loc == nil || loc == s.loc || loc.String() == s.loc.String() {
		return s
	}
	fields, _, err := split(s.raw)
	if err != nil {
		return s
	}
	raw := loc.String() + "|" + strings.Join(fields, "|")
	m, err := parse(raw, fields, loc)
	if err != nil { // only a local time skipped by DST could fail: keep s
		return s
	}
	return m
}

func parse(raw string, fields []string, loc *time.Location) (*Schedule, error) {
	const maxFields = 11
	if len(fields) > maxFields {
		return nil, fmt.Errorf("%w: %d fields after the time zone, at most %d (dtstart|dtend|duration|freq|until|interval|byday|bymday|byyday|byweekno|bymonth)", ErrSyntax, len(fields), maxFields)
	}
	for len(fields) < maxFields {
		fields = append(fields, "")
	}
	get := func(i int) string { return strings.TrimSpace(fields[i]) }

	sc := &Schedule{raw: raw, loc: loc, days: make(map[string][]window)}
	if get(0) == "" {
		return nil, fmt.Errorf("%w: dtstart is required (e.g. 20210104T090000)", ErrSyntax)
	}
	start, err := time.ParseInLocation(stampLayout, get(0), loc)
	if err != nil {
		return nil, fmt.Errorf("%w: dtstart %q is not YYYYMMDDTHHMMSS", ErrSyntax, get(0))
	}
	sc.first = start

	var until time.Time
	if get(4) != "" {
		until, err = time.ParseInLocation(stampLayout, get(4), loc)
		if err != nil {
			return nil, fmt.Errorf("%w: until %q is not YYYYMMDDTHHMMSS", ErrSyntax, get(4))
		}
	}
	switch {
	case get(2) != "":
		d, err := parseDuration(get(2))
		if err != nil {
			return nil, err
		}
		sc.length = d
	case get(1) != "":
		end, err := time.ParseInLocation(stampLayout, get(1), loc)
		if err != nil {
			return nil, fmt.Errorf("%w: dtend %q is not YYYYMMDDTHHMMSS", ErrSyntax, get(1))
		}
		if !end.After(start) {
			return nil, fmt.Errorf("%w: dtend %s is not after dtstart %s", ErrSyntax, get(1), get(0))
		}
		if sameDay(start, end) || !until.IsZero() {
			sc.length = end.Sub(start)
		} else {
			sc.legacy = true
			sc.endClock = clock(end)
			until = time.Date(end.Year(), end.Month(), end.Day(), 23, 59, 59, 0, loc)
		}
	default:
		return nil, fmt.Errorf("%w: either dtend or duration is required", ErrSyntax)
	}
	if sc.length <= 0 && !sc.legacy {
		return nil, fmt.Errorf("%w: the business-hours window is empty", ErrSyntax)
	}
	if sc.legacy && sc.endClock == clock(start) {
		return nil, fmt.Errorf("%w: start and end time of day are equal (%s)", ErrSyntax, start.Format("15:04:05"))
	}

	freq := strings.ToUpper(get(3))
	if freq == "" {
		if sc.legacy {
			freq = "DAILY"
		} else {
			for i := 5; i < maxFields; i++ {
				if get(i) != "" {
					return nil, fmt.Errorf("%w: field %d is set but freq is empty", ErrSyntax, i+1)
				}
			}
			return sc, nil
		}
	}
	opt := rrule.ROption{Dtstart: start, Until: until, Interval: 1}
	switch freq {
	case "DAILY":
		opt.Freq = rrule.DAILY
	case "WEEKLY":
		opt.Freq = rrule.WEEKLY
	case "MONTHLY":
		opt.Freq = rrule.MONTHLY
	case "YEARLY":
		opt.Freq = rrule.YEARLY
	default:
		return nil, fmt.Errorf("%w: freq %q is not one of DAILY, WEEKLY, MONTHLY, YEARLY", ErrSyntax, get(3))
	}
	if v := get(5); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%w: interval %q is not a positive integer", ErrSyntax, v)
		}
		opt.Interval = n
	}
	if v := get(6); v != "" {
		for _, d := range strings.Split(v, ",") {
			wd, ok := weekdays[strings.ToUpper(strings.TrimSpace(d))]
			if !ok {
				return nil, fmt.Errorf("%w: byday %q has %q; use MO,TU,WE,TH,FR,SA,SU", ErrSyntax, v, d)
			}
			opt.Byweekday = append(opt.Byweekday, wd)
		}
	}
	lists := []struct {
		name     string
		idx      int
		min, max int
		dst      *[]int
	}{
		{"bymday", 7, -31, 31, &opt.Bymonthday},
		{"byyday", 8, -366, 366, &opt.Byyearday},
		{"byweekno", 9, -53, 53, &opt.Byweekno},
		{"bymonth", 10, 1, 12, &opt.Bymonth},
	}
	for _, l := range lists {
		v := get(l.idx)
		if v == "" {
			continue
		}
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n == 0 || n < l.min || n > l.max {
				return nil, fmt.Errorf("%w: %s %q has %q; allowed %d..%d, not 0", ErrSyntax, l.name, v, p, l.min, l.max)
			}
			*l.dst = append(*l.dst, n)
		}
	}
	rule, err := rrule.NewRRule(opt)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	sc.rule = rule
	return sc, nil
}

var weekdays = map[string]rrule.Weekday{
	"MO": rrule.MO, "TU": rrule.TU, "WE": rrule.WE, "TH": rrule.TH,
	"FR": rrule.FR, "SA": rrule.SA, "SU": rrule.SU,
}

func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	m := durationRE.FindStringSubmatch(strings.ToUpper(s))
	if m == nil || s == "P" || strings.HasSuffix(strings.ToUpper(s), "T") {
		return 0, fmt.Errorf("%w: duration %q is not an RFC 5545 duration such as PT8H or a number of seconds", ErrSyntax, s)
	}
	units := []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second}
	var d time.Duration
	for i, u := range units {
		if m[i+1] != "" {
			n, _ := strconv.Atoi(m[i+1])
			d += time.Duration(n) * u
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%w: duration %q is empty", ErrSyntax, s)
	}
	return d, nil
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

func clock(t time.Time) time.Duration {
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
}

// String returns the string the schedule was parsed from.
func (s *Schedule) String() string { return s.raw }

// Location is the schedule's time zone; daily counters use its calendar.
func (s *Schedule) Location() *time.Location { return s.loc }

// LocalDate is t's calendar date in the schedule's time zone, as YYYY-MM-DD.
// Daily quotas are keyed by it, so they reset at local midnight.
func (s *Schedule) LocalDate(t time.Time) string { return t.In(s.loc).Format("2006-01-02") }

// InHours reports whether t falls inside a business-hours occurrence.
func (s *Schedule) InHours(t time.Time) bool {
	t = t.In(s.loc)
	if s.rule == nil {
		return !t.Before(s.first) && t.Before(s.first.Add(s.length))
	}
	// An occurrence covering t started today or, for windows crossing
	// midnight or longer than a day, on one of the previous days.
	back := 1 + int(s.length/(24*time.Hour))
	for i := 0; i <= back; i++ {
		y, m, d := t.Date()
		for _, w := range s.windowsOn(time.Date(y, m, d-i, 0, 0, 0, 0, s.loc)) {
			if !t.Before(w.start) && t.Before(w.end) {
				return true
			}
		}
	}
	return false
}

// BusinessDay reports whether an occurrence of business hours starts on the
// local date (YYYY-MM-DD): weekends and days the rule skips are not
// business days. Learning trains business days and the others apart. A
// date that does not parse is not a business day.
func (s *Schedule) BusinessDay(date string) bool {
	day, err := time.ParseInLocation("2006-01-02", date, s.loc)
	if err != nil {
		return false
	}
	if s.rule == nil {
		return sameDay(s.first, day)
	}
	return len(s.windowsOn(day)) > 0
}

// windowsOn returns the occurrences starting on the local day that begins at
// day, memoised: expanding the rule walks from dtstart, which is too slow to
// repeat for every call.
func (s *Schedule) windowsOn(day time.Time) []window {
	key := day.Format("2006-01-02")
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.days[key]; ok {
		return w
	}
	next := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, s.loc)
	var out []window
	for _, st := range s.rule.Between(day, next, true) {
		if !st.Before(next) {
			continue
		}
		st = st.In(s.loc)
		end := st.Add(s.length)
		if s.legacy {
			y, m, d := st.Date()
			eh, em, es := int(s.endClock/time.Hour), int(s.endClock%time.Hour/time.Minute), int(s.endClock%time.Minute/time.Second)
			end = time.Date(y, m, d, eh, em, es, 0, s.loc)
			if !end.After(st) { // window crosses midnight
				end = time.Date(y, m, d+1, eh, em, es, 0, s.loc)
			}
		}
		out = append(out, window{st, end})
	}
	if len(s.days) >= 64 {
		clear(s.days)
	}
	s.days[key] = out
	return out
}

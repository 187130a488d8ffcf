package tfps

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Rule is one fraud rule of a profile (the feature set of OpenSIPS's
// fraud_detection module). A call of an account whose profile holds rules
// is matched against them: the rule with the longest number prefix whose
// time window and days include the call applies, and the account's
// statistics under that rule are compared with the rule's thresholds.
//
// Thresholds: a statistic at or above a threshold trips it; 0 disables it.
// Critical thresholds are checked before warning ones, each in the order
// cpm, total, concurrent, sequential (duration is checked when the call
// ends).
type Rule struct {
	ID      int64  `json:"id"`
	Profile string `json:"profile"`
	// Prefix is the start of the dialled number in E.164 digits (country
	// code first, no "+"); "" matches every number.
	Prefix string `json:"prefix"`
	// Start and End bound the rule's daily window, "HH:MM" in the account's
	// business-hours time zone, End excluded ("24:00" is the end of the
	// day). End before Start crosses midnight (22:00-06:00); Start equal to
	// End (or both empty) is the whole day.
	Start string `json:"start"`
	End   string `json:"end"`
	// Days the window starts on: "Mon-Fri", "Sat,Sun", "Wed", "Fri-Mon";
	// "" or "Mon-Sun" is every day. A window crossing midnight belongs to
	// the day it starts on (Friday 22:00-06:00 covers Saturday 03:00).
	Days string `json:"days"`

	CPMWarning         int `json:"cpm_warning"`
	CPMCritical        int `json:"cpm_critical"`
	TotalWarning       int `json:"total_warning"`
	TotalCritical      int `json:"total_critical"`
	ConcurrentWarning  int `json:"concurrent_warning"`
	ConcurrentCritical int `json:"concurrent_critical"`
	SequentialWarning  int `json:"sequential_warning"`
	SequentialCritical int `json:"sequential_critical"`
	DurationWarning    int `json:"duration_warning"`  // seconds
	DurationCritical   int `json:"duration_critical"` // seconds

	// WarningAction is what a warning does to the call: "approve" (the
	// default: the call goes on, the event is raised) or "verify" (the
	// rule_warning voice verification).
	WarningAction string `json:"warning_action"`
}

// Warning actions.
const (
	RuleWarningApprove = "approve"
	RuleWarningVerify  = "verify"
)

// RuleStat names a statistic of the fraud rules.
type RuleStat uint8

// The statistics, in the order their thresholds are checked.
const (
	StatCPM        RuleStat = iota + 1 // calls within the sliding last 60 s
	StatTotal                          // calls since the current window started
	StatConcurrent                     // calls in progress
	StatSequential                     // consecutive calls to the very same number
	StatDuration                       // seconds of a call, checked when it ends
)

// String returns the statistic's name as the API and the events spell it.
func (s RuleStat) String() string {
	switch s {
	case StatCPM:
		return "cpm"
	case StatTotal:
		return "total"
	case StatConcurrent:
		return "concurrent"
	case StatSequential:
		return "sequential"
	case StatDuration:
		return "duration"
	}
	return fmt.Sprintf("RuleStat(%d)", uint8(s))
}

// ParseRuleStat returns the statistic named name (as String spells it).
func ParseRuleStat(name string) (RuleStat, bool) {
	for s := StatCPM; s <= StatDuration; s++ {
		if s.String() == name {
			return s, true
		}
	}
	return 0, false
}

// Thresholds returns the warning and critical thresholds of stat.
func (r *Rule) Thresholds(stat RuleStat) (warning, critical int) {
	switch stat {
	case StatCPM:
		return r.CPMWarning, r.CPMCritical
	case StatTotal:
		return r.TotalWarning, r.TotalCritical
	case StatConcurrent:
		return r.ConcurrentWarning, r.ConcurrentCritical
	case StatSequential:
		return r.SequentialWarning, r.SequentialCritical
	case StatDuration:
		return r.DurationWarning, r.DurationCritical
	}
	return 0, 0
}

// MaxRulePrefix bounds a rule's prefix (an E.164 number has 15 digits).
const MaxRulePrefix = 15

// NormalizeRule checks r and writes its fields in their canonical form
// (prefix digits, "HH:MM" times, days as given but validated, the warning
// action spelled out). The error is EINVALID and names the field first:
// "days: ...".
func NormalizeRule(r *Rule) error {
	r.Profile = strings.TrimSpace(r.Profile)
	if r.Profile == "" {
		return Errorf(EINVALID, "profile: required")
	}
	if len(r.Profile) > 64 {
		return Errorf(EINVALID, "profile: longer than 64 characters")
	}
	if r.ID < 0 {
		return Errorf(EINVALID, "id: %d is negative", r.ID)
	}
	p := strings.TrimPrefix(strings.TrimSpace(r.Prefix), "+")
	switch {
	case strings.Trim(p, "0123456789") != "":
		return Errorf(EINVALID, "prefix: %q is not digits (E.164, country code first, with or without a leading +)", r.Prefix)
	case len(p) > MaxRulePrefix:
		return Errorf(EINVALID, "prefix: %q is longer than %d digits", r.Prefix, MaxRulePrefix)
	}
	r.Prefix = p
	start, err := parseClock(r.Start, false)
	if err != nil {
		return Errorf(EINVALID, "start: %v", err)
	}
	end, err := parseClock(r.End, true)
	if err != nil {
		return Errorf(EINVALID, "end: %v", err)
	}
	if r.Start == "" && r.End == "" {
		end = start
	}
	r.Start, r.End = formatClock(start), formatClock(end)
	days, err := ParseDays(r.Days)
	if err != nil {
		return Errorf(EINVALID, "days: %v", err)
	}
	if days == AllDays {
		r.Days = "Mon-Sun"
	} else {
		r.Days = strings.TrimSpace(r.Days)
	}
	for _, t := range [...]struct {
		name string
		v    int
	}{
		{"cpm_warning", r.CPMWarning}, {"cpm_critical", r.CPMCritical},
		{"total_warning", r.TotalWarning}, {"total_critical", r.TotalCritical},
		{"concurrent_warning", r.ConcurrentWarning}, {"concurrent_critical", r.ConcurrentCritical},
		{"sequential_warning", r.SequentialWarning}, {"sequential_critical", r.SequentialCritical},
		{"duration_warning", r.DurationWarning}, {"duration_critical", r.DurationCritical},
	} {
		if t.v < 0 {
			return Errorf(EINVALID, "%s: %d is negative (0 disables the threshold)", t.name, t.v)
		}
	}
	switch strings.ToLower(strings.TrimSpace(r.WarningAction)) {
	case "", RuleWarningApprove:
		r.WarningAction = RuleWarningApprove
	case RuleWarningVerify:
		r.WarningAction = RuleWarningVerify
	default:
		return Errorf(EINVALID, "warning_action: %q is not approve or verify", r.WarningAction)
	}
	return nil
}

// parseClock reads "HH:MM" (or "H:MM", or OpenSIPS's "HH:MM:SS" with zero
// seconds) as minutes after midnight; "" is 0. "24:00" is allowed as an end.
func parseClock(s string, end bool) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if strings.Count(s, ":") == 2 {
		var ok bool
		if s, ok = strings.CutSuffix(s, ":00"); !ok {
			return 0, fmt.Errorf("%q is not HH:MM", s)
		}
	}
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(m) != 2 || len(h) == 0 || len(h) > 2 || strings.Trim(h+m, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	switch {
	case end && hh == 24 && mm == 0:
		return 24 * 60, nil
	case hh > 23 || mm > 59:
		return 0, fmt.Errorf("%q is not a time of day (00:00-23:59)", s)
	}
	return hh*60 + mm, nil
}

func formatClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// RuleWindow is a rule's window compiled: minutes after midnight and the
// days it may start on.
type RuleWindow struct {
	Start, End int // minutes; End may be 1440; Start == End (mod 1440): whole day
	Days       DaySet
}

// Window compiles r's window. r must have passed NormalizeRule.
func (r *Rule) Window() (RuleWindow, error) {
	s, err := parseClock(r.Start, false)
	if err != nil {
		return RuleWindow{}, fmt.Errorf("rule %d: start: %w", r.ID, err)
	}
	e, err := parseClock(r.End, true)
	if err != nil {
		return RuleWindow{}, fmt.Errorf("rule %d: end: %w", r.ID, err)
	}
	d, err := ParseDays(r.Days)
	if err != nil {
		return RuleWindow{}, fmt.Errorf("rule %d: days: %w", r.ID, err)
	}
	return RuleWindow{Start: s, End: e, Days: d}, nil
}

// StartOf returns the start of the window occurrence that contains t (read
// in t's location), and false when t is outside every occurrence. A window
// crossing midnight that started yesterday contains the early hours of
// today, on yesterday's day of the week.
func (w RuleWindow) StartOf(t time.Time) (time.Time, bool) {
	y, mo, d := t.Date()
	m := t.Hour()*60 + t.Minute()
	end := w.End
	if end == 24*60 && w.Start == 0 {
		end = 0 // 00:00-24:00 is the whole day
	}
	day := 0 // 0 today, -1 yesterday
	switch {
	case w.Start == end:
		// whole day
	case w.Start < end:
		if m < w.Start || m >= end {
			return time.Time{}, false
		}
	default: // crosses midnight
		switch {
		case m >= w.Start:
		case m < end:
			day = -1
		default:
			return time.Time{}, false
		}
	}
	start := time.Date(y, mo, d+day, w.Start/60, w.Start%60, 0, 0, t.Location())
	if w.Start == end {
		start = time.Date(y, mo, d, 0, 0, 0, 0, t.Location())
	}
	if !w.Days.Has(start.Weekday()) {
		return time.Time{}, false
	}
	return start, true
}

// DaySet is a set of weekdays (bit i: time.Weekday(i)).
type DaySet uint8

// AllDays is every day of the week.
const AllDays DaySet = 1<<7 - 1

// Has reports whether d is in the set.
func (s DaySet) Has(d time.Weekday) bool { return s&(1<<d) != 0 }

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseDay(s string) (time.Weekday, error) {
	k := strings.ToLower(strings.TrimSpace(s))
	if len(k) > 3 {
		k = k[:3] // Monday, Tues...
	}
	d, ok := dayNames[k]
	if !ok || !strings.HasPrefix(fullDay(d), strings.ToLower(strings.TrimSpace(s))) {
		return 0, fmt.Errorf("%q is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)", strings.TrimSpace(s))
	}
	return d, nil
}

func fullDay(d time.Weekday) string { return strings.ToLower(d.String()) }

// ParseDays reads a list of days and ranges: "Mon-Fri", "Sat,Sun", "Wed",
// "Fri-Mon" (a range may wrap past Sunday). "" is every day.
func ParseDays(s string) (DaySet, error) {
	if strings.TrimSpace(s) == "" {
		return AllDays, nil
	}
	var set DaySet
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			return 0, fmt.Errorf("%q has an empty item", s)
		}
		a, b, isRange := strings.Cut(part, "-")
		from, err := parseDay(a)
		if err != nil {
			return 0, err
		}
		to := from
		if isRange {
			if to, err = parseDay(b); err != nil {
				return 0, err
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			set |= 1 << d
			if d == to {
				break
			}
		}
	}
	return set, nil
}

// RuleCSVColumns is the column order of OpenSIPS's fraud_detection table,
// which ReadRulesCSV reads.
var RuleCSVColumns = []string{
	"ruleid", "profileid", "prefix", "start_hour", "end_hour", "daysoftheweek",
	"cpm_warning", "cpm_critical", "call_duration_warning", "call_duration_critical",
	"total_calls_warning", "total_calls_critical", "concurrent_calls_warning", "concurrent_calls_critical",
	"sequential_calls_warning", "sequential_calls_critical",
}

// ErrRuleRows reports the rows of a rules CSV that were refused.
var ErrRuleRows = errors.New("rules CSV has bad rows")

// ReadRulesCSV reads rules exported from OpenSIPS's fraud_detection table,
// in its column order (RuleCSVColumns). A header row (starting with
// "ruleid") is skipped. Every bad row is reported, each with its row number
// (1-based, the header counted) and the field; nothing is returned then, so
// an import is all or nothing. OpenSIPS's profile ids are numbers; they
// become profile names as written.
func ReadRulesCSV(r io.Reader) ([]Rule, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	var out []Rule
	var bad []string
	seen := map[int64]int{}
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read rules CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if row == 1 && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "ruleid") {
			continue
		}
		if len(rec) != len(RuleCSVColumns) {
			bad = append(bad, fmt.Sprintf("row %d: %d fields, want %d (%s)", line, len(rec), len(RuleCSVColumns), strings.Join(RuleCSVColumns, ",")))
			continue
		}
		r, err := ruleFromCSV(rec)
		if err == nil {
			err = NormalizeRule(&r)
		}
		if err == nil && r.ID != 0 {
			if prev, dup := seen[r.ID]; dup {
				err = fmt.Errorf("ruleid: %d already on row %d", r.ID, prev)
			}
			seen[r.ID] = line
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("row %d: %s", line, ErrorMessage(err)))
			continue
		}
		out = append(out, r)
	}
	if len(bad) > 0 {
		return nil, &Error{Code: EINVALID, Message: strings.Join(bad, "; "), Err: ErrRuleRows}
	}
	return out, nil
}

func ruleFromCSV(rec []string) (Rule, error) {
	var r Rule
	num := func(i int) (int64, error) {
		s := strings.TrimSpace(rec[i])
		if s == "" {
			return 0, nil
		}
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not a whole number", RuleCSVColumns[i], s)
		}
		return v, nil
	}
	id, err := num(0)
	if err != nil {
		return r, err
	}
	r.ID = id
	r.Profile = strings.TrimSpace(rec[1])
	r.Prefix, r.Start, r.End, r.Days = rec[2], rec[3], rec[4], rec[5]
	if strings.TrimSpace(r.End) == "23:59" {
		// OpenSIPS's default end hour means "until the end of the day";
		// our End is excluded, so 23:59 would lose the last minute.
		r.End = "24:00"
	}
	dst := [...]*int{
		&r.CPMWarning, &r.CPMCritical, &r.DurationWarning, &r.DurationCritical,
		&r.TotalWarning, &r.TotalCritical, &r.ConcurrentWarning, &r.ConcurrentCritical,
		&r.SequentialWarning, &r.SequentialCritical,
	}
	for i, p := range dst {
		v, err := num(6 + i)
		if err != nil {
			return r, err
		}
		*p = int(v)
	}
	return r, nil
}

// RuleStats are an account's statistics under the rule it last matched
// (tfpsctl rules stats, GET /v1/accounts/{domain}/{user}/stats).
type RuleStats struct {
	Rule        int64     `json:"rule"`         // 0: no call matched a rule yet
	WindowStart time.Time `json:"window_start"` // start of the window the stats count
	CPM         int64     `json:"cpm"`
	Total       int64     `json:"total"`
	Concurrent  int64     `json:"concurrent"`
	Sequential  int64     `json:"sequential"`
	LastNumber  string    `json:"last_number"`
}

package bizhours

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const tfpsDefault = "America/New_York|20210104T090000|21000104T170000||WEEKLY|||MO,TU,WE,TH,FR"

func mustParse(t testing.TB, s string) *Schedule {
	t.Helper()
	sc, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return sc
}

func at(t testing.TB, loc, s string) time.Time {
	t.Helper()
	l, err := time.LoadLocation(loc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04:05", s, l)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTFPSDefaultInHours(t *testing.T) {
	sc := mustParse(t, tfpsDefault)
	ny := "America/New_York"
	cases := []struct {
		when string
		loc  string
		want bool
	}{
		{"2026-11-23 08:59:59", ny, false}, // Monday before opening
		{"2026-11-23 09:00:00", ny, true},  // opening instant counts
		{"2026-11-23 12:00:00", ny, true},
		{"2026-11-23 16:59:59", ny, true},
		{"2026-11-23 17:00:00", ny, false},    // closing instant is off hours
		{"2026-11-28 12:00:00", ny, false},    // Saturday
		{"2026-11-29 12:00:00", ny, false},    // Sunday
		{"2026-11-23 14:30:00", "UTC", true},  // 09:30 in New York (EST, UTC-5)
		{"2026-11-23 13:30:00", "UTC", false}, // 08:30 in New York
		{"2020-06-01 12:00:00", ny, false},    // before dtstart
		{"2100-01-05 12:00:00", ny, false},    // after the recurrence ended
		{"2100-01-04 12:00:00", ny, true},     // last day (Monday 2100-01-04)
	}
	for _, c := range cases {
		if got := sc.InHours(at(t, c.loc, c.when)); got != c.want {
			t.Errorf("InHours(%s %s) = %v, want %v", c.when, c.loc, got, c.want)
		}
	}
}

// Business hours are wall-clock times: on the Monday after the spring and
// autumn DST changes, 09:00 local is still the opening time although its UTC
// offset moved by an hour.
func TestAcrossDST(t *testing.T) {
	sc := mustParse(t, tfpsDefault)
	// 2026-03-08 clocks go forward in New York; Monday 2026-03-09 is EDT (UTC-4).
	if !sc.InHours(at(t, "UTC", "2026-03-09 13:00:00")) { // 09:00 EDT
		t.Error("09:00 EDT on the Monday after spring-forward should be in hours")
	}
	if sc.InHours(at(t, "UTC", "2026-03-09 12:59:59")) { // 08:59:59 EDT
		t.Error("08:59:59 EDT should be off hours")
	}
	if !sc.InHours(at(t, "UTC", "2026-03-06 14:00:00")) { // Friday before, 09:00 EST
		t.Error("09:00 EST on the Friday before should be in hours")
	}
	if sc.InHours(at(t, "UTC", "2026-03-06 13:00:00")) { // 08:00 EST
		t.Error("08:00 EST should be off hours")
	}
	// 2026-11-01 clocks go back; Monday 2026-11-02 is EST (UTC-5).
	if sc.InHours(at(t, "UTC", "2026-11-02 13:30:00")) { // 08:30 EST
		t.Error("08:30 EST after fall-back should be off hours")
	}
	if !sc.InHours(at(t, "UTC", "2026-11-02 21:59:00")) { // 16:59 EST
		t.Error("16:59 EST after fall-back should be in hours")
	}
}

func TestWindowAcrossMidnight(t *testing.T) {
	// A night shift 22:00-06:00 every day.
	sc := mustParse(t, "Europe/Madrid|20260101T220000|20301231T060000||DAILY")
	mad := "Europe/Madrid"
	for _, c := range []struct {
		when string
		want bool
	}{
		{"2026-11-23 21:59:59", false},
		{"2026-11-23 22:00:00", true},
		{"2026-11-23 23:59:59", true},
		{"2026-11-24 00:00:00", true},
		{"2026-11-24 05:59:59", true},
		{"2026-11-24 06:00:00", false},
	} {
		if got := sc.InHours(at(t, mad, c.when)); got != c.want {
			t.Errorf("InHours(%s) = %v, want %v", c.when, got, c.want)
		}
	}
}

func TestOpenSIPSReading(t *testing.T) {
	// dtend on the same day: the first occurrence is 09:00-13:00, repeated weekly on Wednesdays.
	sc := mustParse(t, "UTC|20260107T090000|20260107T130000||WEEKLY|||WE")
	if !sc.InHours(at(t, "UTC", "2026-11-25 12:59:00")) {
		t.Error("Wednesday 12:59 should be in hours")
	}
	if sc.InHours(at(t, "UTC", "2026-11-25 13:00:00")) {
		t.Error("Wednesday 13:00 should be off hours")
	}
	if sc.InHours(at(t, "UTC", "2026-11-24 10:00:00")) {
		t.Error("Tuesday should be off hours")
	}
	d := mustParse(t, "20260101T080000||PT2H|DAILY")
	if !d.InHours(at(t, "UTC", "2026-11-24 09:59:59")) || d.InHours(at(t, "UTC", "2026-11-24 10:00:00")) {
		t.Error("duration PT2H from 08:00 should end at 10:00 UTC")
	}
}

func TestLocalDateMidnight(t *testing.T) {
	sc := mustParse(t, tfpsDefault)
	// 04:59:59 UTC is still the previous day in New York (EST, UTC-5).
	if got := sc.LocalDate(at(t, "UTC", "2026-11-24 04:59:59")); got != "2026-11-23" {
		t.Errorf("LocalDate before local midnight = %s", got)
	}
	if got := sc.LocalDate(at(t, "UTC", "2026-11-24 05:00:00")); got != "2026-11-24" {
		t.Errorf("LocalDate at local midnight = %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "dtstart is required"},
		{"Mars/Base|20210104T090000|21000104T170000||WEEKLY|||MO", "unknown time zone"},
		{"UTC|2021-01-04|21000104T170000||WEEKLY|||MO", "dtstart"},
		{"UTC|20210104T090000|20200104T170000||WEEKLY|||MO", "not after dtstart"},
		{"UTC|20210104T090000|21000104T170000||HOURLY|||MO", "freq"},
		{"UTC|20210104T090000|21000104T170000||WEEKLY|||MO,XX", "byday"},
		{"UTC|20210104T090000|21000104T170000||WEEKLY||0|MO", "interval"},
		{"UTC|20210104T090000||PTXH|DAILY", "duration"},
		{"UTC|20210104T090000|21000104T090000||DAILY", "equal"},
		{"UTC|20210104T090000", "either dtend or duration"},
		{"UTC|20210104T090000|21000104T170000||WEEKLY||||40", "bymday"},
	} {
		_, err := Parse(c.in)
		if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an ErrSyntax mentioning %q", c.in, err, c.want)
		}
	}
}

func BenchmarkInHours(b *testing.B) {
	sc := mustParse(b, tfpsDefault)
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		sc.InHours(now)
	}
}

// The operator's rule moved to an account's zone keeps its wall-clock hours
// there, across that zone's own DST change (Europe moves on 29 March 2026,
// New York on 8 March).
func TestScheduleInAccountZone(t *testing.T) {
	sc, err := Parse("America/New_York|20210104T090000|21000104T170000||WEEKLY|||MO,TU,WE,TH,FR")
	if err != nil {
		t.Fatal(err)
	}
	madrid, _ := time.LoadLocation("Europe/Madrid")
	m := sc.In(madrid)
	if m.Location().String() != "Europe/Madrid" || !strings.HasPrefix(m.String(), "Europe/Madrid|") {
		t.Fatalf("moved schedule in %s (%q)", m.Location(), m.String())
	}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 3, 27, 9, 30, 0, 0, madrid), true},  // Friday before the change, CET
		{time.Date(2026, 3, 27, 8, 30, 0, 0, madrid), false}, //
		{time.Date(2026, 3, 30, 9, 30, 0, 0, madrid), true},  // Monday after it, CEST: still 09:30 local
		{time.Date(2026, 3, 30, 8, 30, 0, 0, madrid), false}, //
		{time.Date(2026, 3, 30, 16, 59, 0, 0, madrid), true}, //
		{time.Date(2026, 3, 30, 17, 0, 0, 0, madrid), false}, //
		{time.Date(2026, 3, 28, 11, 0, 0, 0, madrid), false}, // Saturday
	} {
		if got := m.InHours(c.at); got != c.want {
			t.Errorf("InHours(%s) = %v, want %v", c.at.Format(time.RFC3339), got, c.want)
		}
		// The New York rule would say otherwise for the Madrid morning.
		if c.want && c.at.Hour() < 15 && sc.InHours(c.at) {
			t.Errorf("%s is in New York hours too: the test proves nothing", c.at)
		}
	}
	if d := m.LocalDate(time.Date(2026, 3, 29, 22, 30, 0, 0, time.UTC)); d != "2026-03-30" {
		t.Errorf("local date in Madrid = %s, want 2026-03-30", d)
	}
	if !HasZone(sc.String()) || HasZone("20210104T090000|21000104T170000") {
		t.Error("HasZone wrong")
	}
}

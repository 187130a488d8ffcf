package learning_test

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/bizhours"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/learning"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

var (
	madrid = mustLoc("Europe/Madrid")
	ipUS   = netip.MustParseAddr("8.8.8.8")
	ipGB   = netip.MustParseAddr("81.2.69.142")
)

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// month is what feedMonth sent: the expected row of each local date.
type month struct {
	days  []tfps.DayStats
	acct  *tfps.Account
	sched *bizhours.Schedule
	want  map[string]tfps.DayStats
}

// feedMonth decides March 2026 of a Madrid office through a real engine
// (SQL store, Redis), each call at its own instant, and closes the engine
// so the last batch is written. Europe's DST change is on Sunday 29 March.
//
// Business day i (Mon-Fri, 22 of them from 2 March): one call at 00:30
// local (off hours, 1 concurrent call); from 09:10 local every 10 minutes,
// 4 calls (concurrent 1,2,1,2) when i is even, 6 (1,2,3,4,1,2) when odd;
// at 16:00 a call to Cuba (rejected, R06) reporting 9 calls, and on
// Mondays at 16:30 one to France (not allowed: verify V02). The first
// in-hours call of the first 5 business days comes from a GB address, the
// second of the first 3 goes to Spain. Saturdays: 3 off-hours calls at
// 11:00, 11:05 and 23:59:30 (concurrent 1,2,1); Sundays one at 00:00:30
// (23:00:30 UTC on Saturday: counted on Sunday only by the local date).
// An unknown account calls every day too; it has no statistics.
func feedMonth(t *testing.T, dialect string) *month {
	t.Helper()
	ctx := context.Background()
	db := storetest.MustOpen(t, dialect)
	st := statetest.MustOpen(t)
	base, err := bizhours.Parse(config.DefaultBusinessHours)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Deps{
		Accounts: db, Lists: db, Changes: db, Log: db, Ranges: db,
		Counters: state.NewDecideCounters(st), Reputation: reputation.Local{},
	}, engine.Options{BusinessHours: base, DestinationBlacklist: []string{"CU"}, DefaultHome: "ES", LogFlush: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a := &tfps.Account{
		User: "100", Domain: "office.example", Timezone: "Europe/Madrid", HomeCountry: "ES",
		ConcurrentCalls: 50, ConcurrentCallsOff: 50, DailyQuota: 1000, DailyQuotaOff: 1000,
		SourceCountries: []string{"US", "GB"}, DestinationCountries: []string{"GB", "ES"},
	}
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := eng.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	m := &month{acct: a, sched: engine.AccountSchedule(base, a), want: map[string]tfps.DayStats{}}
	seq := 0
	decide := func(at time.Time, user string, src netip.Addr, number string, cc int) engine.Decision {
		t.Helper()
		seq++
		d, err := eng.Decide(ctx, engine.Call{
			User: user, Domain: "office.example", SourceIP: src, ConcurrentCalls: cc, Number: number,
			Caller: "+34910000000", CallID: fmt.Sprintf("m-%d", seq), FromTag: "t", Time: at, Transport: "http",
		})
		if err != nil {
			t.Fatalf("decide at %s: %v", at, err)
		}
		return d
	}
	const gb, es, cu, fr = "+442079460000", "+34912345678", "+5372345678", "+33142345678"
	approve := func(at time.Time, src netip.Addr, number string, cc int, off bool) {
		t.Helper()
		d := decide(at, "100", src, number, cc)
		if d.Code != engine.A00 || d.Facts.OffHours != off {
			t.Fatalf("call at %s: %s (%s), off hours %v; want A00, off hours %v", at, d.Code, d.Reason, d.Facts.OffHours, off)
		}
	}
	biz := 0
	for day := 2; day <= 31; day++ {
		date := time.Date(2026, 3, day, 0, 0, 0, 0, madrid)
		key := date.Format("2006-01-02")
		at := func(h, min, s int) time.Time { return time.Date(2026, 3, day, h, min, s, 0, madrid) }
		w := tfps.DayStats{Date: key}
		src, dst := map[string]bool{}, map[string]bool{}
		switch date.Weekday() {
		case time.Saturday:
			for k, c := range []struct {
				at time.Time
				cc int
			}{{at(11, 0, 0), 1}, {at(11, 5, 0), 2}, {at(23, 59, 30), 1}} {
				_ = k
				approve(c.at, ipUS, gb, c.cc, true)
			}
			w.ApprovedOff, w.PeakOff = 3, 2
			src["US"], dst["GB"] = true, true
		case time.Sunday:
			approve(at(0, 0, 30), ipUS, gb, 1, true)
			w.ApprovedOff, w.PeakOff = 1, 1
			src["US"], dst["GB"] = true, true
		default:
			approve(at(0, 30, 0), ipUS, gb, 1, true)
			w.ApprovedOff, w.PeakOff = 1, 1
			ccs := []int{1, 2, 1, 2}
			if biz%2 == 1 {
				ccs = []int{1, 2, 3, 4, 1, 2}
			}
			for k, cc := range ccs {
				s, n := ipUS, gb
				if k == 0 && biz < 5 {
					s = ipGB
					src["GB"] = true
				}
				if k == 1 && biz < 3 {
					n = es
					dst["ES"] = true
				}
				approve(at(9, 10+10*k, 0), s, n, cc, false)
				w.Approved++
				w.Peak = max(w.Peak, cc)
			}
			src["US"], dst["GB"] = true, true
			if d := decide(at(16, 0, 0), "100", ipUS, cu, 9); d.Code != engine.R06 {
				t.Fatalf("call to Cuba on %s: %s, want R06", key, d.Code)
			}
			w.Rejected++
			if date.Weekday() == time.Monday {
				if d := decide(at(16, 30, 0), "100", ipUS, fr, 1); d.Result != engine.Verify {
					t.Fatalf("call to France on %s: %s, want a verification", key, d.Code)
				}
				w.Verified++
			}
			biz++
		}
		for cc := range src {
			w.SourceCountries = append(w.SourceCountries, cc)
		}
		for cc := range dst {
			w.DestinationCountries = append(w.DestinationCountries, cc)
		}
		slices.Sort(w.SourceCountries)
		slices.Sort(w.DestinationCountries)
		m.want[key] = w
		decide(at(12, 0, 0), "9999", ipUS, gb, 1) // unknown account
	}
	if biz != 22 {
		t.Fatalf("%d business days, want 22", biz)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := eng.Close(cctx); err != nil {
		t.Fatal(err)
	}
	got, err := db.DailyStats(ctx, "100", "office.example", "2026-01-01", "2026-12-31")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(m.want) {
		t.Fatalf("%d daily rows, want %d (one per day of 2-31 March)", len(got), len(m.want))
	}
	for _, g := range got {
		if w := m.want[g.Date]; fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("day %s:\n got %+v\nwant %+v", g.Date, g, w)
		}
	}
	if other, err := db.DailyStats(ctx, "9999", "office.example", "2026-01-01", "2026-12-31"); err != nil || len(other) != 0 {
		t.Errorf("unknown account: %d daily rows (%v), want none", len(other), err)
	}
	m.days = got
	return m
}

func (m *month) train(today string, o learning.Options) learning.Trained {
	return learning.Train(m.days, today, m.sched, o)
}

// A month of decisions gives one exact row per local day, on both SQL
// dialects: calls around local midnight count on the local date (Sunday's
// 00:00:30 is Saturday in UTC), and after the DST change 09:10 CEST is in
// hours and 00:30 CEST is Monday.
func TestMonthOfDecisionsDailyRows(t *testing.T) {
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			m := feedMonth(t, dialect)
			for _, date := range []string{"2026-03-29", "2026-03-30"} {
				if _, ok := m.want[date]; !ok {
					t.Fatalf("no expected row for %s", date)
				}
			}
			sun := m.dayOf("2026-03-29")
			if sun.ApprovedOff != 1 || sun.Approved != 0 {
				t.Errorf("Sunday 29 March (DST change): %+v, want 1 approved off hours", sun)
			}
			mon := m.dayOf("2026-03-30")
			if mon.Approved != 6 && mon.Approved != 4 || mon.ApprovedOff != 1 || mon.Verified != 1 || mon.Rejected != 1 {
				t.Errorf("Monday 30 March (first day of CEST): %+v", mon)
			}
		})
	}
}

func (m *month) dayOf(date string) tfps.DayStats {
	for _, d := range m.days {
		if d.Date == date {
			return d
		}
	}
	return tfps.DayStats{}
}

// The trained values against a hand computation. Business days (22): in
// hours 4 or 6 approved calls, alternately: mean 5, sd 1, so 7; peaks 2 or
// 4: mean 3, sd 1, so 5; off hours 1 call at 1: mean 1, sd 0, so 1.
// Weekends (8 days): 3 calls on Saturdays, 1 on Sundays: mean 2, sd 1, so
// 4; peaks 2 and 1: mean 1.5, sd 0.5, so 2.5, rounded up to 3.
func TestTrainedValuesByHand(t *testing.T) {
	m := feedMonth(t, store.SQLite)
	tr := m.train("2026-04-01", learning.Options{MinDays: 14, UsualDays: 5, FloorConcurrent: 1, FloorQuota: 1})
	if !tr.Trained || tr.Days != 30 || tr.From != "2026-03-02" || tr.To != "2026-03-31" {
		t.Fatalf("trained %v over %d days %s..%s; want 30 days 2026-03-02..2026-03-31", tr.Trained, tr.Days, tr.From, tr.To)
	}
	b, w := tr.BusinessDays, tr.OtherDays
	check := func(name string, s learning.Series, mean, sd float64, value int) {
		t.Helper()
		if math.Abs(s.Mean-mean) > 1e-9 || math.Abs(s.SD-sd) > 1e-9 || s.Value != value {
			t.Errorf("%s: mean %v sd %v value %d; want mean %v sd %v value %d", name, s.Mean, s.SD, s.Value, mean, sd, value)
		}
	}
	if b.Days != 22 || w.Days != 8 {
		t.Errorf("%d business days and %d others, want 22 and 8", b.Days, w.Days)
	}
	check("business calls", b.Calls, 5, 1, 7)
	check("business peak", b.Peak, 3, 1, 5)
	check("business calls off hours", b.CallsOff, 1, 0, 1)
	check("business peak off hours", b.PeakOff, 1, 0, 1)
	check("weekend calls in hours", w.Calls, 0, 0, 0)
	check("weekend calls off hours", w.CallsOff, 2, 1, 4)
	check("weekend peak off hours", w.PeakOff, 1.5, 0.5, 3)
	want := learning.Limits{ConcurrentCalls: 5, ConcurrentCallsOff: 3, DailyQuota: 7, DailyQuotaOff: 4}
	if tr.Suggested == nil || *tr.Suggested != want {
		t.Errorf("suggested %+v, want %+v", tr.Suggested, want)
	}
	if !slices.Equal(tr.UsualSources, []string{"GB", "US"}) || !slices.Equal(tr.UsualDestinations, []string{"GB"}) {
		t.Errorf("usual sources %v, destinations %v; want [GB US] (GB on 5 days) and [GB] (ES on 3 days only)", tr.UsualSources, tr.UsualDestinations)
	}

	// Floors and ceilings bound the suggestion.
	tr = m.train("2026-04-01", learning.Options{FloorConcurrent: 4, FloorQuota: 10, MaxConcurrent: 4})
	want = learning.Limits{ConcurrentCalls: 4, ConcurrentCallsOff: 4, DailyQuota: 10, DailyQuotaOff: 10}
	if tr.Suggested == nil || *tr.Suggested != want {
		t.Errorf("with floors 4/10 and ceiling 4: %+v, want %+v", tr.Suggested, want)
	}

	// Without a business-hours distinction every day is one class: the
	// weekends' zero in-hours calls pull the mean down and widen the sd.
	flat := learning.Train(m.days, "2026-04-01", nil, learning.Options{FloorConcurrent: 1, FloorQuota: 1})
	if flat.OtherDays.Days != 0 || flat.BusinessDays.Days != 30 || flat.Suggested.DailyQuota == 7 {
		t.Errorf("one class: %+v", flat)
	}
}

// Nothing is trained before TFPS_LEARNING_MIN_DAYS days of history, and
// today (not over) never counts.
func TestMinimumHistory(t *testing.T) {
	m := feedMonth(t, store.SQLite)
	for _, tc := range []struct {
		today   string
		days    int
		trained bool
	}{
		{"2026-03-02", 0, false},
		{"2026-03-15", 13, false},
		{"2026-03-16", 14, true},
	} {
		tr := m.train(tc.today, learning.Options{MinDays: 14})
		if tr.Days != tc.days || tr.Trained != tc.trained || (tr.Suggested != nil) != tc.trained {
			t.Errorf("today %s: %d days, trained %v (%+v); want %d days, trained %v", tc.today, tr.Days, tr.Trained, tr.Suggested, tc.days, tc.trained)
		}
	}
	// History older than TFPS_HISTORY_DAYS is not used.
	tr := m.train("2026-04-01", learning.Options{HistoryDays: 7, MinDays: 7})
	if tr.Days != 7 || tr.From != "2026-03-25" {
		t.Errorf("7 days of history: %d days from %s, want 7 from 2026-03-25", tr.Days, tr.From)
	}
}

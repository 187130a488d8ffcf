// Package learning trains an account's limits from its daily history, as
// TFPS did from its 90 days of accounting: for each limit, the mean plus two
// standard deviations of the daily figure, rounded up. Business days and
// the other days (weekends, holidays: days the business-hours rule does not
// open) are trained apart, since an office calls on Tuesday what it never
// calls on Sunday.
//
// Train is pure: it takes the days the store kept, the account's local
// date today and its schedule, and returns what it learned. Days within
// the history that have no row are days without calls and count as zero;
// today is never used (it is not over).
package learning

import (
	"math"
	"slices"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/bizhours"
	"github.com/voipshield/tfps/config"
)

// Options bound training; zero values take the defaults of the
// TFPS_HISTORY_DAYS, TFPS_LEARNING_* keys.
type Options struct {
	HistoryDays     int // days before today that are looked at; default 90
	MinDays         int // days of history needed before anything is trained; default 14
	UsualDays       int // distinct days a country must be seen on to be usual; default 5
	FloorConcurrent int // suggested concurrent-call limits are at least this
	FloorQuota      int // suggested quotas are at least this
	MaxConcurrent   int // and at most this (TFPS_MAX_CONCURRENT); 0: no ceiling
	MaxQuota        int // (TFPS_MAX_QUOTA); 0: no ceiling
}

func (o *Options) defaults() {
	if o.HistoryDays <= 0 {
		o.HistoryDays = 90
	}
	if o.MinDays <= 0 {
		o.MinDays = 14
	}
	if o.UsualDays <= 0 {
		o.UsualDays = 5
	}
}

// Series is one trained figure: the mean and the population standard
// deviation of a daily value over the days of a class, and Value, the
// mean plus two standard deviations rounded up.
type Series struct {
	Mean  float64 `json:"mean"`
	SD    float64 `json:"sd"`
	Value int     `json:"value"`
}

// Class is what was trained from one class of days.
type Class struct {
	Days     int    `json:"days"`
	Calls    Series `json:"calls"`     // approved calls in business hours
	CallsOff Series `json:"calls_off"` // approved calls off hours
	Peak     Series `json:"peak"`      // peak concurrent calls in business hours
	PeakOff  Series `json:"peak_off"`  // peak concurrent calls off hours
}

// Limits are an account's four limits.
type Limits struct {
	ConcurrentCalls    int `json:"concurrent_calls"`
	ConcurrentCallsOff int `json:"concurrent_calls_off"`
	DailyQuota         int `json:"daily_quota"`
	DailyQuotaOff      int `json:"daily_quota_off"`
}

// Of returns a's limits.
func Of(a *tfps.Account) Limits {
	return Limits{a.ConcurrentCalls, a.ConcurrentCallsOff, a.DailyQuota, a.DailyQuotaOff}
}

// Trained is what an account's history teaches.
type Trained struct {
	// From and To are the first and last day of history used (To is
	// yesterday); Days counts them, zero-call days included.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	Days int    `json:"days"`
	// Trained is false until Days reaches MinDays: then Suggested is nil.
	Trained      bool  `json:"trained"`
	MinDays      int   `json:"min_days"`
	BusinessDays Class `json:"business_days"`
	OtherDays    Class `json:"other_days"` // weekends and holidays
	// Suggested are the trained limits: in-hours limits from business
	// days, off-hours limits from the larger of both classes' off-hours
	// figures; within the floors and ceilings.
	Suggested *Limits `json:"suggested,omitempty"`
	// Countries seen on approved calls on at least UsualDays distinct
	// days: shown as usual, never allowed by themselves.
	UsualSources      []string `json:"usual_source_countries"`
	UsualDestinations []string `json:"usual_destination_countries"`
}

const dateLayout = "2006-01-02"

// Window returns the dates the history of an account whose local date is
// today may use: from HistoryDays before today to yesterday.
func Window(today string, historyDays int) (from, to string, err error) {
	t, err := time.Parse(dateLayout, today)
	if err != nil {
		return "", "", err
	}
	if historyDays <= 0 {
		historyDays = 90
	}
	return t.AddDate(0, 0, -historyDays).Format(dateLayout), t.AddDate(0, 0, -1).Format(dateLayout), nil
}

// Train learns from days (any order; days outside the window are
// ignored). sched says which dates are business days; nil: every day is.
// A today that is not a date trains nothing.
func Train(days []tfps.DayStats, today string, sched *bizhours.Schedule, o Options) Trained {
	o.defaults()
	t := Trained{MinDays: o.MinDays, UsualSources: []string{}, UsualDestinations: []string{}}
	from, to, err := Window(today, o.HistoryDays)
	if err != nil {
		return t
	}
	byDate := map[string]*tfps.DayStats{}
	first := ""
	for i := range days {
		d := &days[i]
		if d.Date < from || d.Date > to {
			continue
		}
		byDate[d.Date] = d
		if first == "" || d.Date < first {
			first = d.Date
		}
	}
	if first == "" {
		return t
	}
	t.From, t.To = first, to
	var biz, other [4][]float64
	src, dst := map[string]int{}, map[string]int{}
	start, _ := time.Parse(dateLayout, first)
	end, _ := time.Parse(dateLayout, to)
	for day := start; !day.After(end); day = day.AddDate(0, 0, 1) {
		date := day.Format(dateLayout)
		t.Days++
		var v tfps.DayStats
		if d := byDate[date]; d != nil {
			v = *d
		}
		class := &biz
		if sched != nil && !sched.BusinessDay(date) {
			class = &other
		}
		for i, x := range [4]int{v.Approved, v.ApprovedOff, v.Peak, v.PeakOff} {
			class[i] = append(class[i], float64(x))
		}
		for _, cc := range v.SourceCountries {
			src[cc]++
		}
		for _, cc := range v.DestinationCountries {
			dst[cc]++
		}
	}
	t.BusinessDays, t.OtherDays = classOf(biz), classOf(other)
	t.UsualSources, t.UsualDestinations = usual(src, o.UsualDays), usual(dst, o.UsualDays)
	if t.Days < o.MinDays {
		return t
	}
	t.Trained = true
	b, w := t.BusinessDays, t.OtherDays
	t.Suggested = &Limits{
		ConcurrentCalls:    clamp(b.Peak.Value, o.FloorConcurrent, o.MaxConcurrent),
		ConcurrentCallsOff: clamp(max(b.PeakOff.Value, w.PeakOff.Value, w.Peak.Value), o.FloorConcurrent, o.MaxConcurrent),
		DailyQuota:         clamp(b.Calls.Value, o.FloorQuota, o.MaxQuota),
		DailyQuotaOff:      clamp(max(b.CallsOff.Value, w.CallsOff.Value, w.Calls.Value), o.FloorQuota, o.MaxQuota),
	}
	return t
}

func classOf(v [4][]float64) Class {
	return Class{Days: len(v[0]), Calls: series(v[0]), CallsOff: series(v[1]), Peak: series(v[2]), PeakOff: series(v[3])}
}

// series is mean + 2 sd (population) of xs, rounded up; zero for no days.
func series(xs []float64) Series {
	if len(xs) == 0 {
		return Series{}
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	var sq float64
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(sq / float64(len(xs)))
	// Rounded to 1e-9 first: 2.0000000001 from float noise is 2, not 3.
	return Series{Mean: mean, SD: sd, Value: int(math.Ceil(math.Round((mean+2*sd)*1e9) / 1e9))}
}

func clamp(v, lo, hi int) int {
	v = max(v, lo)
	if hi > 0 {
		v = min(v, hi)
	}
	return v
}

func usual(seen map[string]int, minDays int) []string {
	out := []string{}
	for cc, n := range seen {
		if n >= minDays {
			out = append(out, cc)
		}
	}
	slices.Sort(out)
	return out
}

// Differs reports whether any limit of cur differs from the trained value
// in sug by more than percent of the trained value.
func Differs(cur, sug Limits, percent int) bool {
	pairs := [4][2]int{{cur.ConcurrentCalls, sug.ConcurrentCalls}, {cur.ConcurrentCallsOff, sug.ConcurrentCallsOff}, {cur.DailyQuota, sug.DailyQuota}, {cur.DailyQuotaOff, sug.DailyQuotaOff}}
	for _, p := range pairs {
		diff := p[0] - p[1]
		if diff < 0 {
			diff = -diff
		}
		if diff*100 > p[1]*percent {
			return true
		}
	}
	return false
}

// OptionsFrom returns the training options the configuration sets.
func OptionsFrom(c *config.Config) Options {
	return Options{
		HistoryDays: c.Learning.HistoryDays, MinDays: c.Learning.MinDays, UsualDays: c.Learning.UsualDays,
		FloorConcurrent: c.Learning.FloorConcurrent, FloorQuota: c.Learning.FloorQuota,
		MaxConcurrent: c.MaxConcurrent, MaxQuota: c.Engine.MaxQuota,
	}
}

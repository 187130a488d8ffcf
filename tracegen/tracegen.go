// Package tracegen makes a synthetic month of call attempts, deterministic
// for a seed, in the replay input format (JSON lines): ordinary business
// customers in several countries and time zones, and attack scenarios
// mixed into the same stream. It exists to measure the policy on a month
// that looks like real traffic (honest calls refused or sent to voice
// verification, attack calls let through) and to compare settings side by
// side; nothing in it is hand-written rows.
//
// Each record carries the POST /v1/check fields, the call's local time, what
// a simulated caller does if the call is sent to the IVR (pass for honest
// customers; fail, silent or hangup for attackers), the label (legit or
// attack) and the scenario name.
package tracegen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Record is one call attempt of the trace.
type Record struct {
	Time            time.Time `json:"time"` // RFC 3339 with the caller's UTC offset
	User            string    `json:"user"`
	Domain          string    `json:"domain"`
	SourceIP        string    `json:"source_ip"`
	UserAgent       string    `json:"user_agent"`
	ConcurrentCalls int       `json:"concurrent_calls"`
	Number          string    `json:"number"`
	Caller          string    `json:"caller"`
	CallID          string    `json:"call_id"`
	IVR             string    `json:"ivr"`   // pass, fail, silent or hangup
	Label           string    `json:"label"` // legit or attack
	Scenario        string    `json:"scenario"`

	end time.Time // when the call hangs up, for concurrent_calls
}

// Labels and IVR behaviours.
const (
	Legit  = "legit"
	Attack = "attack"

	IVRPass   = "pass"
	IVRFail   = "fail"
	IVRSilent = "silent"
	IVRHangup = "hangup"
)

// Options choose the month.
type Options struct {
	Seed  uint64
	Start time.Time // the first day (its date in UTC); default Monday 2 March 2026
	Days  int       // default 30
}

// DefaultStart is a month that crosses both DST changes of 2026 (8 March in
// North America, 29 March in Europe).
var DefaultStart = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// Month returns the trace, in time order.
func Month(o Options) []Record {
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.Days <= 0 {
		o.Days = 30
	}
	g := &gen{o: o, rnd: rand.New(rand.NewPCG(o.Seed, 0x7f95))}
	for _, c := range customers() {
		g.customer(c)
	}
	g.attacks()
	slices.SortStableFunc(g.out, func(a, b Record) int { return a.Time.Compare(b.Time) })
	concurrency(g.out)
	for i := range g.out {
		g.out[i].CallID = fmt.Sprintf("m%06d-%s", i+1, g.out[i].Scenario)
	}
	return g.out
}

// Write writes records as JSON lines.
func Write(w io.Writer, recs []Record) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return fmt.Errorf("write record %d: %w", i+1, err)
		}
	}
	return bw.Flush()
}

// concurrency sets each record's concurrent_calls as the PBX would report
// it: the account's calls still up when it starts, this one included.
// Calls that were not connected still occupy the PBX while they ring, so
// every attempt counts for its duration.
func concurrency(recs []Record) {
	up := map[string][]time.Time{} // account -> end times of calls in progress
	for i := range recs {
		r := &recs[i]
		k := r.User + "@" + r.Domain
		live := up[k][:0]
		for _, e := range up[k] {
			if e.After(r.Time) {
				live = append(live, e)
			}
		}
		r.ConcurrentCalls = len(live) + 1
		up[k] = append(live, r.end)
	}
}

type gen struct {
	o   Options
	rnd *rand.Rand
	out []Record
}

func (g *gen) add(r Record, dur time.Duration) {
	r.Number, r.Caller = dialled(r.Number), dialled(r.Caller)
	r.Time = r.Time.Truncate(time.Second)
	r.end = r.Time.Add(dur)
	g.out = append(g.out, r)
}

// dialled is a number as a PBX sends it (SIP Request-URI user, POST
// /v1/check): the templates are written as people write numbers, "(212)
// 555-0100" or "+34 910 000 101"; spaces, brackets and dashes go, a
// leading + and the digits stay.
func dialled(n string) string {
	var b strings.Builder
	for i, c := range n {
		if (c >= '0' && c <= '9') || (c == '+' && i == 0) {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// digits returns n random digits.
func (g *gen) digits(n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(byte('0' + g.rnd.IntN(10)))
	}
	return b.String()
}

// number fills a template: each 'X' a random digit, each 'N' a digit 2-9.
func (g *gen) number(tmpl string) string {
	var b strings.Builder
	for _, c := range tmpl {
		switch c {
		case 'X':
			b.WriteByte(byte('0' + g.rnd.IntN(10)))
		case 'N':
			b.WriteByte(byte('2' + g.rnd.IntN(8)))
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func (g *gen) pick(list []string) string { return list[g.rnd.IntN(len(list))] }

// day returns the start of day d of the month in loc.
func (g *gen) day(d int, loc *time.Location) time.Time {
	s := g.o.Start
	return time.Date(s.Year(), s.Month(), s.Day()+d, 0, 0, 0, 0, loc)
}

func (g *gen) dur(mean time.Duration) time.Duration {
	return time.Duration(g.rnd.ExpFloat64()*float64(mean)) + 20*time.Second
}

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// itoa keeps strconv in one place for the scenario files.
func itoa(n int) string { return strconv.Itoa(n) }

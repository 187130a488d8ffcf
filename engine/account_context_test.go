package engine_test

import (
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/store"
)

// Business hours follow the account's own zone: the operator's 09:00-17:00
// (written for New York) is 09:00-17:00 in Madrid for a Madrid account,
// across Europe's DST change (29 March 2026), and its daily counter turns
// at Madrid's midnight.
func TestBusinessHoursInTheAccountsZone(t *testing.T) {
	madrid := mustLoc("Europe/Madrid")
	for _, tc := range []struct {
		name     string
		edit     func(a *tfps.Account)
		at       time.Time
		offHours bool
		date     string
	}{
		{"zone set, Friday 09:30 CET", func(a *tfps.Account) { a.Timezone = "Europe/Madrid" }, time.Date(2026, 3, 27, 9, 30, 0, 0, madrid), false, "2026-03-27"},
		{"zone set, Friday 08:30 CET", func(a *tfps.Account) { a.Timezone = "Europe/Madrid" }, time.Date(2026, 3, 27, 8, 30, 0, 0, madrid), true, "2026-03-27"},
		{"zone set, Monday 09:30 CEST", func(a *tfps.Account) { a.Timezone = "Europe/Madrid" }, time.Date(2026, 3, 30, 9, 30, 0, 0, madrid), false, "2026-03-30"},
		{"zone set, Monday 17:30 CEST", func(a *tfps.Account) { a.Timezone = "Europe/Madrid" }, time.Date(2026, 3, 30, 17, 30, 0, 0, madrid), true, "2026-03-30"},
		{"zone set, Monday 00:30 CEST is Monday", func(a *tfps.Account) { a.Timezone = "Europe/Madrid" }, time.Date(2026, 3, 30, 0, 30, 0, 0, madrid), true, "2026-03-30"},
		{"zone from the home country", func(a *tfps.Account) { a.HomeCountry = "ES" }, time.Date(2026, 3, 30, 9, 30, 0, 0, madrid), false, "2026-03-30"},
		{"own rule, Saturday mornings too", func(a *tfps.Account) {
			a.Timezone, a.BusinessHours = "Europe/Madrid", "20210104T080000|21000104T140000||WEEKLY|||MO,TU,WE,TH,FR,SA"
		}, time.Date(2026, 3, 28, 10, 0, 0, 0, madrid), false, "2026-03-28"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, store.SQLite, baseOptions(t))
			r.account(t, "1001", func(a *tfps.Account) {
				a.HomeCountry = ""
				a.ConcurrentCalls, a.ConcurrentCallsOff = 5, 5
				tc.edit(a)
			})
			d := r.decide(t, call(func(c *engine.Call) { c.Time = tc.at }))
			if d.Code != engine.A00 || d.Facts.OffHours != tc.offHours || d.Facts.LocalDate != tc.date {
				t.Errorf("at %s: %s (%s), off hours %v, date %s; want A00, off hours %v, date %s", tc.at, d.Code, d.Reason, d.Facts.OffHours, d.Facts.LocalDate, tc.offHours, tc.date)
			}
		})
	}
}

// A passed limit verification is remembered for what it proved: the same
// account, the same source country, the same kind of limit, up to the
// proved level, until the grace ends.
func TestVerifiedGrace(t *testing.T) {
	until := inHours.Add(12 * time.Hour)
	r := newRig(t, store.SQLite, baseOptions(t))
	r.account(t, "1001", func(a *tfps.Account) {
		a.ConcurrentCalls, a.ConcurrentCallsOff, a.DailyQuota, a.DailyQuotaOff = 2, 1, 100, 2
		a.SourceCountries = []string{"US", "GB"}
		a.Verified = []tfps.VerifiedLimit{
			{Kind: tfps.LimitConcurrent, SourceCountry: "US", Level: 6, Until: until},
			{Kind: tfps.LimitQuota, SourceCountry: "US", Level: 4, Until: until},
		}
	})
	cases := []struct {
		name string
		edit func(c *engine.Call)
		want engine.Code
	}{
		{"6 calls, proved 6, same source country", func(c *engine.Call) { c.ConcurrentCalls = 6 }, engine.A00},
		{"7 calls: past the proved level", func(c *engine.Call) { c.ConcurrentCalls = 7 }, engine.V08},
		{"off hours: the same kind of limit", func(c *engine.Call) { c.ConcurrentCalls = 5; c.Time = offHours }, engine.A00},
		{"from another source country", func(c *engine.Call) { c.ConcurrentCalls = 3; c.SourceIP = ipGB }, engine.V08},
		{"after the grace (off hours then)", func(c *engine.Call) { c.ConcurrentCalls = 3; c.Time = until }, engine.V09},
	}
	for i, tc := range cases {
		d := r.decide(t, call(tc.edit, func(c *engine.Call) { c.Caller = "g" + string(rune('a'+i)) }))
		if d.Code != tc.want {
			t.Errorf("%s: %s (%s), want %s", tc.name, d.Code, d.Reason, tc.want)
		}
	}
	// The off-hours quota is 2, the proved day 4: with the off-hours call
	// above, three more pass (the 3rd and 4th over the quota), the next asks.
	for i := range 4 {
		want := engine.A00
		if i == 3 {
			want = engine.V05
		}
		d := r.decide(t, call(func(c *engine.Call) {
			c.Time = offHours.Add(time.Duration(i+1) * time.Minute)
			c.Caller = "q" + string(rune('a'+i))
		}))
		if d.Code != want {
			t.Errorf("off-hours call %d: %s (%s), want %s", i+1, d.Code, d.Reason, want)
		}
	}
}

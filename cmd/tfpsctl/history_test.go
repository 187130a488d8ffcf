package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/pin"
	"github.com/voipshield/tfps/store"
)

// testClock is the gateway's clock, moved by the test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Two weeks of checks through POST /v1/check on the gateway's clock, then
// tfpsctl history and show print the days and the trained limits.
func TestHistoryCommand(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	m := gatewaytest.MustStart(t, gatewaytest.Vars(t, store.SQLite, map[string]string{"TFPS_API_TOKEN": token}), func(m *gateway.Main) { m.Now = clock.now })
	c := ctl{t: t, env: map[string]string{"TFPS_API_URL": "http://" + m.HTTPAddr(), "TFPS_API_TOKEN": token}}
	c.ok("add", "2001", "pbx.example", "--cc", "10", "--cc-off", "10", "--quota", "100", "--quota-off", "100",
		"--source", "US", "--destination", "GB", "--timezone", "UTC", "--home", "US")
	cl, err := api.NewClient("http://"+m.HTTPAddr(), token, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(at time.Time, calls int) {
		t.Helper()
		clock.set(at)
		res, err := cl.Check(context.Background(), &api.CheckRequest{User: "2001", Domain: "pbx.example", SourceIP: "8.8.8.8", Number: "+442079460000", Caller: "+12125550100", ConcurrentCalls: &calls, CallID: at.String()})
		if err != nil || res.Code != "A00" {
			t.Fatalf("check at %s: %+v %v", at, res, err)
		}
	}
	// 2-15 March 2026: business days 2 calls (1 and 3 concurrent), weekends 1.
	for d := 2; d <= 15; d++ {
		day := time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			check(day.Add(11*time.Hour), 1)
			continue
		}
		check(day.Add(10*time.Hour), 1)
		check(day.Add(10*time.Hour+10*time.Minute), 3)
	}
	clock.set(time.Date(2026, 3, 15, 23, 0, 0, 0, time.UTC))
	waitFor(t, func() bool {
		var h api.History
		json.Unmarshal([]byte(c.ok("--json", "history", "2001", "pbx.example", "--days", "1")), &h)
		return len(h.Days) == 1 && h.Days[0].ApprovedOff == 1
	})
	// On the 15th the 14th day is not over: nothing trained yet.
	out := c.ok("history", "2001", "pbx.example")
	if !strings.Contains(out, "not yet: 13 of 14 days") {
		t.Errorf("history on day 14:\n%s", out)
	}
	clock.set(time.Date(2026, 3, 16, 0, 0, 1, 0, time.UTC))
	var h api.History
	if err := json.Unmarshal([]byte(c.ok("--json", "history", "2001", "pbx.example", "--days", "3")), &h); err != nil {
		t.Fatal(err)
	}
	if h.Today != "2026-03-16" || len(h.Days) != 2 || h.Days[0].Date != "2026-03-14" || h.Days[1].Approved != 0 || h.Days[1].ApprovedOff != 1 {
		t.Errorf("last 3 days: today %s, %+v", h.Today, h.Days)
	}
	tr := h.Trained
	if tr == nil || !tr.Trained || tr.BusinessDays.Days != 10 || tr.OtherDays.Days != 4 || tr.BusinessDays.Peak.Value != 3 || tr.BusinessDays.Calls.Value != 2 {
		t.Fatalf("trained: %+v", tr)
	}
	// Floors (TFPS_LEARNING_FLOOR_*: 2 and 10) lift what the office used.
	if s := tr.Suggested; s.ConcurrentCalls != 3 || s.ConcurrentCallsOff != 2 || s.DailyQuota != 10 || s.DailyQuotaOff != 10 || !h.Differs {
		t.Errorf("suggested %+v, differs %v", s, h.Differs)
	}
	out = c.ok("history", "2001", "pbx.example", "--days", "3")
	for _, want := range []string{"2026-03-14", "learning", "suggest", "concurrent calls", "10 now, 3 trained", "usual destinations      GB"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}
	if out := c.ok("show", "2001", "pbx.example"); !strings.Contains(out, "10 now, 3 trained") {
		t.Errorf("show lacks the trained values:\n%s", out)
	}
	// suggest never changes the limits.
	var a api.Account
	json.Unmarshal([]byte(c.ok("--json", "show", "2001", "pbx.example")), &a)
	if a.ConcurrentCalls != 10 || a.DailyQuota != 100 {
		t.Errorf("suggest changed the limits: %+v", a)
	}
	c.fail(exitError, "days", "history", "2001", "pbx.example", "--days", "9999")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tfpsctl pin set reads the PIN from standard input, never argv; the PIN
// check then accepts it and refuses TFPS_PIN for that account; pin clear
// gives TFPS_PIN back. The PIN is never shown.
func TestPINCommand(t *testing.T) {
	m := gatewaytest.MustStart(t, gatewaytest.Vars(t, store.SQLite, map[string]string{"TFPS_API_TOKEN": token, "TFPS_VERIFICATION_METHOD": "PIN", "TFPS_PIN": "1234"}))
	c := ctl{t: t, env: map[string]string{"TFPS_API_URL": "http://" + m.HTTPAddr(), "TFPS_API_TOKEN": token}}
	c.ok("add", "3001", "pbx.example")
	checker := pin.Checker{Global: m.Config.PIN}
	stored := func() bool {
		a, err := m.Store.GetAccount(context.Background(), "3001", "pbx.example")
		if err != nil {
			t.Fatal(err)
		}
		return checker.Check(a, "4821") && !checker.Check(a, "1234")
	}
	if stored() {
		t.Fatal("the new PIN opens before it is set")
	}
	c.fail(exitUsage, "--pin-stdin", "pin", "set", "3001", "pbx.example") // stdin is no terminal
	c.stdin = "12a4\n"
	c.fail(exitError, "pin", "pin", "set", "3001", "pbx.example", "--pin-stdin")
	c.stdin = "4821\n"
	out := c.ok("--json", "pin", "set", "3001", "pbx.example", "--pin-stdin")
	if strings.Contains(out, "4821") || strings.Contains(out, "pbkdf2") || !strings.Contains(out, `"has_pin": true`) {
		t.Errorf("pin set answered:\n%s", out)
	}
	if !stored() {
		t.Error("after pin set: the account's PIN does not open, or TFPS_PIN still does")
	}
	if out := c.ok("show", "3001", "pbx.example"); !strings.Contains(out, "own PIN") || strings.Contains(out, "4821") {
		t.Errorf("show:\n%s", out)
	}
	c.ok("pin", "clear", "3001", "pbx.example")
	a, _ := m.Store.GetAccount(context.Background(), "3001", "pbx.example")
	if !checker.Check(a, "1234") || checker.Check(a, "4821") {
		t.Error("after pin clear: TFPS_PIN should open again, the old PIN not")
	}
}

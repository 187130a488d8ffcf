package gateway_test

import (
	"context"
	"mime"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/notify/smtptest"
	"github.com/voipshield/tfps/store"
)

// ruleAccount creates user in profile p, in New York time, with limits and
// bursts that stay out of the rules' way.
func ruleAccount(t *testing.T, c *api.Client, user, p string) {
	t.Helper()
	zone, big, cc := "America/New_York", 100000, 10
	newAccount(t, c, user, func(in *api.AccountInput) {
		in.Profile, in.Timezone = &p, &zone
		in.DailyQuota, in.DailyQuotaOff, in.ConcurrentCalls, in.ConcurrentCallsOff = &big, &big, &cc, &cc
	})
}

func putRules(t *testing.T, c *api.Client, rules ...tfps.Rule) {
	t.Helper()
	if _, err := c.PutRules(context.Background(), rules); err != nil {
		t.Fatal(err)
	}
}

// callTo is a request of user to number with a fresh call_id and caller
// (the A->B burst check stays out of the way).
func callTo(user, number string) *api.CheckRequest {
	return checkReq(user, func(r *api.CheckRequest) {
		r.Number = number
		r.Caller = "+1212555" + strconv.FormatInt(seq.Add(1)%10000+10000, 10)[1:]
	})
}

// TestRulesThroughCheck drives the fraud rules through POST /v1/check of a
// running gateway on real Redis, SQL and the API's own rule routes.
func TestRulesThroughCheck(t *testing.T) {
	env := newTestEnv(t, store.SQLite, map[string]string{"TFPS_AB_REPEAT_LIMIT": "1000", "TFPS_RANGE_DISTINCT_LIMIT": "0"})
	clock := newTestClock(inHours) // Monday 10:00 New York
	m := env.start(t, withClock(clock))
	c := env.client(t, m)
	ctx := context.Background()

	t.Run("critical rejects with the rule in the answer; a retried POST counts once", func(t *testing.T) {
		ruleAccount(t, c, "crit", "crit")
		putRules(t, c, tfps.Rule{ID: 100, Profile: "crit", TotalCritical: 2})
		clock.set(inHours)
		first := callTo("crit", "+12015550123")
		if res := mustCheck(t, c, first); res.Code != "A00" || res.Rule != nil {
			t.Fatalf("first call: %+v", res)
		}
		clock.add(time.Second)
		if res := mustCheck(t, c, first); res.Code != "A00" || !res.Replayed {
			t.Fatalf("retried POST: %+v", res)
		}
		st, err := c.AccountStats(ctx, "crit", "pbx.example")
		if err != nil {
			t.Fatal(err)
		}
		if st.Stats.Total != 1 || st.Stats.CPM != 1 || st.Stats.Concurrent != 1 || st.Rule == nil || st.Rule.TotalCritical != 2 {
			t.Fatalf("stats after a retried POST: %+v rule %+v, want 1 call counted under rule 100", st.Stats, st.Rule)
		}
		res := mustCheck(t, c, callTo("crit", "+12015550124"))
		if res.Code != "R20" || res.Rule == nil || *res.Rule != (engine.RuleTrip{ID: 100, Stat: "total", Value: 2, Threshold: 2, Level: "critical"}) {
			t.Fatalf("second call: %+v rule %+v", res, res.Rule)
		}
		if !strings.Contains(res.Reason, "rule 100") || !strings.Contains(res.Reason, "total 2") {
			t.Errorf("reason %q does not name the rule, stat and value", res.Reason)
		}
	})

	t.Run("a rule change through the API applies at once, and on another gateway", func(t *testing.T) {
		ruleAccount(t, c, "chg", "chg")
		putRules(t, c, tfps.Rule{ID: 200, Profile: "chg", CPMCritical: 100})
		other := env.start(t, withClock(clock))
		oc := env.client(t, other)
		clock.set(inHours.Add(time.Hour))
		if res := mustCheck(t, oc, callTo("chg", "+12015550123")); res.Code != "A00" {
			t.Fatalf("before the change: %+v", res)
		}
		putRules(t, c, tfps.Rule{ID: 200, Profile: "chg", CPMCritical: 2}) // same id: replaced
		deadline := time.Now().Add(10 * time.Second)
		for {
			res := mustCheck(t, oc, callTo("chg", "+12015550123"))
			if res.Code == "R20" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the other gateway never applied the changed rule: %+v", res)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := c.RemoveRule(ctx, 200); err != nil {
			t.Fatal(err)
		}
		if res := mustCheck(t, c, callTo("chg", "+12015550123")); res.Code != "A00" {
			t.Fatalf("after removing the rule: %+v", res)
		}
	})

	t.Run("a window crossing midnight, days, and a new window", func(t *testing.T) {
		ruleAccount(t, c, "night", "night")
		putRules(t, c, tfps.Rule{ID: 300, Profile: "night", Start: "22:00", End: "06:00", Days: "Mon-Fri", TotalCritical: 2})
		ny, _ := time.LoadLocation("America/New_York")
		at := func(day, h, m int) { clock.set(time.Date(2026, 11, day, h, m, 0, 0, ny)) }
		steps := []struct {
			day, h, m int
			code      string
		}{
			{23, 21, 59, "A00"}, // Monday before the window
			{23, 23, 30, "A00"}, // Monday night: 1
			{24, 5, 0, "R20"},   // Tuesday 05:00, still Monday's night: 2
			{24, 22, 0, "A00"},  // Tuesday night: a new window
			{28, 23, 0, "A00"},  // Saturday night: not a rule day; no rule
			{29, 1, 0, "A00"},   // Sunday 01:00, Saturday's night: no rule
		}
		for i, s := range steps {
			at(s.day, s.h, s.m)
			if res := mustCheck(t, c, callTo("night", "+12015550123")); res.Code != s.code {
				t.Fatalf("step %d (%s): %s %s, want %s", i, clock.now().In(ny).Format("Mon 15:04"), res.Code, res.Reason, s.code)
			}
		}
	})

	t.Run("call end: concurrent drops, duration trips, idempotent, unknown is 404", func(t *testing.T) {
		ruleAccount(t, c, "ends", "ends")
		putRules(t, c, tfps.Rule{ID: 400, Profile: "ends", ConcurrentCritical: 2, DurationWarning: 60})
		clock.set(inHours)
		a := callTo("ends", "+12015550123")
		if res := mustCheck(t, c, a); res.Code != "A00" {
			t.Fatalf("first call: %+v", res)
		}
		if res := mustCheck(t, c, callTo("ends", "+12015550124")); res.Code != "R20" {
			t.Fatalf("second call while the first is in progress: %+v", res)
		}
		end := &api.CallEndRequest{CallID: a.CallID, User: "ends", Domain: "pbx.example", Duration: 75}
		got, err := c.EndCall(ctx, end)
		if err != nil || got.Ended != "now" || !got.Counted || got.Rule == nil || got.Rule.Stat != "duration" || got.Rule.Value != 75 {
			t.Fatalf("end: %+v %v", got, err)
		}
		if got, err = c.EndCall(ctx, end); err != nil || got.Ended != "already" || got.Rule != nil {
			t.Fatalf("second end: %+v %v", got, err)
		}
		if res := mustCheck(t, c, callTo("ends", "+12015550125")); res.Code != "A00" {
			t.Fatalf("a call after the end: %+v", res)
		}
		_, err = c.EndCall(ctx, &api.CallEndRequest{CallID: "never-seen", User: "ends", Domain: "pbx.example"})
		if tfps.ErrorCode(err) != tfps.ENOTFOUND || !strings.Contains(tfps.ErrorMessage(err), `call "never-seen" of ends@pbx.example is unknown`) {
			t.Fatalf("unknown call: %v", err)
		}
		resp, err := http.Post("http://"+m.HTTPAddr()+"/v1/calls/end", "application/json", strings.NewReader(`{"call_id":"never-seen","user":"ends","domain":"pbx.example"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown call over HTTP: %d, want 404", resp.StatusCode)
		}
		// The form-encoded body a PBX's HTTP function posts (Asterisk
		// CURL(), TestAsteriskGuideReportsCallEnd) needs a token: without
		// one the API takes JSON only, which a browser form can not send.
		resp, err = http.Post("http://"+m.HTTPAddr()+"/v1/calls/end", "application/x-www-form-urlencoded",
			strings.NewReader("call_id=never-seen&user=ends&domain=pbx.example&duration=3"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("form-encoded end on the API without a token: %d, want 403", resp.StatusCode)
		}
	})
}

// TestRuleWarningIsMailed: a warning approves the call and its event, with
// the fields OpenSIPS's events carry, reaches the SMTP relay through the
// outbox.
func TestRuleWarningIsMailed(t *testing.T) {
	relay := smtptest.NewServer(t)
	relay.Start()
	clock := newTestClock(inHours.AddDate(0, 0, -7))
	m := gatewaytest.MustStart(t, gatewaytest.Vars(t, store.SQLite, map[string]string{
		"TFPS_SMTP_HOST":          relay.Host(),
		"TFPS_SMTP_PORT":          strconv.Itoa(relay.Port()),
		"TFPS_SMTP_TLS":           "none",
		"TFPS_SMTP_FROM":          "tfps@example.net",
		"TFPS_NOTIFICATION_EMAIL": "noc@example.com",
		"TFPS_NOTIFY_POLL":        "100ms",
	}), withClock(clock))
	c, err := api.NewClient("http://"+m.HTTPAddr(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ruleAccount(t, c, "warn", "w")
	putRules(t, c, tfps.Rule{ID: 7, Profile: "w", SequentialWarning: 2})
	for i := range 2 {
		res := mustCheck(t, c, callTo("warn", "+12015550777"))
		if res.Code != "A00" || (i == 1) != (res.Rule != nil) {
			t.Fatalf("call %d: %+v rule %+v", i+1, res, res.Rule)
		}
	}
	got := relay.WaitFor(1, 30*time.Second)[0]
	msg, err := mail.ReadMessage(strings.NewReader(string(got.Data)))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, got.Data)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if !strings.Contains(subject, "Fraud rule WARNING") || !strings.Contains(subject, "warn@pbx.example") || !strings.Contains(subject, "sequential 2 (threshold 2)") {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{"Rule:         7", "Statistic:    sequential", "Value:        2", "Threshold:    2", "+12015550777"} {
		if !strings.Contains(string(got.Data), want) {
			t.Errorf("mail lacks %q:\n%s", want, got.Data)
		}
	}
}

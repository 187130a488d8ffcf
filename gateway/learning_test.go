package gateway_test

import (
	"context"
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/notify/smtptest"
	"github.com/voipshield/tfps/store"
)

var madrid = func() *time.Location {
	l, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		panic(err)
	}
	return l
}()

// learningGateway starts a gateway in mode on a clock in Madrid with a
// real SMTP relay, and feeds 2-15 March 2026 (Madrid) through POST
// /v1/check: business days 2 calls (1 and 3 concurrent), weekend days 1.
// The account's limits (10/10 concurrent, 100/100 a day) are far above
// what it uses.
func learningGateway(t *testing.T, mode string) (*gateway.Main, *api.Client, *testClock, *smtptest.Server) {
	t.Helper()
	relay := smtptest.NewServer(t)
	relay.Start()
	clock := newTestClock(time.Date(2026, 3, 2, 8, 0, 0, 0, madrid))
	m := gatewaytest.MustStart(t, gatewaytest.Vars(t, store.SQLite, map[string]string{
		"TFPS_SMTP_HOST":          relay.Host(),
		"TFPS_SMTP_PORT":          strconv.Itoa(relay.Port()),
		"TFPS_SMTP_TLS":           "none",
		"TFPS_SMTP_FROM":          "tfps@example.net",
		"TFPS_NOTIFICATION_EMAIL": "noc@example.com",
		"TFPS_NOTIFY_POLL":        "100ms",
		"TFPS_LEARNING":           mode,
	}), withClock(clock), func(m *gateway.Main) { m.LearnEvery = 20 * time.Millisecond })
	c, err := api.NewClient("http://"+m.HTTPAddr(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ten, hundred, zone := 10, 100, "Europe/Madrid"
	newAccount(t, c, "8001", func(in *api.AccountInput) {
		in.ConcurrentCalls, in.ConcurrentCallsOff, in.DailyQuota, in.DailyQuotaOff, in.Timezone = &ten, &ten, &hundred, &hundred, &zone
	})
	for d := 2; d <= 15; d++ {
		day := time.Date(2026, 3, d, 0, 0, 0, 0, madrid)
		ccs, hour := []int{1, 3}, 10
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			ccs, hour = []int{1}, 11
		}
		for i, cc := range ccs {
			clock.set(day.Add(time.Duration(hour)*time.Hour + time.Duration(i)*10*time.Minute))
			res := mustCheck(t, c, checkReq("8001", func(r *api.CheckRequest) { r.ConcurrentCalls = &cc }))
			if res.Code != "A00" {
				t.Fatalf("%s: %s %s", clock.now(), res.Code, res.Reason)
			}
		}
	}
	// Sunday 15 March 23:59 in Madrid: the 14th day is not over.
	clock.set(time.Date(2026, 3, 15, 23, 59, 0, 0, madrid))
	waitUntil(t, func() bool {
		h, err := c.History(context.Background(), "8001", "pbx.example", 1)
		return err == nil && len(h.Days) == 1 && h.Days[0].ApprovedOff == 1 && h.Trained != nil && !h.Trained.Trained
	})
	return m, c, clock, relay
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func limitsOf(t *testing.T, c *api.Client) [4]int {
	t.Helper()
	a, err := c.GetAccount(context.Background(), "8001", "pbx.example")
	if err != nil {
		t.Fatal(err)
	}
	return [4]int{a.ConcurrentCalls, a.ConcurrentCallsOff, a.DailyQuota, a.DailyQuotaOff}
}

func subjectOf(t *testing.T, r smtptest.Received) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(r.Data)))
	if err != nil {
		t.Fatalf("parse mail: %v", err)
	}
	s, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	return s
}

// TFPS_LEARNING=apply: at the account's local midnight (Madrid's, 23:00
// UTC) its limits become the trained ones, within the floors (2 and 10),
// and the change is mailed.
func TestLearningApplyAtLocalMidnight(t *testing.T) {
	_, c, clock, relay := learningGateway(t, "apply")
	time.Sleep(100 * time.Millisecond) // several rounds before midnight
	if got := limitsOf(t, c); got != [4]int{10, 10, 100, 100} {
		t.Fatalf("before midnight: limits %v, want unchanged", got)
	}
	if n := len(relay.Messages()); n != 0 {
		t.Fatalf("%d mails before midnight", n)
	}
	clock.set(time.Date(2026, 3, 16, 0, 0, 30, 0, madrid)) // still 15 March in UTC
	// Business days: peak 3, 2 calls; off hours: weekends 1 call at 1:
	// the floors (2 concurrent, 10 calls) lift the small ones.
	want := [4]int{3, 2, 10, 10}
	waitUntil(t, func() bool { return limitsOf(t, c) == want })
	msgs := relay.WaitFor(1, 30*time.Second)
	if s := subjectOf(t, msgs[0]); !strings.Contains(s, "8001@pbx.example") || !strings.Contains(s, "history") {
		t.Errorf("subject %q", s)
	}
	body := string(msgs[0].Data)
	for _, w := range []string{"10/10 concurrent calls, 100/100 calls a day", "Concurrent calls: 3 in business hours, 2 off hours"} {
		if !strings.Contains(body, w) {
			t.Errorf("mail lacks %q:\n%s", w, body)
		}
	}
	// The engine uses the new limits: a fourth concurrent call in hours
	// now needs a verification.
	clock.set(time.Date(2026, 3, 16, 10, 0, 0, 0, madrid))
	four := 4
	if res := mustCheck(t, c, checkReq("8001", func(r *api.CheckRequest) { r.ConcurrentCalls = &four })); res.Code != "V08" {
		t.Errorf("4 concurrent calls after learning: %s, want V08", res.Code)
	}
	// Once a day: an operator's change during the day stays.
	nine := 9
	if _, err := c.UpdateAccount(context.Background(), "8001", "pbx.example", &api.AccountInput{ConcurrentCalls: &nine}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := limitsOf(t, c); got[0] != 9 {
		t.Errorf("the operator's 9 became %d the same day", got[0])
	}
}

// TFPS_LEARNING=suggest never changes the limits; it mails a digest of
// the account whose limits differ by more than 30%, once.
func TestLearningSuggestMailsAndNeverChanges(t *testing.T) {
	_, c, clock, relay := learningGateway(t, "suggest")
	clock.set(time.Date(2026, 3, 16, 0, 0, 30, 0, madrid))
	msgs := relay.WaitFor(1, 30*time.Second)
	if s := subjectOf(t, msgs[0]); !strings.Contains(s, "Trained limits of 8001@pbx.example") {
		t.Errorf("subject %q", s)
	}
	if body := string(msgs[0].Data); !strings.Contains(body, "3/2 concurrent calls, 10/10 calls a day") || !strings.Contains(body, "nothing was changed") {
		t.Errorf("digest:\n%s", body)
	}
	clock.set(time.Date(2026, 3, 18, 0, 0, 30, 0, madrid)) // days later, within the week
	time.Sleep(200 * time.Millisecond)
	if got := limitsOf(t, c); got != [4]int{10, 10, 100, 100} {
		t.Errorf("suggest changed the limits: %v", got)
	}
	if n := len(relay.Messages()); n != 1 {
		t.Errorf("%d digests within a week, want 1", n)
	}
}

package gateway_test

import (
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/notify/smtptest"
	"github.com/voipshield/tfps/store"
)

// A caller hammering one number trips the A->B limit (R13); the gateway's
// own outbox worker mails the administrator through a real SMTP relay, as
// TFPS did, without anything else running.
func TestBurstIsMailedToTheAdmin(t *testing.T) {
	relay := smtptest.NewServer(t)
	relay.Start()
	// A week before the wall clock: every part must stamp and read the
	// outbox by the gateway's clock, or the row is never due.
	clock := newTestClock(inHours.AddDate(0, 0, -7))
	m := gatewaytest.MustStart(t, gatewaytest.Vars(t, store.SQLite, map[string]string{
		"TFPS_SMTP_HOST":          relay.Host(),
		"TFPS_SMTP_PORT":          strconv.Itoa(relay.Port()),
		"TFPS_SMTP_TLS":           "none",
		"TFPS_SMTP_FROM":          "tfps@example.net",
		"TFPS_NOTIFICATION_EMAIL": "noc@example.com",
		"TFPS_NOTIFY_POLL":        "100ms",
		"TFPS_AB_REPEAT_LIMIT":    "5",
	}), withClock(clock))
	c, err := api.NewClient("http://"+m.HTTPAddr(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	newAccount(t, c, "7001", func(in *api.AccountInput) { q := 50; in.DailyQuota = &q })

	burst := func(r *api.CheckRequest) { r.Number = "+12015550777" }
	for i := range 6 {
		res := mustCheck(t, c, checkReq("7001", burst))
		if i < 5 && res.Code != "A00" {
			t.Fatalf("attempt %d: %s %s", i+1, res.Code, res.Reason)
		}
		if i == 5 && res.Code != "R13" {
			t.Fatalf("sixth attempt: %s, want R13", res.Code)
		}
	}
	msgs := relay.WaitFor(1, 30*time.Second)
	got := msgs[0]
	if len(got.To) != 1 || got.To[0] != "noc@example.com" {
		t.Errorf("recipients %v", got.To)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(got.Data)))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, got.Data)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if !strings.Contains(subject, "+12015550777") || !strings.Contains(subject, "blocked") {
		t.Errorf("subject %q", subject)
	}
	if !strings.Contains(string(got.Data), "7001") {
		t.Errorf("mail does not name the account:\n%s", got.Data)
	}
}

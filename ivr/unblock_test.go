package ivr_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/engine"
)

// Wrong captchas typed on the real Asterisk block the account (R18); the
// operator sees the block and its end through the admin API (what tfpsctl
// blocks and tfpsctl clear ... verification send), lifts it, and the next
// call is approved.
func TestVerificationBlockLiftedByTheOperator(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, DailyQuota: 10, DestinationCountries: []string{"US"}})
	srv := httptest.NewServer(must(api.Handler(&api.Local{Engine: r.eng, Store: r.db, State: r.st}, api.Options{})))
	t.Cleanup(srv.Close)
	admin, err := api.NewClient(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}

	for i, wrongs := range []int{2, 1} {
		d := r.decide(testUser, "+442079460000")
		if d.Result != engine.Verify {
			t.Fatalf("call %d to a new destination: %s %s, want verify", i+1, d.Code, d.Reason)
		}
		c := r.phone.VerifyCall(d.Ticket)
		for range wrongs {
			c.Press(wrong(c.Challenge()))
		}
		c.WaitEnd(30 * time.Second)
	}
	if d := r.decide(testUser, "+12025550123"); d.Code != engine.R18 {
		t.Fatalf("after %d wrong captchas: %s %s, want R18", maxFails, d.Code, d.Reason)
	}
	ctx := context.Background()
	b, err := admin.Blocks(ctx, testUser, testDomain)
	if err != nil {
		t.Fatal(err)
	}
	if b.Verification == nil || b.Failures != maxFails || b.Verification.Until.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("blocks %+v: want the verification block for about an hour", b)
	}
	if b, err = admin.ClearVerification(ctx, testUser, testDomain); err != nil || b.Verification != nil || b.Failures != 0 {
		t.Fatalf("clear verification: %+v, %v", b, err)
	}
	if d := r.decide(testUser, "+12025550123"); d.Code != engine.A00 {
		t.Fatalf("after the operator lifted the block: %s %s, want A00", d.Code, d.Reason)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

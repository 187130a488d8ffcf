package ivr_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/asterisktest"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/pin"
)

// PIN guessing: every PIN attempt is counted before its digits are
// checked, per account, per caller number and per source address.

func pinRig(t *testing.T) *rig {
	return newRig(t, func(o *ivr.Options, _ *ivr.Flows) { o.Method = ivr.MethodPIN })
}

// guess answers every PIN question of c with typed until the call ends and
// returns how many times the PIN was asked.
func guess(c *asterisktest.Call, typed string) int {
	asks := 0
	for {
		uri := c.WaitPlayAny(30*time.Second, "/pin-ask", "/blocked", "/verify-failed", "/quota-raised")
		if !strings.Contains(uri, "/pin-ask") {
			c.WaitEnd(20 * time.Second)
			return asks
		}
		asks++
		c.Press(typed)
	}
}

// A caller who hangs up right after the 4th key of a wrong PIN has used an
// attempt: it is counted when the question begins, so no hang-up, however
// it races the last key or the check, leaves a guess uncounted.
func TestPINHangupRightAfterTheFourthDigitIsCounted(t *testing.T) {
	t.Parallel()
	r := pinRig(t)
	// An own PIN: its check (a PBKDF2 hash) is the slowest there is.
	h, err := pin.Hash("2468")
	if err != nil {
		t.Fatal(err)
	}
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1, PINHash: h})
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	c.WaitPlay("/pin-ask", 20*time.Second)
	c.Press("123")
	c.WaitKeys(3, 10*time.Second)
	c.Press("9") // the wrong 4th digit ...
	c.Hangup()   // ... and gone at once
	c.WaitEnd(20 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for r.failures(testUser) != 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := r.failures(testUser); n != 1 {
		t.Errorf("failures after a wrong PIN and a hang-up = %d, want 1", n)
	}
}

// Two sessions of one account asking the PIN at the same moment share the
// account's attempts: with 2 of 3 left, each gets one wrong guess, both
// are counted, and neither gets a further try.
func TestPINParallelSessionsGetNoExtraGuess(t *testing.T) {
	t.Parallel()
	r := pinRig(t)
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	if _, err := r.st.RecordVerifyFailure(context.Background(), testUser, testDomain, "earlier:1", time.Now().Add(-time.Minute), time.Hour); err != nil {
		t.Fatal(err)
	}
	c1 := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	c2 := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	// Both sessions are at their first question before either answers.
	c1.WaitPlay("/pin-ask", 20*time.Second)
	c2.WaitPlay("/pin-ask", 20*time.Second)
	asks := []int{1, 1}
	var wg sync.WaitGroup
	for i, c := range []*asterisktest.Call{c1, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Press("0000#")
			asks[i] += guess(c, "0000#")
		}()
	}
	wg.Wait()
	if asks[0]+asks[1] != 2 {
		t.Errorf("the PIN was asked %d times (%v) with 2 attempts left, want 2", asks[0]+asks[1], asks)
	}
	if n := r.failures(testUser); n != maxFails {
		t.Errorf("failures %d, want %d (1 earlier + both wrong guesses)", n, maxFails)
	}
	if a := r.account(testUser); a.DailyQuota != 1 {
		t.Errorf("quota %d, want 1", a.DailyQuota)
	}
}

// The global PIN is one secret for every account: one caller number (or
// one source address) guessing it across accounts is refused after
// TFPS_MAX_CAPTCHAATTEMPTS wrong guesses, even with the right PIN, though
// no single account is at its limit.
func TestPINGuessesAcrossAccountsAreLimited(t *testing.T) {
	t.Parallel()
	r := pinRig(t)
	for _, tc := range []struct {
		name, base string
		ticket     func(i int) engine.Ticket
	}{
		{"caller number", "20", func(i int) engine.Ticket {
			return engine.Ticket{Caller: "+12125550100", SourceIP: fmt.Sprint("198.51.100.", i+1)}
		}},
		{"source address", "21", func(i int) engine.Ticket {
			return engine.Ticket{Caller: fmt.Sprint("+1212555020", i), SourceIP: "203.0.113.9"}
		}},
	} {
		// Account 1 takes two wrong guesses (one call, two tries), account
		// 2 one; account 3 then types the right global PIN.
		asks := 0
		for i, typed := range []string{"0000#", "0000#", "4321#"} {
			user := fmt.Sprint(tc.base, "0", i+1)
			r.createAccount(&tfps.Account{User: user, DailyQuota: 1})
			tk := tc.ticket(i)
			tk.Flow, tk.User = engine.FlowQuota, user
			c := r.phone.VerifyCall(r.ticket(tk))
			n := guess(c, typed)
			asks += n
			if i == 2 {
				if n != 0 || !c.PlayedAny("/blocked") {
					t.Errorf("%s: third account asked the PIN %d times, played %q; want refused (blocked)", tc.name, n, c.Played)
				}
				if a := r.account(user); a.DailyQuota != 1 {
					t.Errorf("%s: the right global PIN raised the quota of the third account after %d wrong guesses elsewhere", tc.name, asks)
				}
			}
		}
		if asks != maxFails {
			t.Errorf("%s: the PIN was asked %d times across accounts, want %d", tc.name, asks, maxFails)
		}
		for i := range 3 {
			if n := r.failures(fmt.Sprint(tc.base, "0", i+1)); n >= maxFails {
				t.Errorf("%s: account %d has %d failures: the refusal should come from the %s alone", tc.name, i+1, n, tc.name)
			}
		}
	}
}

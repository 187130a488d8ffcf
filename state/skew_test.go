package state_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/pin"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
)

// A gateway and an IVR whose clocks disagree by ten minutes, either way,
// share the windows between them as if the clocks agreed: the failures the
// IVR records block the account at the gateway at once and for the
// configured window (R18), PIN attempts count in the same window, and a
// ticket lives its TTL from its decision, whenever the IVR thinks it is.
func TestSharedWindowsIgnoreHostClocks(t *testing.T) {
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(fmt.Sprintf("IVR clock %+v", skew), func(t *testing.T) {
			s := statetest.MustOpen(t)
			c := state.NewDecideCounters(s)
			ctx := context.Background()
			const window, limit = 5 * time.Minute, 3
			gateway := time.Now
			ivr := func() time.Time { return time.Now().Add(skew) }
			decide := func(user string) engine.CountResult {
				t.Helper()
				r, err := c.Count(ctx, &engine.CountRequest{Now: gateway(), User: user, Domain: "pbx.example", Member: fmt.Sprint(time.Now().UnixNano()),
					Steps: []engine.Step{{Kind: engine.StepFailures, Limit: limit, Window: window}}})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}

			// Captcha failures recorded by the IVR.
			for i := range limit {
				if _, err := s.RecordVerifyFailure(ctx, "1001", "pbx.example", fmt.Sprint("t:", i), ivr(), window); err != nil {
					t.Fatal(err)
				}
			}
			if r := decide("1001"); r.Failed != 0 || r.Steps[0].Count != limit {
				t.Errorf("the gateway right after %d failures: %+v, want R18's step failed with %d failures", limit, r, limit)
			}
			blocked, until, n, err := s.VerifyBlock(ctx, "1001", "pbx.example", ivr(), window, limit)
			if err != nil {
				t.Fatal(err)
			}
			// The block ends one window after the failures, on the shared clock.
			if left := time.Until(until); !blocked || n != limit || left < window-time.Minute || left > window {
				t.Errorf("the IVR reads blocked=%v with %d failures until %s (in %s), want blocked for the next %s", blocked, n, until, left.Round(time.Second), window)
			}

			// PIN attempts reserved by the IVR count in the same window.
			for i := range limit {
				r, err := s.ReservePINAttempt(ctx, pin.Attempt{User: "1002", Domain: "pbx.example", ID: fmt.Sprint("p:", i), At: ivr()}, window, limit)
				if err != nil || !r.Reserved {
					t.Fatalf("reserve PIN attempt %d: %+v, %v", i+1, r, err)
				}
			}
			if r, err := s.ReservePINAttempt(ctx, pin.Attempt{User: "1002", Domain: "pbx.example", ID: "p:x", At: ivr()}, window, limit); err != nil || r.Reserved {
				t.Errorf("a PIN attempt over the limit: %+v, %v; want refused", r, err)
			}
			if r := decide("1002"); r.Failed != 0 {
				t.Errorf("the gateway after %d PIN attempts: %+v, want R18's step failed", limit, r)
			}

			// A ticket the gateway issues is claimed within its TTL...
			issue := func(ttl time.Duration) string {
				t.Helper()
				now := gateway()
				tk := &engine.Ticket{Code: engine.V01, Flow: engine.FlowOnboarding, User: "new", Domain: "pbx.example", Created: now, Expires: now.Add(ttl)}
				if _, err := c.Count(ctx, &engine.CountRequest{Now: now, User: "new", Domain: "pbx.example", Ticket: tk}); err != nil {
					t.Fatal(err)
				}
				return tk.ID
			}
			// (Claimed dates the claim on the gateway's clock.)
			if tk, err := s.ClaimTicket(ctx, issue(time.Minute), ivr()); err != nil {
				t.Errorf("claim a fresh one-minute ticket: %v, want it valid", err)
			} else if off := time.Since(tk.Claimed); off < -time.Second || off > time.Second {
				t.Errorf("claimed at %s on the gateway's clock, %s from its now", tk.Claimed, off)
			}
			// ... and refused once its TTL has passed.
			id := issue(time.Second)
			time.Sleep(1100 * time.Millisecond)
			if _, err := s.ClaimTicket(ctx, id, ivr()); !errors.Is(err, engine.ErrTicketExpired) {
				t.Errorf("claim a one-second ticket 1.1 s later: %v, want ErrTicketExpired", err)
			}
		})
	}
}

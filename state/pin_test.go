package state_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps/pin"
	"github.com/voipshield/tfps/state/statetest"
)

// A reserved attempt counts as a failure at once; a retry of the same id
// counts once; a matching PIN takes it back.
func TestPINAttemptReservedThenReleased(t *testing.T) {
	s := statetest.MustOpen(t)
	ctx := context.Background()
	a := pin.Attempt{User: "1001", Domain: "pbx", Caller: "+12125550100", Source: "198.51.100.7", ID: "t1:1", At: t0}
	for range 2 {
		r, err := s.ReservePINAttempt(ctx, a, time.Hour, 3)
		if err != nil || !r.Reserved || r.Account != 1 || r.Caller != 1 || r.Source != 1 {
			t.Fatalf("reserve = %+v, %v; want reserved with 1/1/1", r, err)
		}
	}
	if _, _, n, _ := s.VerifyBlock(ctx, "1001", "pbx", t0, time.Hour, 3); n != 1 {
		t.Errorf("the gateway sees %d failures of the account during the attempt, want 1", n)
	}
	if err := s.ReleasePINAttempt(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, _, n, _ := s.VerifyBlock(ctx, "1001", "pbx", t0, time.Hour, 3); n != 0 {
		t.Errorf("%d failures of the account after a matching PIN, want 0", n)
	}
	if n, _ := s.PINFailures(ctx, a.Caller, "", t0, time.Hour); n != 0 {
		t.Errorf("%d failures of the caller after a matching PIN, want 0", n)
	}
}

// Many sessions of one account reserving at once: exactly max get an
// attempt, the others are refused, nothing is counted beyond max.
func TestPINAttemptsInParallelStopAtTheLimit(t *testing.T) {
	s := statetest.MustOpen(t)
	ctx := context.Background()
	var mu sync.Mutex
	reserved := 0
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.ReservePINAttempt(ctx, pin.Attempt{User: "1001", Domain: "pbx", ID: fmt.Sprint("t", i, ":1"), At: t0}, time.Hour, 3)
			if err != nil {
				t.Error(err)
				return
			}
			if r.Reserved {
				mu.Lock()
				reserved++
				mu.Unlock()
			} else if r.BlockedBy != pin.BlockedAccount {
				t.Errorf("refused by %q, want account", r.BlockedBy)
			}
		}()
	}
	wg.Wait()
	if reserved != 3 {
		t.Errorf("%d parallel attempts reserved, want 3", reserved)
	}
	if _, _, n, _ := s.VerifyBlock(ctx, "1001", "pbx", t0, time.Hour, 3); n != 3 {
		t.Errorf("%d failures counted, want 3", n)
	}
}

// One caller number (or source) guessing across accounts is refused at
// the limit, whatever account it tries next; the refusal ends when the
// oldest counted attempt leaves the window.
func TestPINAttemptsAcrossAccounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    func(i int) pin.Attempt
		by   string
	}{
		{"caller", func(i int) pin.Attempt {
			return pin.Attempt{Caller: "+12125550100", Source: fmt.Sprint("198.51.100.", i)}
		}, pin.BlockedCaller},
		{"source", func(i int) pin.Attempt {
			return pin.Attempt{Caller: fmt.Sprint("+1212555010", i), Source: "198.51.100.7"}
		}, pin.BlockedSource},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := onCallerTime(statetest.MustOpen(t))
			ctx := context.Background()
			for i := range 4 {
				a := tc.a(i)
				a.User, a.Domain, a.ID, a.At = fmt.Sprint("200", i), "pbx", fmt.Sprint("t", i, ":1"), t0.Add(time.Duration(i)*time.Minute)
				r, err := s.ReservePINAttempt(ctx, a, time.Hour, 3)
				if err != nil {
					t.Fatal(err)
				}
				if i < 3 && !r.Reserved {
					t.Fatalf("attempt %d for a fresh account refused: %+v", i+1, r)
				}
				if i == 3 {
					if r.Reserved || r.BlockedBy != tc.by || !r.Until.Equal(t0.Add(time.Hour)) || r.Account != 0 {
						t.Errorf("4th account: %+v; want refused by %s until %s, nothing counted", r, tc.by, t0.Add(time.Hour))
					}
					a.At = t0.Add(time.Hour)
					if r, _ := s.ReservePINAttempt(ctx, a, time.Hour, 3); !r.Reserved {
						t.Errorf("after the oldest attempt left the window: %+v, want reserved", r)
					}
				}
			}
		})
	}
}

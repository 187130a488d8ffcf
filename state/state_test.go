package state_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
)

var t0 = time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)

// onCallerTime is s with its shared windows measured on the times the test
// passes (state.Options.CallerTime), so a test can move through them at once.
func onCallerTime(s *state.State) *state.State {
	return state.New(s.Client(), state.Options{Prefix: s.Keys().Prefix(), Timeout: s.Timeout(), CallerTime: true})
}

// issue stores tk as a verify decision does (the decide script, its id
// source and codec), valid for ttl from tk.Created, and returns its id.
func issue(t testing.TB, s *state.State, tk engine.Ticket, ttl time.Duration) string {
	t.Helper()
	tk.Expires = tk.Created.Add(ttl)
	req := &engine.CountRequest{Now: tk.Created, User: tk.User, Domain: tk.Domain, Ticket: &tk}
	if _, err := state.NewDecideCounters(s).Count(context.Background(), req); err != nil {
		t.Fatalf("issue ticket: %v", err)
	}
	return tk.ID
}

func TestTicketSingleUse(t *testing.T) {
	s := statetest.MustOpen(t)
	ctx := context.Background()
	id := issue(t, s, engine.Ticket{Code: engine.V03, Flow: engine.FlowDestinationCountry, User: "1001", Domain: "pbx.example.com", Country: "BR", Number: "5511999990000", Created: t0}, 120*time.Second)
	if !engine.ValidTicketID(id) {
		t.Errorf("ticket id %q is not %d digits", id, engine.TicketIDDigits)
	}
	got, err := s.ClaimTicket(ctx, id, t0.Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Code != engine.V03 || got.Flow != engine.FlowDestinationCountry || got.Country != "BR" || got.User != "1001" || !got.Expires.Equal(t0.Add(120*time.Second)) {
		t.Errorf("claimed %+v", got)
	}
	if _, err := s.ClaimTicket(ctx, id, t0.Add(11*time.Second)); !errors.Is(err, engine.ErrTicketUsed) {
		t.Errorf("second claim: %v, want engine.ErrTicketUsed", err)
	}
	if _, err := s.ClaimTicket(ctx, "0000000000000000", t0); !errors.Is(err, engine.ErrTicketUnknown) {
		t.Errorf("unknown ticket: %v", err)
	}
}

func TestTicketExpiredByItsOwnTime(t *testing.T) {
	s := onCallerTime(statetest.MustOpen(t))
	ctx := context.Background()
	id := issue(t, s, engine.Ticket{Flow: engine.FlowOnboarding, User: "u", Domain: "d", Created: t0}, 120*time.Second)
	// No waiting for Redis TTLs: the ticket carries its end.
	if _, err := s.ClaimTicket(ctx, id, t0.Add(120*time.Second)); !errors.Is(err, engine.ErrTicketExpired) {
		t.Errorf("claim at expiry: %v, want engine.ErrTicketExpired", err)
	}
	if _, err := s.ClaimTicket(ctx, id, t0); !errors.Is(err, engine.ErrTicketUsed) {
		t.Errorf("expired ticket must stay consumed: %v", err)
	}
}

func TestTicketClaimRace(t *testing.T) {
	s := statetest.MustOpen(t)
	ctx := context.Background()
	id := issue(t, s, engine.Ticket{Flow: engine.FlowOnboarding, User: "u", Domain: "d", Created: t0}, time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.ClaimTicket(ctx, id, t0); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d sessions claimed one ticket, want exactly 1", wins)
	}
}

// A failure written twice under one id (a retried write whose first try
// timed out but landed) counts once.
func TestVerifyFailureIdempotent(t *testing.T) {
	s := statetest.MustOpen(t)
	ctx := context.Background()
	for range 2 {
		n, err := s.RecordVerifyFailure(ctx, "1001", "pbx", "ticket-1:1", t0, time.Hour)
		if err != nil || n != 1 {
			t.Fatalf("record = %d, %v; want 1", n, err)
		}
	}
	if n, err := s.RecordVerifyFailure(ctx, "1001", "pbx", "ticket-1:2", t0.Add(time.Second), time.Hour); err != nil || n != 2 {
		t.Errorf("second try of the call = %d, %v; want 2", n, err)
	}
	if _, err := s.RecordVerifyFailure(ctx, "1001", "pbx", "", t0, time.Hour); err == nil {
		t.Error("a failure without an id was recorded")
	}
}

func TestVerifyFailuresWindowAndBlock(t *testing.T) {
	s := onCallerTime(statetest.MustOpen(t))
	ctx := context.Background()
	window := time.Hour
	for i, at := range []time.Time{t0, t0.Add(10 * time.Minute), t0.Add(20 * time.Minute)} {
		n, err := s.RecordVerifyFailure(ctx, "1001", "pbx", fmt.Sprint("call-", i), at, window)
		if err != nil {
			t.Fatal(err)
		}
		if n != i+1 {
			t.Errorf("failure %d counted as %d", i+1, n)
		}
	}
	blocked, until, n, err := s.VerifyBlock(ctx, "1001", "pbx", t0.Add(30*time.Minute), window, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !blocked || n != 3 || !until.Equal(t0.Add(window)) {
		t.Errorf("after 3 failures: blocked=%v until=%s n=%d", blocked, until, n)
	}
	// Once the first failure is an hour old only two remain in the window.
	blocked, _, n, _ = s.VerifyBlock(ctx, "1001", "pbx", t0.Add(window), window, 3)
	if blocked || n != 2 {
		t.Errorf("at window end: blocked=%v n=%d", blocked, n)
	}
	// Another account is untouched.
	if blocked, _, n, _ := s.VerifyBlock(ctx, "1002", "pbx", t0.Add(30*time.Minute), window, 3); blocked || n != 0 {
		t.Errorf("other account: blocked=%v n=%d", blocked, n)
	}
	if err := s.ClearVerifyFailures(ctx, "1001", "pbx"); err != nil {
		t.Fatal(err)
	}
	if blocked, _, _, _ := s.VerifyBlock(ctx, "1001", "pbx", t0.Add(30*time.Minute), window, 3); blocked {
		t.Error("still blocked after clear")
	}
}

// A Redis that dies mid-test gives callers an state.ErrUnavailable error within
// the deadline, never a hang. A private redis-server is started on a free
// port and killed; the shared one is never touched.
func TestRedisDownErrorsWithinDeadline(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not installed: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	deadline := 300 * time.Millisecond
	var s *state.State
	for i := 0; i < 100; i++ { // wait for readiness
		if s, err = state.Open(context.Background(), url, state.Options{Timeout: deadline}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("private redis never came up: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.RecordVerifyFailure(ctx, "u", "d", "call-1", t0, time.Hour); err != nil {
		t.Fatalf("while up: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()

	checks := map[string]func() error{
		"ping":  func() error { return s.Ping(ctx) },
		"claim": func() error { _, err := s.ClaimTicket(ctx, "1234567890123456", t0); return err },
		"decide": func() error {
			tk := &engine.Ticket{Flow: engine.FlowOnboarding, User: "u", Domain: "d", Created: t0, Expires: t0.Add(time.Minute)}
			_, err := state.NewDecideCounters(s).Count(ctx, &engine.CountRequest{Now: t0, User: "u", Domain: "d", Ticket: tk})
			return err
		},
		"record": func() error { _, err := s.RecordVerifyFailure(ctx, "u", "d", "call-1", t0, time.Hour); return err },
		"block":  func() error { _, _, _, err := s.VerifyBlock(ctx, "u", "d", t0, time.Hour, 3); return err },
	}
	for name, fn := range checks {
		start := time.Now()
		err := fn()
		took := time.Since(start)
		if !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s with Redis down: %v, want ErrUnavailable", name, err)
		}
		// Generous bound: the deadline plus scheduling slack on a busy CI box.
		if took > deadline+2*time.Second {
			t.Errorf("%s took %s with a %s deadline", name, took, deadline)
		}
		t.Logf("%s failed after %s: %v", name, took.Round(time.Millisecond), err)
	}
}

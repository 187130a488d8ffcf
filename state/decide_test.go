package state_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
)

var d0 = time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)

// countTrips counts commands sent to Redis (pipelines count once).
type countTrips struct{ n atomic.Int64 }

func (c *countTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *countTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *countTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

var _ redis.Hook = (*countTrips)(nil)

func abReq(now time.Time, member string) *engine.CountRequest {
	return &engine.CountRequest{Now: now, User: "1001", Domain: "pbx.example", Caller: "+12125550100", Number: "+442079460000", Member: member,
		Steps: []engine.Step{{Kind: engine.StepABRepeat, Limit: 5, Window: 30 * time.Second, Block: time.Hour}}}
}

func TestDecideABRepeat(t *testing.T) {
	s := statetest.MustOpen(t)
	c := state.NewDecideCounters(s)
	ctx := context.Background()
	for i := range 5 {
		res, err := c.Count(ctx, abReq(d0.Add(time.Duration(i)*time.Second), string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed != -1 || res.Steps[0].Count != int64(i+1) {
			t.Fatalf("attempt %d: %+v, want pass with count %d", i+1, res, i+1)
		}
	}
	// The same attempt again (same member: a retried request) is not counted twice.
	res, _ := c.Count(ctx, abReq(d0.Add(5*time.Second), "e"))
	if res.Failed != -1 || res.Steps[0].Count != 5 {
		t.Fatalf("retried attempt: %+v, want pass with count 5", res)
	}
	res, err := c.Count(ctx, abReq(d0.Add(6*time.Second), "f"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || !res.Steps[0].Failed || res.Steps[0].Blocked || res.Steps[0].Count != 6 || !res.Steps[0].Until.Equal(d0.Add(6*time.Second+time.Hour)) {
		t.Fatalf("6th attempt: %+v, want tripped with count 6 until +1h", res)
	}
	res, _ = c.Count(ctx, abReq(d0.Add(30*time.Minute), "g"))
	if res.Failed != 0 || !res.Steps[0].Blocked {
		t.Fatalf("within the block: %+v, want blocked", res)
	}
	res, _ = c.Count(ctx, abReq(d0.Add(6*time.Second+time.Hour), "h"))
	if res.Failed != -1 || res.Steps[0].Count != 1 {
		t.Fatalf("block over: %+v, want pass, counting from 1", res)
	}
	// Attempts older than the window no longer count.
	for i := range 5 {
		c.Count(ctx, abReq(d0.Add(2*time.Hour+time.Duration(i)*10*time.Second), string(rune('A'+i))))
	}
	res, _ = c.Count(ctx, abReq(d0.Add(2*time.Hour+50*time.Second), "Z"))
	if res.Failed != -1 || res.Steps[0].Count != 3 {
		t.Fatalf("sliding window: %+v, want pass with 3 attempts in the last 30 s", res)
	}
	// Only the window's attempts are kept: the pair's stored state does not
	// grow with a caller who keeps dialling below the limit.
	if n, err := s.PairAttempts(ctx, "1001", "pbx.example", "+12125550100", "+442079460000"); err != nil || n != 3 {
		t.Fatalf("stored attempts: %d (%v), want the 3 of the window", n, err)
	}
}

// Call ids are free text: ones that look like the stored attempts' own
// separators, or hold multi-byte characters, are still told apart and
// recognised when retried.
func TestDecideABRepeatAnyCallID(t *testing.T) {
	s := statetest.MustOpen(t)
	c := state.NewDecideCounters(s)
	ctx := context.Background()
	ids := []string{"1 2:3", "12:3 4", "ü:é 5", ":", " ", "1733000000000 3:abc"}
	for i, id := range ids {
		res, err := c.Count(ctx, abReq(d0.Add(time.Duration(i)*time.Second), id))
		if err != nil {
			t.Fatal(err)
		}
		want := int64(min(i+1, 5))
		if i < 5 && (res.Failed != -1 || res.Steps[0].Count != want) {
			t.Fatalf("call id %q: %+v, want pass with count %d", id, res, want)
		}
		if i == 5 && (res.Failed != 0 || res.Steps[0].Count != 6) {
			t.Fatalf("sixth call id %q: %+v, want the pair blocked at 6 attempts", id, res)
		}
		if i == 4 {
			// Every id again: each is the same attempt, counted once.
			for j, again := range ids[:5] {
				res, err := c.Count(ctx, abReq(d0.Add(time.Duration(i)*time.Second), again))
				if err != nil || res.Failed != -1 || res.Steps[0].Count != 5 {
					t.Fatalf("call id %q retried (%d): %+v (%v), want pass with count 5", again, j, res, err)
				}
			}
		}
	}
	// The sixth distinct id trips the limit of 5.
	if n, err := s.PairAttempts(ctx, "1001", "pbx.example", "+12125550100", "+442079460000"); err != nil || n != 0 {
		t.Fatalf("stored attempts after the block: %d (%v), want none", n, err)
	}
}

func TestDecideFailuresReadWhatTheIVRRecords(t *testing.T) {
	base := statetest.MustOpen(t) // the windows on the test's times
	s := state.New(base.Client(), state.Options{Prefix: base.Keys().Prefix(), Timeout: base.Timeout(), CallerTime: true})
	c := state.NewDecideCounters(s)
	ctx := context.Background()
	req := func(now time.Time) *engine.CountRequest {
		return &engine.CountRequest{Now: now, User: "1001", Domain: "pbx.example",
			Steps: []engine.Step{{Kind: engine.StepFailures, Limit: 3, Window: time.Hour}}}
	}
	for i := range 3 {
		if _, err := s.RecordVerifyFailure(ctx, "1001", "pbx.example", fmt.Sprint("f", i), d0.Add(time.Duration(i)*time.Minute), time.Hour); err != nil {
			t.Fatal(err)
		}
		res, err := c.Count(ctx, req(d0.Add(time.Duration(i)*time.Minute+time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		blocked, until, _, _ := s.VerifyBlock(ctx, "1001", "pbx.example", d0.Add(time.Duration(i)*time.Minute+time.Second), time.Hour, 3)
		if res.Steps[0].Failed != blocked || res.Steps[0].Count != int64(i+1) {
			t.Fatalf("after %d failures: %+v, state.VerifyBlock says blocked=%v", i+1, res, blocked)
		}
		if blocked && !res.Steps[0].Until.Equal(until) {
			t.Errorf("block until %s, VerifyBlock says %s", res.Steps[0].Until, until)
		}
	}
	// The oldest failure leaves the window: unblocked, exactly when VerifyBlock says.
	res, _ := c.Count(ctx, req(d0.Add(time.Hour)))
	if res.Failed != -1 || res.Steps[0].Count != 2 {
		t.Fatalf("an hour later: %+v, want pass with 2 failures in the window", res)
	}
}

func TestDecideQuotaTicketAndLaterStepsUntouched(t *testing.T) {
	s := statetest.MustOpen(t)
	c := state.NewDecideCounters(s)
	ctx := context.Background()
	trips := &countTrips{}
	s.Client().AddHook(trips)
	req := func(now time.Time) *engine.CountRequest {
		return &engine.CountRequest{Now: now, User: "1001", Domain: "pbx.example", Caller: "+12125550100", Number: "+442079460000", Member: now.String(),
			Steps: []engine.Step{
				{Kind: engine.StepABRepeat, Limit: 100, Window: 30 * time.Second, Block: time.Hour},
				{Kind: engine.StepFailures, Limit: 3, Window: time.Hour},
				{Kind: engine.StepQuota, Limit: 2, Day: "2026-11-23", Ticket: &engine.Ticket{Code: engine.V04, Flow: engine.FlowQuota, User: "1001", Domain: "pbx.example", Number: "+442079460000", Created: now, Expires: now.Add(2 * time.Minute)}},
			}}
	}
	for i := range 2 {
		r := req(d0.Add(time.Duration(i) * time.Second))
		before := trips.n.Load()
		res, err := c.Count(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		// The first call after a Redis start may load the script (EVALSHA,
		// then EVAL); every later one is a single EVALSHA.
		if n := trips.n.Load() - before; i > 0 && n != 1 {
			t.Errorf("call %d: %d Redis round trips, want 1", i+1, n)
		}
		if res.Failed != -1 || len(res.Steps) != 3 || res.Steps[2].Count != int64(i+1) {
			t.Fatalf("call %d: %+v", i+1, res)
		}
		if _, err := s.ClaimTicket(ctx, r.Steps[2].Ticket.ID, d0); !errors.Is(err, engine.ErrTicketUnknown) {
			t.Errorf("call %d passed but its quota ticket exists: %v", i+1, err)
		}
	}
	r := req(d0.Add(3 * time.Second))
	res, err := c.Count(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 2 || res.Steps[2].Count != 2 {
		t.Fatalf("third call: %+v, want the quota step failing at 2", res)
	}
	tk, err := s.ClaimTicket(ctx, r.Steps[2].Ticket.ID, d0.Add(4*time.Second))
	if err != nil {
		t.Fatalf("claim quota ticket: %v", err)
	}
	if tk.Flow != engine.FlowQuota || tk.Code != engine.V04 || tk.User != "1001" || !tk.Expires.Equal(d0.Add(3*time.Second+2*time.Minute)) {
		t.Errorf("ticket = %+v", tk)
	}
	if n, _ := s.DailyCount(ctx, "1001", "pbx.example", "2026-11-23", false); n != 2 {
		t.Errorf("daily count %d after a refused call, want 2", n)
	}

	// A failing first step leaves the later counters untouched.
	for i := range 3 {
		s.RecordVerifyFailure(ctx, "1001", "pbx.example", fmt.Sprint("f", i), d0.Add(time.Duration(i)*time.Second), time.Hour)
	}
	if err := s.ResetDaily(ctx, "1001", "pbx.example", "2026-11-23"); err != nil {
		t.Fatal(err)
	}
	res, _ = c.Count(ctx, req(d0.Add(10*time.Second)))
	if res.Failed != 1 || len(res.Steps) != 2 {
		t.Fatalf("with 3 failures: %+v, want the failures step deciding", res)
	}
	if n, _ := s.DailyCount(ctx, "1001", "pbx.example", "2026-11-23", false); n != 0 {
		t.Errorf("daily counter %d after an earlier step failed, want untouched 0", n)
	}
}

func TestDecidePassTicketOnlyWhenNoStepFails(t *testing.T) {
	s := statetest.MustOpen(t)
	c := state.NewDecideCounters(s)
	ctx := context.Background()
	mk := func(now time.Time) *engine.CountRequest {
		return &engine.CountRequest{Now: now, User: "new", Domain: "pbx.example", Caller: "100", Number: "200", Member: now.String(),
			Steps:  []engine.Step{{Kind: engine.StepABRepeat, Limit: 1, Window: 30 * time.Second, Block: time.Hour}},
			Ticket: &engine.Ticket{Code: engine.V01, Flow: engine.FlowOnboarding, User: "new", Domain: "pbx.example", Created: now, Expires: now.Add(time.Minute)}}
	}
	r := mk(d0)
	if res, err := c.Count(ctx, r); err != nil || res.Failed != -1 {
		t.Fatalf("first: %+v %v", res, err)
	}
	if tk, err := s.ClaimTicket(ctx, r.Ticket.ID, d0); err != nil || tk.Flow != "onboarding" {
		t.Fatalf("onboarding ticket: %+v %v", tk, err)
	}
	r = mk(d0.Add(time.Second)) // trips the A->B limit of 1: reject, no ticket
	if res, _ := c.Count(ctx, r); res.Failed != 0 {
		t.Fatalf("second: %+v, want A->B failing", res)
	}
	if _, err := s.ClaimTicket(ctx, r.Ticket.ID, d0); !errors.Is(err, engine.ErrTicketUnknown) {
		t.Errorf("rejected decision stored a ticket: %v", err)
	}
}

// The open-ticket cap: with 3 unclaimed tickets of the account (or of the
// source address) in the window, no fourth is stored; claiming one frees its
// place, and tickets older than the window no longer count.
func TestDecideOpenTicketCap(t *testing.T) {
	s := statetest.MustOpen(t)
	c := state.NewDecideCounters(s)
	ctx := context.Background()
	mk := func(user, src string, now time.Time) *engine.CountRequest {
		return &engine.CountRequest{Now: now, User: user, Domain: "pbx.example", Member: now.String(),
			MaxOpenTickets: 3, OpenTicketWindow: 2 * time.Minute, SourceIP: src,
			Ticket: &engine.Ticket{Code: engine.V01, Flow: engine.FlowOnboarding, User: user, Domain: "pbx.example", SourceIP: src, Created: now, Expires: now.Add(2 * time.Minute)}}
	}
	var ids []string
	for i := range 3 {
		r := mk("1001", "192.0.2.1", d0.Add(time.Duration(i)*time.Second))
		res, err := c.Count(ctx, r)
		if err != nil || res.TicketRefused || res.OpenTickets != int64(i) {
			t.Fatalf("ticket %d: %+v %v; want stored with %d open before it", i+1, res, err, i)
		}
		ids = append(ids, r.Ticket.ID)
	}
	r := mk("1001", "192.0.2.9", d0.Add(5*time.Second))
	res, err := c.Count(ctx, r)
	if err != nil || !res.TicketRefused || res.OpenTickets != 3 {
		t.Fatalf("fourth ticket of the account: %+v %v; want refused with 3 open", res, err)
	}
	if _, err := s.ClaimTicket(ctx, r.Ticket.ID, d0.Add(6*time.Second)); !errors.Is(err, engine.ErrTicketUnknown) {
		t.Errorf("refused ticket was stored: %v", err)
	}
	// Another account from the same source address is capped too.
	if res, _ := c.Count(ctx, mk("2002", "192.0.2.1", d0.Add(6*time.Second))); !res.TicketRefused {
		t.Errorf("fourth ticket of the source address: %+v, want refused", res)
	}
	// An answered (claimed) ticket leaves the count.
	if _, err := s.ClaimTicket(ctx, ids[0], d0.Add(7*time.Second)); err != nil {
		t.Fatal(err)
	}
	if res, _ := c.Count(ctx, mk("1001", "192.0.2.9", d0.Add(8*time.Second))); res.TicketRefused || res.OpenTickets != 2 {
		t.Errorf("after a claim: %+v, want stored with 2 open", res)
	}
	// Past the window the old tickets no longer count.
	if res, _ := c.Count(ctx, mk("1001", "192.0.2.1", d0.Add(2*time.Minute+3*time.Second))); res.TicketRefused || res.OpenTickets != 1 {
		t.Errorf("after the window: %+v, want stored with 1 open (the one of 0:08)", res)
	}
}

func TestDecideRedisDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := state.New(redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1}), state.Options{Timeout: 200 * time.Millisecond})
	defer s.Close()
	_, err = state.NewDecideCounters(s).Count(context.Background(), abReq(d0, "x"))
	if !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("Count with Redis down: %v, want ErrUnavailable", err)
	}
}

// Concurrent decisions share pipelines; every caller still gets its own
// answer, in the order of its own steps.
func TestDecideConcurrentCallsShareRoundTrips(t *testing.T) {
	s := statetest.MustOpen(t)
	c := state.NewDecideCounters(s)
	trips := &countTrips{}
	s.Client().AddHook(trips)
	ctx := context.Background()
	const callers, each = 64, 20
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := "u" + strconv.Itoa(g)
			for i := range each {
				res, err := c.Count(ctx, &engine.CountRequest{Now: d0, User: user, Domain: "pbx.example",
					Steps: []engine.Step{{Kind: engine.StepQuota, Limit: each / 2, Day: "2026-11-23"}}})
				if err != nil {
					t.Error(err)
					return
				}
				wantFail := i >= each/2
				if res.Steps[0].Failed != wantFail || (!wantFail && res.Steps[0].Count != int64(i+1)) || (wantFail && res.Steps[0].Count != each/2) {
					t.Errorf("%s call %d: %+v", user, i+1, res.Steps[0])
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := trips.n.Load(); n >= callers*each {
		t.Errorf("%d round trips for %d concurrent decisions: no sharing", n, callers*each)
	} else {
		t.Logf("%d decisions in %d round trips", callers*each, n)
	}
}

// After a Redis restart the script cache is empty: the next decisions load
// the script again and answer normally.
func TestDecideAfterRedisRestart(t *testing.T) {
	port := freePort(t)
	start := func() *exec.Cmd {
		cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		return cmd
	}
	srv := start()
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	s := state.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port}), state.Options{Timeout: time.Second})
	defer s.Close()
	ctx := context.Background()
	waitUp := func() {
		for i := 0; s.Ping(ctx) != nil; i++ {
			if i > 200 {
				t.Fatal("redis-server did not start")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitUp()
	c := state.NewDecideCounters(s)
	if _, err := c.Count(ctx, abReq(d0, "a")); err != nil {
		t.Fatalf("first count: %v", err)
	}
	srv.Process.Kill()
	srv.Wait()
	srv = start()
	waitUp()
	res, err := c.Count(ctx, abReq(d0.Add(time.Second), "b"))
	if err != nil || res.Failed != -1 || res.Steps[0].Count != 1 {
		t.Fatalf("count after restart = %+v, %v; want a pass counting from 1 (the data went with the old server)", res, err)
	}
}

// A Redis that stalls for longer than the operation deadline but less than
// the decision's own (Options.DecideTimeout) makes the decision late, not
// failed: the script's answer is waited for. Without DecideTimeout the same
// stall fails the decision at the operation deadline, which the engine's
// error policy turns into R19 for an honest call.
func TestDecideOutlastsAShortStall(t *testing.T) {
	port := freePort(t)
	srv := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := srv.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	url := "redis://127.0.0.1:" + port + "/0"
	ctx := context.Background()
	open := func(decide time.Duration) *state.State {
		var s *state.State
		var err error
		for i := 0; ; i++ {
			if s, err = state.Open(ctx, url, state.Options{Timeout: 300 * time.Millisecond, DecideTimeout: decide}); err == nil {
				return s
			}
			if i > 200 {
				t.Fatalf("redis-server did not start: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// stall keeps Redis busy for d in a script of another client: every
	// command sent meanwhile waits.
	blocker := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, ReadTimeout: 10 * time.Second})
	defer blocker.Close()
	stall := func(d time.Duration) chan error {
		done := make(chan error, 1)
		go func() {
			done <- blocker.Eval(ctx, `
local t0 = redis.call('TIME')
local start = tonumber(t0[1]) * 1000000 + tonumber(t0[2])
while true do
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000000 + tonumber(t[2]) - start > tonumber(ARGV[1]) then return 1 end
end`, nil, d.Microseconds()).Err()
		}()
		time.Sleep(100 * time.Millisecond) // the script is running
		return done
	}
	count := func(s *state.State, member string) (engine.CountResult, time.Duration, error) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		start := time.Now()
		res, err := state.NewDecideCounters(s).Count(cctx, abReq(d0, member))
		return res, time.Since(start), err
	}

	long := open(2 * time.Second)
	defer long.Close()
	if _, _, err := count(long, "warm"); err != nil { // the script is loaded
		t.Fatal(err)
	}
	done := stall(800 * time.Millisecond)
	res, took, err := count(long, "a")
	if err != nil || res.Failed != -1 || res.Steps[0].Count != 2 { // the pair's second attempt, after "warm"
		t.Errorf("decision during an 800 ms stall with a 2 s decide deadline: %+v, %v after %v; want the count, late", res, err, took)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("answered after %v", took.Round(time.Millisecond))

	short := open(0)
	defer short.Close()
	done = stall(800 * time.Millisecond)
	if _, took, err := count(short, "b"); !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("without DecideTimeout, during the stall: %v after %v; want ErrUnavailable at the 300 ms operation deadline", err, took)
	}
	<-done
}

// freePort returns a loopback port nothing listens on, for a private
// redis-server.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

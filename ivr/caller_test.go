package ivr_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/prompts"
	"github.com/voipshield/tfps/state"
)

// What a real caller meets: the code first, forgiving timing, blocks that
// hold for unknown accounts too, and failures counted exactly once.

// An unknown account that fails its onboarding TFPS_MAX_CAPTCHAATTEMPTS
// times is blocked at the gateway (R18) like a known one, and gets no
// ticket: a scanner cannot keep the voice box busy by redialling.
func TestUnknownAccountFailingIsRejectedR18(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	const user = "2001"
	d := r.decide(user, "+12025550123")
	if d.Result != engine.Verify || d.Flow != engine.FlowOnboarding {
		t.Fatalf("first call of an unknown account: %+v, want verify/onboarding", d)
	}
	c := r.phone.VerifyCall(d.Ticket)
	c.Press(wrong(c.Challenge()))
	c.Press(wrong(c.Challenge()))
	c.WaitPlay("verify-failed", 30*time.Second)
	c.WaitEnd(20 * time.Second)

	d = r.decide(user, "+12025550123")
	if d.Code != engine.V01 {
		t.Fatalf("2 of %d failures: gateway says %s (%s), want V01 again", maxFails, d.Code, d.Reason)
	}
	c = r.phone.VerifyCall(d.Ticket)
	c.Press(wrong(c.Challenge()))
	c.WaitPlay("blocked", 30*time.Second)
	c.WaitEnd(20 * time.Second)
	if n := r.failures(user); n != maxFails {
		t.Errorf("failures of the unknown account in Redis = %d, want %d", n, maxFails)
	}

	d = r.decide(user, "+12025550123")
	if d.Result != engine.Reject || d.Code != engine.R18 || d.Ticket != "" {
		t.Errorf("after %d failed onboardings the gateway says %s %s ticket %q (%s), want reject R18 without a ticket", maxFails, d.Result, d.Code, d.Ticket, d.Reason)
	}
	if _, err := r.db.GetAccount(context.Background(), user, testDomain); tfps.ErrorCode(err) != tfps.ENOTFOUND {
		t.Errorf("an account exists after failed onboardings: %v", err)
	}
}

// Verifications nobody answers are capped: with TFPS_MAX_OPEN_TICKETS (3)
// tickets unclaimed, the next call is rejected R22; a claimed ticket frees
// its place.
func TestOpenTicketCap(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	const user = "3001"
	var tickets []string
	// Other numbers each time: the A->B repeat limit stays out of it.
	for i := range 3 {
		d := r.decide(user, fmt.Sprintf("+1202555012%d", i))
		if d.Code != engine.V01 || d.Ticket == "" {
			t.Fatalf("verification %d: %s (%s), want V01 with a ticket", i+1, d.Code, d.Reason)
		}
		tickets = append(tickets, d.Ticket)
	}
	d := r.decide(user, "+12025550128")
	if d.Result != engine.Reject || d.Code != engine.R22 || d.Ticket != "" {
		t.Fatalf("fourth unanswered verification: %s %s ticket %q (%s), want reject R22 without a ticket", d.Result, d.Code, d.Ticket, d.Reason)
	}
	// The caller answers one verification (the IVR claims its ticket).
	c := r.phone.VerifyCall(tickets[0])
	c.Challenge()
	c.Hangup()
	c.WaitEnd(20 * time.Second)
	if d := r.decide(user, "+12025550129"); d.Code != engine.V01 || d.Ticket == "" {
		t.Errorf("after one verification was answered: %s (%s), want V01 with a ticket", d.Code, d.Reason)
	}
}

// `*` reads the code again, twice, and the caller can then type it.
func TestStarRepeatsTheCode(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *ivr.Options, _ *ivr.Flows) { o.FirstDigit = 10 * time.Second })
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	code := c.Challenge()
	c.WaitPlay("/code-hint", 20*time.Second)
	c.Press("*")
	again := c.Code(4)
	if again != code {
		t.Errorf("after * the IVR read %q, want the same code %q", again, code)
	}
	if second := c.Code(4); second != code {
		t.Errorf("second reading after * is %q, want %q", second, code)
	}
	c.Press(code)
	c.WaitPlay("quota-raised", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if a := r.account(testUser); a.DailyQuota != 2 {
		t.Errorf("quota %d, want 2", a.DailyQuota)
	}
	if n := r.failures(testUser); n != 0 {
		t.Errorf("%d failures after * and the right code", n)
	}
}

// A caller who starts typing 8 s after the code was read still answers
// that code with the shipped first-key window (TFPS_IVR_FIRST_DIGIT_TIMEOUT).
func TestKeyEightSecondsAfterTheCodeCounts(t *testing.T) {
	t.Parallel()
	window := shippedDuration(t, "TFPS_IVR_FIRST_DIGIT_TIMEOUT")
	total := shippedDuration(t, "TFPS_IVR_INPUT_TIMEOUT")
	r := newRig(t, func(o *ivr.Options, _ *ivr.Flows) { o.FirstDigit, o.InputTotal = window, total })
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	code := c.Challenge()
	if again := c.Code(4); again != code {
		t.Fatalf("second reading %q, want %q", again, code)
	}
	c.WaitPlay("/explain-quota", 20*time.Second) // starts as the second reading ends
	read := time.Now()
	time.Sleep(8*time.Second - time.Since(read))
	c.Press(code)
	c.WaitPlay("quota-raised", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if a := r.account(testUser); a.DailyQuota != 2 {
		t.Errorf("quota %d after typing the code 8 s after it was read, want 2", a.DailyQuota)
	}
	if n := r.failures(testUser); n != 0 || c.PlayedAny("no-input") || c.PlayedAny("wrong-entry") {
		t.Errorf("a slow but right answer failed: %d failures, played %q", n, c.Played)
	}
}

// shippedDuration is the default of a duration setting.
func shippedDuration(t *testing.T, name string) time.Duration {
	t.Helper()
	for _, k := range config.Keys() {
		if k.Name == name {
			d, err := time.ParseDuration(k.Default)
			if err != nil {
				t.Fatalf("default of %s: %v", name, err)
			}
			return d
		}
	}
	t.Fatalf("no setting %s", name)
	return 0
}

// Keys typed while the next try is being announced ("here is a new code")
// are dropped, not scored against the new code.
func TestKeysBeforeTheNewCodeAreDiscarded(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	c.Press(wrong(c.Challenge()))
	c.WaitPlay("/code-new", 20*time.Second)
	c.Press("55") // late keys of the caller, before the new code starts
	code := c.Code(4)
	c.Press(code)
	c.WaitPlay("quota-raised", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if a := r.account(testUser); a.DailyQuota != 2 {
		t.Errorf("quota %d, want 2: the right code after stray keys must verify; played %q", a.DailyQuota, c.Played)
	}
	if n := r.failures(testUser); n != 1 {
		t.Errorf("failures %d, want 1 (the first, wrong try)", n)
	}
}

// A key during the code stops the reading and counts (barge-in). The caller
// who types at once is verified in a few seconds: the test reports the
// times from answer to the end of the first reading and to "verified".
func TestBargeInDuringTheCode(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	code := c.Challenge() // the 4th digit has just started
	c.Press(code)
	c.WaitPlay("quota-raised", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if c.PlayedAny("/code-again") || c.Digits() != 4 {
		t.Errorf("keys during the code did not stop it: %d digits read, played %q", c.Digits(), c.Played)
	}
	if a := r.account(testUser); a.DailyQuota != 2 {
		t.Errorf("quota %d, want 2", a.DailyQuota)
	}
	sum, n := r.histogram("tfps_ivr_verified_seconds")
	if n != 1 {
		t.Fatalf("verified_seconds has %d observations, want 1", n)
	}
	t.Logf("caller typing during the first reading: answer -> verified %.2f s", sum)
}

// The caller's times, measured on the real Asterisk: from answer to the
// end of the first reading of the code, and to "verified" for a caller who
// types the code as soon as it has been read once.
func TestCallerTimes(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	code := c.Challenge()
	c.WaitPlay("/code-again", 20*time.Second)
	c.Press(code)
	c.WaitPlay("quota-raised", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	heard, n1 := r.histogram("tfps_ivr_code_heard_seconds")
	verified, n2 := r.histogram("tfps_ivr_verified_seconds")
	if n1 != 1 || n2 != 1 {
		t.Fatalf("observations: code_heard %d, verified %d; want 1 each", n1, n2)
	}
	t.Logf("answer -> end of the first reading of the code: %.2f s; answer -> verified (keys typed after the first reading): %.2f s", heard, verified)
	if heard <= 0 || verified <= heard {
		t.Errorf("times out of order: code heard %.2f s, verified %.2f s", heard, verified)
	}
}

// A caller who hangs up during a prompt ends the session as a hang-up; it is
// no playback failure (tfps_ivr_playback_failures_total counts prompts
// Asterisk could not play).
func TestHangupDuringPromptsIsNoPlaybackFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	for i, at := range []string{"/code-intro", "/digit-", "/code-again", "/explain-quota", "/code-hint"} {
		c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
		c.WaitPlay(at, 20*time.Second)
		time.Sleep(150 * time.Millisecond)
		c.Hangup()
		c.WaitEnd(10 * time.Second)
		if v := r.waitMetric("tfps_ivr_sessions_total", map[string]string{"outcome": "hangup"}, float64(i+1), 10*time.Second); v != float64(i+1) {
			t.Fatalf("hang-up during %s: sessions_total{hangup} = %v, want %d", at, v, i+1)
		}
	}
	if v := r.metric("tfps_ivr_playback_failures_total", nil); v != 0 {
		t.Errorf("playback_failures_total = %v after hang-ups during prompts, want 0", v)
	}
	if n := r.failures(testUser); n != 0 {
		t.Errorf("hang-ups counted %d failures", n)
	}
}

// When Redis answers the failure write too late (the write lands, the reply
// misses TFPS_REDIS_TIMEOUT), the IVR writes it again under the same id: the
// failure counts once, and the caller goes on with the next try instead of
// hearing "service not available".
func TestRedisTimeoutOnFailureWriteCountsOnce(t *testing.T) {
	t.Parallel()
	var slow *state.State
	px := startSlowProxy(t, "127.0.0.1:6379", []byte("vfail"), 900*time.Millisecond)
	r := newRig(t, func(_ *ivr.Options, f *ivr.Flows) {
		st := f.Tickets.(*state.State)
		var err error
		slow, err = state.Open(context.Background(), "redis://"+px.addr+"/0", state.Options{Prefix: st.Keys().Prefix(), Timeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { slow.Close() })
		f.Failures = slow
	})
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	code := c.Challenge() // the session has read the block: what comes next is the write
	px.arm()              // the next write of a failure is answered late
	c.Press(wrong(code))
	c.WaitPlay("/code-new", 20*time.Second)
	if px.delayed.Load() == 0 {
		t.Fatal("the proxy delayed no reply: the test did not exercise a timeout")
	}
	if n := r.failures(testUser); n != 1 {
		t.Errorf("failures in Redis = %d after one wrong entry whose write timed out, want 1", n)
	}
	c.Press(c.Code(4))
	c.WaitPlay("quota-raised", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if c.PlayedAny("unavailable") {
		t.Errorf("the caller heard 'unavailable' although the failure was recorded: %q", c.Played)
	}
	if a := r.account(testUser); a.DailyQuota != 2 {
		t.Errorf("quota %d, want 2", a.DailyQuota)
	}
}

// slowProxy forwards TCP to Redis; once armed, it holds back the reply to
// the next write (ZADD or a script) naming match for delay (the request itself reaches
// Redis at once).
type slowProxy struct {
	addr    string
	match   []byte
	delay   time.Duration
	armed   atomic.Bool
	delayed atomic.Int64
}

func (p *slowProxy) arm() { p.armed.Store(true) }

func startSlowProxy(t *testing.T, target string, match []byte, delay time.Duration) *slowProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{addr: l.Addr().String(), match: match, delay: delay}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			var hold atomic.Bool
			wg.Add(2)
			go func() { // client -> Redis
				defer wg.Done()
				defer out.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := in.Read(buf)
					if n > 0 {
						// A write: ZADD, or a script run (the failure is
						// recorded by a script; the session reads the set
						// before the proxy is armed).
						req := bytes.ToLower(buf[:n])
						write := bytes.Contains(req, []byte("zadd")) || bytes.Contains(req, []byte("evalsha"))
						if bytes.Contains(req, p.match) && write && p.armed.CompareAndSwap(true, false) {
							hold.Store(true)
						}
						if _, werr := out.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
			go func() { // Redis -> client
				defer wg.Done()
				defer in.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := out.Read(buf)
					if n > 0 {
						if hold.CompareAndSwap(true, false) {
							p.delayed.Add(1)
							time.Sleep(p.delay)
						}
						if _, werr := in.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

// missingPrompt serves one prompt as a file Asterisk does not have.
type missingPrompt struct {
	prompts.Source
	id prompts.ID
}

func (m missingPrompt) Media(ctx context.Context, lang string, id prompts.ID) (string, error) {
	if id == m.id {
		return "sound:/nonexistent/tfps-missing-prompt", nil
	}
	return m.Source.Media(ctx, lang, id)
}

// A prompt Asterisk cannot play is counted as a playback failure (the
// operator's alert), while the call goes on to its outcome: the counterpart
// of the hang-up test above, so the metric can not stay at 0 whatever
// happens.
func TestMissingPromptIsAPlaybackFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(_ *ivr.Options, f *ivr.Flows) { f.Prompts = missingPrompt{f.Prompts, prompts.Verified} })
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	c.Press(c.Challenge())
	c.WaitPlay("quota-raised", 30*time.Second)
	c.WaitEnd(20 * time.Second)
	if v := r.waitMetric("tfps_ivr_playback_failures_total", nil, 1, 10*time.Second); v != 1 {
		t.Errorf("playback_failures_total = %v after a missing prompt, want 1", v)
	}
	if a := r.account(testUser); a.DailyQuota <= 1 {
		t.Errorf("quota %d: the verification did not go on past the missing prompt", a.DailyQuota)
	}
}

package ivr_test

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/asterisktest"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/pin"
)

// A new account calls: the gateway asks for onboarding, the caller types the
// spoken digits, the account exists with the default limits, and the
// gateway's next decision approves the call.
func TestCaptchaOnboardingThenGatewayApproves(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	d := r.decide(testUser, "+12025550123")
	if d.Result != engine.Verify || d.Flow != engine.FlowOnboarding || d.Ticket == "" {
		t.Fatalf("first call of an unknown account: %+v, want verify/onboarding with a ticket", d)
	}

	began := time.Now()
	c := r.phone.VerifyCall(d.Ticket)
	digits := c.Challenge()
	if len(digits) != 4 {
		t.Fatalf("challenge %q, want 4 digits", digits)
	}
	keyed := time.Now()
	c.Press(digits)
	// From the first key to the account in SQL: DTMF through Asterisk, the
	// ARI events, the captcha check and the SQL transaction (poll 5 ms).
	var applied time.Duration
	for applied == 0 && time.Since(keyed) < 20*time.Second {
		if _, err := r.db.GetAccount(context.Background(), testUser, testDomain); err == nil {
			applied = time.Since(keyed)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.WaitPlay("redial", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	t.Logf("one captcha verification: %s from dial to hang-up (the prompts' audio, keys sent as soon as the digits start); %s from the first key to the account in SQL (4 keys of 100 ms + 100 ms gaps included)",
		time.Since(began).Round(time.Millisecond), applied.Round(time.Millisecond))

	a := r.account(testUser)
	if a.ConcurrentCalls != 2 || a.DailyQuota != 10 || !a.AllowsDestination("US") || a.Language != "en" {
		t.Errorf("new account %+v, want the default limits and destinations", a)
	}
	ev := r.events(testUser)
	if len(ev) != 1 || ev[0].Outcome != "success" || ev[0].Flow != "onboarding" || ev[0].Method != "captcha" && ev[0].Method != "CAPTCHA" || ev[0].Ticket != d.Ticket {
		t.Errorf("verification events %+v, want one onboarding success with the ticket", ev)
	}
	if got := r.outbox(); !slices.Equal(got, []string{string(tfps.NotifyNewAccount)}) {
		t.Errorf("outbox %q, want one new_account mail", got)
	}
	if n := r.failures(testUser); n != 0 {
		t.Errorf("%d failures in Redis after a success", n)
	}
	if d := r.decide(testUser, "+12025550123"); d.Result != engine.Approve {
		t.Errorf("after onboarding the gateway says %s %s (%s), want approve", d.Result, d.Code, d.Reason)
	}
	c.CheckPromptsPlayed(r.ast.SoundsDir)
	if !c.PlayedAny("/en/code-intro") || !c.PlayedAny("/en/verified") {
		t.Errorf("prompts played %q, want the code intro and 'verified'", c.Played)
	}
	if v := r.waitMetric("tfps_ivr_sessions_total", map[string]string{"outcome": "verified"}, 1, 10*time.Second); v != 1 {
		t.Errorf("sessions_total{verified} = %v", v)
	}
}

// A call to a new destination country: verified, the country is added, and
// the gateway approves the next call there.
func TestNewDestinationThenGatewayApproves(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, DailyQuota: 10, DestinationCountries: []string{"US"}, Language: "es"})
	d := r.decide(testUser, "+442079460000")
	if d.Result != engine.Verify || d.Flow != engine.FlowDestinationCountry || d.Country != "GB" {
		t.Fatalf("call to a new destination: %+v, want verify destination_country GB", d)
	}
	c := r.phone.VerifyCall(d.Ticket)
	code := c.Challenge()
	// After the code, the reason, naming the country: "Las llamadas a
	// Reino Unido son nuevas para su cuenta."
	c.WaitPlay("/es/calls-to", 20*time.Second)
	c.WaitPlay("/es/country-gb", 20*time.Second)
	c.Press(code)
	c.WaitPlay("/es/redial", 30*time.Second)
	c.WaitEnd(20 * time.Second)
	if !c.PlayedAny("/es/code-intro") || !c.PlayedAny("/es/digit-") || !c.PlayedAny("/es/country-added") {
		t.Errorf("Spanish destination prompts not played: %q", c.Played)
	}
	if a := r.account(testUser); !slices.Equal(a.DestinationCountries, []string{"US", "GB"}) {
		t.Errorf("destinations %q, want US, GB", a.DestinationCountries)
	}
	if got := r.outbox(); !slices.Equal(got, []string{string(tfps.NotifyDestinationCountryAdded)}) {
		t.Errorf("outbox %q", got)
	}
	if d := r.decide(testUser, "+442079460000"); d.Result != engine.Approve {
		t.Errorf("after the verification the gateway says %s %s (%s), want approve", d.Result, d.Code, d.Reason)
	}
}

// Wrong digits count as failures across calls; at TFPS_MAX_CAPTCHAATTEMPTS
// the IVR says the account is blocked and the gateway rejects it (R18).
func TestWrongDigitsBlockTheAccountAtTheGateway(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, DailyQuota: 10, DestinationCountries: []string{"US"}})

	// Call 1: two wrong entries (the tries of one call), then "failed".
	d := r.decide(testUser, "+442079460000")
	if d.Result != engine.Verify || d.Flow != engine.FlowDestinationCountry || d.Country != "GB" {
		t.Fatalf("call to a new destination: %+v, want verify destination_country GB", d)
	}
	c := r.phone.VerifyCall(d.Ticket)
	c.Press(wrong(c.Challenge()))
	c.Press(wrong(c.Challenge()))
	c.WaitPlay("verify-failed", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if !c.PlayedAny("wrong-entry") {
		t.Errorf("no 'wrong entry' prompt: %q", c.Played)
	}
	if n := r.failures(testUser); n != 2 {
		t.Fatalf("failures in Redis = %d after two wrong entries, want 2", n)
	}
	if d := r.decide(testUser, "+442079460000"); d.Result != engine.Verify {
		t.Fatalf("2 of 3 failures: gateway says %s %s, want another verify", d.Result, d.Code)
	} else {
		// Call 2: the third failure blocks the account.
		c := r.phone.VerifyCall(d.Ticket)
		c.Press(wrong(c.Challenge()))
		c.WaitPlay("blocked", 20*time.Second)
		c.WaitEnd(20 * time.Second)
	}
	d = r.decide(testUser, "+442079460000")
	if d.Result != engine.Reject || d.Code != engine.R18 {
		t.Errorf("after 3 failures the gateway says %s %s (%s), want reject R18", d.Result, d.Code, d.Reason)
	}
	// A ticket handed out before the block (or by another gateway) meets
	// the block in the IVR at once: no challenge is spoken.
	c = r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowDestinationCountry, User: testUser, Country: "GB"}))
	c.WaitPlay("blocked", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if c.PlayedAny("/digit-") {
		t.Errorf("a blocked account was challenged: %q", c.Played)
	}
	a := r.account(testUser)
	if a.AllowsDestination("GB") {
		t.Error("GB added although every verification failed")
	}
	var outcomes []string
	for _, e := range r.events(testUser) {
		outcomes = append(outcomes, e.Outcome)
	}
	if !slices.Equal(outcomes, []string{"blocked", "blocked", "failure"}) {
		t.Errorf("events newest first %q, want blocked, blocked, failure", outcomes)
	}
	if got := r.outbox(); !slices.Equal(got, []string{"verification_failed", "account_blocked", "account_blocked"}) {
		t.Errorf("outbox %q", got)
	}
}

// failChallenge answers the challenge whose code is digits wrong, as the
// account's call-th verification call (1 or 2) after no success: the first
// call is given a new code, answered wrong too, and hears verify-failed; on
// the second the first wrong answer is the account's third failure, and it
// hears blocked. Either call then ends.
func failChallenge(c *asterisktest.Call, call int, digits string) {
	c.Press(wrong(digits))
	if call == 1 {
		c.Press(wrong(c.Challenge()))
		c.WaitPlay("verify-failed", 20*time.Second)
	} else {
		c.WaitPlay("blocked", 20*time.Second)
	}
	c.WaitEnd(20 * time.Second)
}

func wrong(digits string) string {
	b := []byte(digits)
	for i := range b {
		b[i] = '0' + (b[i]-'0'+1)%10
	}
	return string(b)
}

// No key at all: each try times out, counts as a failure and the call ends.
func TestNoInputTimesOut(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	began := time.Now()
	c.Challenge()
	c.WaitPlay("no-input", 20*time.Second)
	c.Challenge()
	c.WaitPlay("verify-failed", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	t.Logf("two silent tries took %s", time.Since(began).Round(time.Millisecond))
	if n := r.failures(testUser); n != 2 {
		t.Errorf("failures = %d, want 2 (each silent try counts)", n)
	}
	if ev := r.events(testUser); len(ev) != 1 || ev[0].Outcome != "timeout" {
		t.Errorf("events %+v, want one timeout", ev)
	}
	if a := r.account(testUser); a.DailyQuota != 1 {
		t.Errorf("quota changed to %d without verification", a.DailyQuota)
	}
}

// The caller hangs up during the challenge: the session ends at once, its
// goroutines are gone, nothing changes but a "hangup" event. Not parallel:
// it counts the goroutines of the test binary.
func TestHangupMidwayLeavesNoSession(t *testing.T) {
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	before := runtime.NumGoroutine()
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser}))
	c.Challenge()
	if v := r.metric("tfps_ivr_sessions_active", nil); v != 1 {
		t.Errorf("sessions_active = %v during the call", v)
	}
	c.Hangup()
	c.WaitEnd(10 * time.Second)
	if r.waitMetric("tfps_ivr_sessions_total", map[string]string{"outcome": "hangup"}, 1, 10*time.Second) != 1 {
		t.Fatal("session did not end as hangup within 10 s of the hang-up")
	}
	deadline := time.Now().Add(10 * time.Second)
	if v := r.metric("tfps_ivr_sessions_active", nil); v != 0 {
		t.Errorf("sessions_active = %v after the hang-up", v)
	}
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before the call, %d after it ended:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ev := r.events(testUser); len(ev) != 1 || ev[0].Outcome != "hangup" {
		t.Errorf("events %+v, want one hangup", ev)
	}
	if n := r.failures(testUser); n != 0 {
		t.Errorf("a hang-up counted %d failures", n)
	}
	if v := r.metric("tfps_ivr_playback_failures_total", nil); v != 0 {
		t.Errorf("playback_failures_total = %v after a hang-up during the code, want 0 (a hang-up is the caller's outcome)", v)
	}
}

// An unknown ticket and a used one get a short message and a hang-up.
func TestUnknownAndReusedTicket(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	c := r.phone.VerifyCall("0000000000000000")
	c.WaitPlay("ticket-invalid", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if c.PlayedAny("/digit-") {
		t.Error("unknown ticket was challenged")
	}

	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 5})
	id := r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser})
	c = r.phone.VerifyCall(id)
	c.Press(c.Challenge())
	c.WaitPlay("quota-raised", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if a := r.account(testUser); a.DailyQuota != 6 {
		t.Errorf("quota %d after verification, want 6", a.DailyQuota)
	}

	c = r.phone.VerifyCall(id)
	c.WaitPlay("ticket-invalid", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if a := r.account(testUser); a.DailyQuota != 6 {
		t.Errorf("reused ticket raised the quota again to %d", a.DailyQuota)
	}
	if v := r.waitMetric("tfps_ivr_sessions_total", map[string]string{"outcome": "ticket_invalid"}, 2, 10*time.Second); v != 2 {
		t.Errorf("sessions_total{ticket_invalid} = %v, want 2", v)
	}
}

// Full onboarding asks the limits: invalid answers are asked again, valid
// ones are stored and read back.
func TestFullOnboardingAsksTheLimits(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *ivr.Options, _ *ivr.Flows) { o.FullOnboarding = true; o.InputTries = 3 })
	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowOnboarding, User: testUser}))
	c.Press(c.Challenge())
	c.WaitPlay("ask-concurrent", 20*time.Second)
	c.Press("0") // not allowed: at least 1
	c.WaitPlay("invalid-answer", 20*time.Second)
	c.WaitPlay("ask-concurrent", 20*time.Second)
	c.Press("3")
	c.WaitPlay("ask-quota", 20*time.Second)
	c.Press("#") // empty answer
	c.WaitPlay("invalid-answer", 20*time.Second)
	c.WaitPlay("ask-quota", 20*time.Second)
	c.Press("7#") // one digit, then #
	// A PIN of their own for the change menu, typed twice.
	c.WaitPlay("pin-new", 20*time.Second)
	c.Press("2580#")
	c.WaitPlay("pin-again", 20*time.Second)
	c.Press("2580#")
	c.WaitPlay("number:7", 20*time.Second)
	c.WaitPlay("redial", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if !c.PlayedAny("number:3") {
		t.Errorf("concurrent calls not read back: %q", c.Played)
	}
	a := r.account(testUser)
	if a.ConcurrentCalls != 3 || a.DailyQuota != 7 || a.ConcurrentCallsOff != 1 || a.DailyQuotaOff != 2 {
		t.Errorf("account %+v, want 3 concurrent and 7 a day (off hours from the defaults)", a)
	}
	if !pin.Verify(a.PINHash, "2580") {
		t.Error("the PIN typed at onboarding was not stored")
	}
	c.CheckPromptsPlayed(r.ast.SoundsDir)

	// Two digits end the answer without #.
	c = r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowOnboarding, User: "1002"}))
	c.Press(c.Challenge())
	c.WaitPlay("ask-concurrent", 20*time.Second)
	c.Press("9")
	c.WaitPlay("ask-quota", 20*time.Second)
	c.Press("45")
	c.WaitPlay("pin-new", 20*time.Second)
	c.Press("1111#")
	c.WaitPlay("pin-again", 20*time.Second)
	c.Press("1111#")
	c.WaitPlay("number:45", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if a := r.account("1002"); a.ConcurrentCalls != 9 || a.DailyQuota != 45 {
		t.Errorf("account %+v, want 9 and 45", a)
	}
}

// PIN method: the account's own PIN (hashed) opens it, the global one does
// not; an account without a PIN uses TFPS_PIN.
func TestPINMethod(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *ivr.Options, _ *ivr.Flows) { o.Method = ivr.MethodPIN })
	h, err := pin.Hash("2468")
	if err != nil {
		t.Fatal(err)
	}
	r.createAccount(&tfps.Account{User: testUser, DailyQuotaOff: 3, PINHash: h, SourceCountries: []string{"US"}})
	r.createAccount(&tfps.Account{User: "1002"})

	c := r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowQuotaOff, User: testUser}))
	c.WaitPlay("pin-ask", 20*time.Second)
	c.Press("4321#") // the global PIN: refused for an account with its own
	c.WaitPlay("wrong-entry", 20*time.Second)
	c.WaitPlay("pin-ask", 20*time.Second)
	c.Press("2468#")
	c.WaitPlay("quota-raised", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if a := r.account(testUser); a.DailyQuotaOff != 4 {
		t.Errorf("off-hours quota %d, want 4", a.DailyQuotaOff)
	}
	if n := r.failures(testUser); n != 1 {
		t.Errorf("failures %d, want 1 (the global PIN try)", n)
	}

	c = r.phone.VerifyCall(r.ticket(engine.Ticket{Flow: engine.FlowSourceCountry, User: "1002", Country: "MX"}))
	c.WaitPlay("pin-ask", 20*time.Second)
	c.Press("4321#")
	c.WaitPlay("country-added", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if a := r.account("1002"); !a.AllowsSource("MX") {
		t.Errorf("source countries %q, want MX added", a.SourceCountries)
	}
	if c.PlayedAny("/digit-") {
		t.Error("captcha digits played with the PIN method")
	}
}

// The change of parameters, reached from extension 877 of tfps-change, is
// PIN protected whatever the method; its menu sets the limits (the whole
// menu: menu_e2e_test.go).
func TestChangeOfParametersNeedsThePIN(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil) // method CAPTCHA: change still asks the PIN
	h, _ := pin.Hash("1357")
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 1, DailyQuota: 5, PINHash: h, Language: "es"})

	c := r.phone.Dial("tfps-change", "877", map[string]string{"TFPS_DOMAIN": testDomain}, testUser)
	c.WaitPlay("/es/pin-ask", 20*time.Second)
	c.Press("1357")
	c.WaitPlay("/es/menu-concurrent", 20*time.Second)
	c.Press("1")
	c.WaitPlay("/es/ask-concurrent", 20*time.Second)
	c.Press("4")
	c.WaitPlay("/es/confirm", 20*time.Second)
	c.Press("1")
	c.WaitPlay("/es/menu-concurrent", 20*time.Second)
	c.Press("3")
	c.WaitPlay("/es/ask-quota", 20*time.Second)
	c.Press("30")
	c.WaitPlay("/es/confirm", 20*time.Second)
	c.Press("1")
	c.WaitPlay("/es/menu-concurrent", 20*time.Second)
	c.Press("0")
	c.WaitPlay("/es/saved", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	a := r.account(testUser)
	if a.ConcurrentCalls != 4 || a.DailyQuota != 30 {
		t.Errorf("account %+v, want 4 and 30", a)
	}
	if got := r.outbox(); !slices.Equal(got, []string{string(tfps.NotifyLearnedParameters)}) {
		t.Errorf("outbox %q", got)
	}
	ev := r.events(testUser)
	if len(ev) != 1 || ev[0].Flow != "change" || ev[0].Method != "PIN" || ev[0].Outcome != "success" {
		t.Errorf("events %+v", ev)
	}

	// An unknown account cannot change anything.
	c = r.phone.Dial("tfps-change", "877", map[string]string{"TFPS_DOMAIN": testDomain}, "9999")
	c.WaitPlay("ticket-invalid", 20*time.Second)
	c.WaitEnd(20 * time.Second)
}

// A verified call can go on in the dialplan instead of a redial.
func TestContinueInDialplan(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.createAccount(&tfps.Account{User: testUser, DailyQuota: 1})
	id := r.ticket(engine.Ticket{Flow: engine.FlowQuota, User: testUser})
	// tfps-test-continue is the shipped tfps-verify-continue example whose
	// "dial" step hands the call to the test phone's app instead.
	c := r.phone.Dial("tfps-test-continue", "V"+id, nil, "")
	c.Press(c.Challenge())
	c.WaitPlay("quota-raised", 20*time.Second)
	args := c.WaitStasis(20 * time.Second)
	if !slices.Equal(args, []string{"continued", "verified"}) {
		t.Errorf("after the IVR the dialplan went on with %q, want continued,verified", args)
	}
	c.Hangup()
	c.WaitEnd(20 * time.Second)
	if c.PlayedAny("redial") {
		t.Error("asked to redial although the call continues")
	}
	if a := r.account(testUser); a.DailyQuota != 2 {
		t.Errorf("quota %d, want 2", a.DailyQuota)
	}
}

package ivr_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/asterisktest"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/pin"
	"github.com/voipshield/tfps/prompts"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

// rig is one end-to-end set-up: a private Asterisk 22, the test Redis under
// a private prefix, a fresh SQLite store, the decision engine on both, the
// IVR app connected over ARI, and a test phone.
type rig struct {
	t     *testing.T
	ast   *asterisktest.Asterisk
	st    *state.State
	db    *store.Store
	eng   *engine.Engine
	flows *ivr.Flows
	reg   *prometheus.Registry
	phone *phone
}

const (
	testUser   = "1001"
	testDomain = "pbx.example.com"
	maxFails   = 3
)

// testDialplan is the shipped tfps-verify-continue context with the test
// phone's app in place of the Dial.
const testDialplan = `
[tfps-test-continue]
exten => _V.,1,Stasis(tfps,${EXTEN:1},continue)
 same => n,GotoIf($["${TFPS_RESULT}" = "verified"]?verified)
 same => n,Hangup()
 same => n(verified),Stasis(caller,continued,${TFPS_RESULT})
 same => n,Hangup()
`

func testOptions() ivr.Options {
	return ivr.Options{
		Method:        ivr.MethodCaptcha,
		PIN:           pin.Checker{Global: "4321"},
		MaxFailures:   maxFails,
		FailureWindow: time.Hour,
		CaptchaTries:  2,
		InputTries:    2,
		MaxConcurrent: 9,
		Defaults: tfps.Account{
			ConcurrentCalls: 2, ConcurrentCallsOff: 1, DailyQuota: 10, DailyQuotaOff: 2,
			DestinationCountries: []string{"US"},
		},
		DefaultLanguage: "en",
		FirstDigit:      2 * time.Second,
		InterDigit:      time.Second,
		InputTotal:      6 * time.Second,
	}
}

// copySounds puts the shipped, pre-rendered prompts where Asterisk reads them.
func copySounds(t testing.TB, dst string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "sounds")
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy sounds/: %v", err)
	}
}

func newRig(t *testing.T, mod func(*ivr.Options, *ivr.Flows)) *rig {
	t.Helper()
	r := &rig{t: t, reg: prometheus.NewRegistry()}
	r.ast = asterisktest.StartWith(t, asterisktest.Options{Dialplan: testDialplan})
	copySounds(t, r.ast.HostPath(r.ast.SoundsDir))
	r.st = state.MustOpen(t)
	r.db = store.MustOpen(t, store.SQLite)
	ctx := context.Background()

	eng, err := engine.New(ctx, engine.Deps{
		Accounts: r.db, Lists: r.db, Changes: r.db, Log: r.db,
		Counters: state.NewDecideCounters(r.st), Reputation: reputation.Local{},
	}, engine.Options{MaxFailures: maxFails, FailureWindow: time.Hour, TicketTTL: time.Minute, CacheRefresh: 50 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	r.eng = eng

	r.flows = &ivr.Flows{
		Tickets: r.st, Failures: r.st, Accounts: r.db,
		Recorder: &ivr.SQLRecorder{Store: r.db, Notifier: r.db},
		Prompts:  prompts.Rendered{Base: r.ast.SoundsDir},
		Opts:     testOptions(),
		Now:      time.Now,
		Log:      testLogger(t),
	}
	if mod != nil {
		mod(&r.flows.Opts, r.flows)
	}
	r.startApp()
	r.phone = newPhone(t, r.ast)
	return r
}

// startApp connects the IVR app over ARI and runs it until cleanup, then
// checks it stops cleanly.
func (r *rig) startApp() {
	t := r.t
	cl, err := native.Connect(r.ast.Options("tfps", false))
	if err != nil {
		t.Fatalf("connect IVR to ARI: %v", err)
	}
	app := ivr.NewApp(cl, r.flows, ivr.AppOptions{Name: "tfps", Drain: 5 * time.Second, Registerer: r.reg, Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("app.Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("app.Run did not return within 15 s of shutdown")
		}
		cl.Close()
	})
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("TFPS_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quietLogger()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// decide asks the gateway's engine about a call of the test account to
// number from a private address (no source-country check).
func (r *rig) decide(user, number string) engine.Decision {
	r.t.Helper()
	ctx := context.Background()
	if err := r.eng.Refresh(ctx); err != nil {
		r.t.Fatalf("refresh engine: %v", err)
	}
	d, err := r.eng.Decide(ctx, engine.Call{
		User: user, Domain: testDomain, SourceIP: netip.MustParseAddr("10.1.2.3"), UserAgent: "Yealink",
		ConcurrentCalls: 1, Number: number, Caller: "+12125550100",
		CallID: fmt.Sprintf("call-%d", time.Now().UnixNano()), FromTag: "t", Time: time.Now(), Transport: "sip",
	})
	if err != nil {
		r.t.Fatalf("decide: %v", err)
	}
	return d
}

func (r *rig) account(user string) *tfps.Account {
	r.t.Helper()
	a, err := r.db.GetAccount(context.Background(), user, testDomain)
	if err != nil {
		r.t.Fatalf("account %s: %v", user, err)
	}
	return a
}

func (r *rig) events(user string) []tfps.VerificationEvent {
	r.t.Helper()
	ev, err := r.db.VerificationEvents(context.Background(), user, testDomain, 100)
	if err != nil {
		r.t.Fatal(err)
	}
	return ev
}

// outbox returns the kinds of queued notifications of the test domain.
func (r *rig) outbox() []string {
	r.t.Helper()
	rows, err := r.db.DB().QueryContext(context.Background(), `SELECT kind FROM outbox ORDER BY created_at, id`)
	if err != nil {
		r.t.Fatalf("read outbox: %v", err)
	}
	defer rows.Close()
	var kinds []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			r.t.Fatal(err)
		}
		kinds = append(kinds, k)
	}
	return kinds
}

func (r *rig) failures(user string) int {
	r.t.Helper()
	_, _, n, err := r.st.VerifyBlock(context.Background(), user, testDomain, time.Now(), time.Hour, maxFails)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func (r *rig) createAccount(a *tfps.Account) {
	r.t.Helper()
	if a.Domain == "" {
		a.Domain = testDomain
	}
	if err := r.db.CreateAccount(context.Background(), a); err != nil {
		r.t.Fatal(err)
	}
}

// ticket creates a ticket directly, as the gateway would.
func (r *rig) ticket(tk state.Ticket) string {
	r.t.Helper()
	if tk.Domain == "" {
		tk.Domain = testDomain
	}
	tk.CreatedAt = time.Now()
	id, err := r.st.CreateTicket(context.Background(), tk, time.Minute)
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

// metric reads a counter/gauge value from the IVR's registry.
func (r *rig) metric(name string, labels map[string]string) float64 {
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// phone is the test caller: an ARI app ("caller") that sees every event of
// the box, originates Local channels into the dialplan and types keys on
// its leg. One dispatcher routes events to the call they concern.
type phone struct {
	t     testing.TB
	cl    ari.Client
	mu    sync.Mutex
	calls map[string]chan ari.Event // by IVR-side channel ID
	seq   int
}

func newPhone(t testing.TB, a *asterisktest.Asterisk) *phone {
	p := &phone{t: t, cl: a.Client(t, "caller", true), calls: map[string]chan ari.Event{}}
	sub := p.cl.Bus().Subscribe(nil, ari.Events.PlaybackStarted, ari.Events.PlaybackFinished, ari.Events.ChannelDestroyed, ari.Events.StasisEnd, ari.Events.StasisStart)
	t.Cleanup(sub.Cancel)
	go func() {
		for e := range sub.Events() {
			var id string
			switch v := e.(type) {
			case *ari.PlaybackStarted:
				id = strings.TrimPrefix(v.Playback.TargetURI, "channel:")
			case *ari.PlaybackFinished:
				id = strings.TrimPrefix(v.Playback.TargetURI, "channel:")
			case *ari.ChannelDestroyed:
				id = v.Channel.ID
			case *ari.StasisEnd:
				id = v.Channel.ID
			case *ari.StasisStart:
				if v.GetApplication() != "caller" {
					continue
				}
				id = v.Channel.ID
			}
			p.mu.Lock()
			ch := p.calls[id]
			p.mu.Unlock()
			if ch != nil {
				select {
				case ch <- e:
				default:
					t.Errorf("test phone: event buffer of %s full", id)
				}
			}
		}
	}()
	return p
}

// testCall is one call of the test phone. Its methods are used by one
// goroutine.
type testCall struct {
	p          *phone
	leg1, leg2 string // our leg, the IVR's leg
	events     chan ari.Event
	played     []string // media URIs whose playback started
	failed     []string // media URIs Asterisk could not play
	done       []string // media URIs played to the end (state done)
	ended      bool
}

// dial calls exten in context (tfps-verify: "V<ticket>").
func (p *phone) dial(context, exten string, vars map[string]string, callerID string) *testCall {
	p.t.Helper()
	p.mu.Lock()
	p.seq++
	c := &testCall{p: p, leg1: fmt.Sprintf("phone-%d-%d", time.Now().UnixNano(), p.seq), events: make(chan ari.Event, 512)}
	c.leg2 = c.leg1 + "-ivr"
	p.calls[c.leg2] = c.events
	p.mu.Unlock()
	_, err := p.cl.Channel().Originate(nil, ari.OriginateRequest{
		Endpoint: "Local/" + exten + "@" + context + "/n", App: "caller", Timeout: 10,
		ChannelID: c.leg1, OtherChannelID: c.leg2, Variables: vars, CallerID: callerID,
	})
	if err != nil {
		p.t.Fatalf("originate %s@%s: %v", exten, context, err)
	}
	return c
}

// verifyCall dials a ticket in the verification context.
func (p *phone) verifyCall(ticket string) *testCall {
	return p.dial("tfps-verify", "V"+ticket, nil, "")
}

func (c *testCall) note(e ari.Event) {
	switch v := e.(type) {
	case *ari.PlaybackStarted:
		c.played = append(c.played, v.Playback.MediaURI)
	case *ari.PlaybackFinished:
		if v.Playback.State == "failed" {
			c.failed = append(c.failed, v.Playback.MediaURI)
		} else {
			c.done = append(c.done, v.Playback.MediaURI)
		}
	case *ari.ChannelDestroyed:
		c.ended = true
	}
}

// waitPlay waits until a playback whose media URI contains want starts and
// returns its URI; "" (and a test error) when the call ends first.
func (c *testCall) waitPlay(want string, within time.Duration) string {
	c.p.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case e := <-c.events:
			c.note(e)
			if s, ok := e.(*ari.PlaybackStarted); ok && strings.Contains(s.Playback.MediaURI, want) {
				return s.Playback.MediaURI
			}
			if c.ended {
				c.p.t.Errorf("call ended before %q played; played: %q", want, c.played)
				return ""
			}
		case <-timeout:
			c.p.t.Errorf("%q did not play within %s; played: %q", want, within, c.played)
			return ""
		}
	}
}

// waitStasis waits until the IVR's leg enters the phone's app (the
// dialplan went on after the IVR) and returns the app arguments.
func (c *testCall) waitStasis(within time.Duration) []string {
	c.p.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case e := <-c.events:
			c.note(e)
			if s, ok := e.(*ari.StasisStart); ok {
				return s.Args
			}
			if c.ended {
				c.p.t.Errorf("call ended before the dialplan went on; played: %q", c.played)
				return nil
			}
		case <-timeout:
			c.p.t.Errorf("dialplan did not go on within %s; played: %q", within, c.played)
			return nil
		}
	}
}

// challenge waits for the captcha digits and returns them.
func (c *testCall) challenge() string {
	return strings.TrimPrefix(c.waitPlay("digits:", 30*time.Second), "digits:")
}

// press types keys on our leg; they reach the IVR leg as DTMF.
func (c *testCall) press(keys string) {
	c.p.t.Helper()
	err := c.p.cl.Channel().SendDTMF(ari.NewKey(ari.ChannelKey, c.leg1), keys, &ari.DTMFOptions{Duration: 100 * time.Millisecond, Between: 100 * time.Millisecond})
	if err != nil {
		c.p.t.Errorf("send DTMF %q: %v", keys, err)
	}
}

// hangup hangs up our leg.
func (c *testCall) hangup() {
	_ = c.p.cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, c.leg1), "normal")
}

// waitEnd waits until the IVR leg is destroyed.
func (c *testCall) waitEnd(within time.Duration) {
	c.p.t.Helper()
	timeout := time.After(within)
	for !c.ended {
		select {
		case e := <-c.events:
			c.note(e)
		case <-timeout:
			c.p.t.Errorf("call still up after %s; played: %q", within, c.played)
			return
		}
	}
	// Events of the last moments (PlaybackFinished after destroy) are not
	// needed; the call is over.
	c.p.mu.Lock()
	delete(c.p.calls, c.leg2)
	c.p.mu.Unlock()
}

// playedAny reports whether a media URI containing s started.
func (c *testCall) playedAny(s string) bool {
	for _, m := range c.played {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// checkPromptsPlayed fails when Asterisk could not play a prompt, and when
// none of our rendered prompts played to the end.
func (c *testCall) checkPromptsPlayed(base string) {
	c.p.t.Helper()
	if len(c.failed) > 0 {
		c.p.t.Errorf("Asterisk could not play %q", c.failed)
	}
	for _, m := range c.done {
		if strings.HasPrefix(m, "sound:"+base) {
			return
		}
	}
	c.p.t.Errorf("no prompt under %s played to its end; done: %q, played: %q", base, c.done, c.played)
}

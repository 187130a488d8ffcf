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
	"testing"
	"time"

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
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
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
	phone *asterisktest.Phone
	calls int // ruleCall: the calls asked about so far
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
exten => _VXXXXXXXXXXXXXXXX,1,Stasis(tfps,${EXTEN:1},continue)
 same => n,GotoIf($["${TFPS_RESULT}" = "verified"]?verified)
 same => n,Hangup()
 same => n(verified),Stasis(caller,continued,${TFPS_RESULT})
 same => n,Hangup()

; A verification box whose dialplan still has the loose pattern of earlier
; releases: the IVR itself must refuse what it lets through.
[tfps-test-loose]
exten => _V.,1,Stasis(tfps,${EXTEN:1})
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
	r.st = statetest.MustOpen(t)
	r.db = storetest.MustOpen(t, store.SQLite)
	ctx := context.Background()

	eng, err := engine.New(ctx, engine.Deps{
		Accounts: r.db, Lists: r.db, Changes: r.db, Log: r.db, Ranges: r.db,
		Counters: state.NewDecideCounters(r.st), Reputation: reputation.Local{}, Domains: r.db, Rules: r.db,
	}, engine.Options{MaxFailures: maxFails, FailureWindow: time.Hour, TicketTTL: time.Minute, CacheRefresh: 50 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	r.eng = eng

	r.flows = &ivr.Flows{
		Tickets: r.st, Failures: r.st, Accounts: r.db,
		Recorder: r.db,
		Prompts:  prompts.Rendered{Base: r.ast.SoundsDir},
		Opts:     testOptions(),
		Now:      time.Now,
		Log:      testLogger(t),
	}
	if mod != nil {
		mod(&r.flows.Opts, r.flows)
	}
	r.startApp()
	r.phone = asterisktest.NewPhone(t, r.ast)
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

// ticket stores tk as a verify decision does (the engine's Counters),
// valid for a minute from now, and returns its id.
func (r *rig) ticket(tk engine.Ticket) string {
	r.t.Helper()
	if tk.Domain == "" {
		tk.Domain = testDomain
	}
	tk.Created = time.Now()
	tk.Expires = tk.Created.Add(time.Minute)
	req := &engine.CountRequest{Now: tk.Created, User: tk.User, Domain: tk.Domain, Ticket: &tk}
	if _, err := state.NewDecideCounters(r.st).Count(context.Background(), req); err != nil {
		r.t.Fatalf("issue ticket: %v", err)
	}
	return tk.ID
}

// waitMetric polls a metric until it equals want or d has passed, and
// returns its last value. A session records its outcome after the channel
// is gone, so a test that has seen the call end must wait for the count.
func (r *rig) waitMetric(name string, labels map[string]string, want float64, d time.Duration) float64 {
	deadline := time.Now().Add(d)
	for {
		v := r.metric(name, labels)
		if v == want || time.Now().After(deadline) {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
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

// histogram returns the sum and count of a histogram of the IVR's registry.
func (r *rig) histogram(name string) (float64, uint64) {
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleSum(), h.GetSampleCount()
		}
	}
	return 0, 0
}

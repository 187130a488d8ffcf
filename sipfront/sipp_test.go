package sipfront_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/sipfront"
	"github.com/voipshield/tfps/sipfront/sipptest"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// rig is a real engine (SQLite, Redis) behind a SIP front on loopback.
type rig struct {
	eng   *engine.Engine
	db    *store.Store
	st    *state.State
	front *sipfront.Server
	reg   *prometheus.Registry
	udp   string // 127.0.0.1:port
	tcp   string
	mon   string // the monitor listener (ServeMonitorUDP), 127.0.0.1:port
}

func newRig(t *testing.T, opts sipfront.Options) *rig {
	t.Helper()
	ctx := context.Background()
	db := storetest.MustOpen(t, "sqlite")
	st := statetest.MustOpen(t)
	// The account every approving test uses.
	if err := db.CreateAccount(ctx, &tfps.Account{
		User: "alice", Domain: "pbx.example.com", ConcurrentCalls: 5, ConcurrentCallsOff: 5,
		DailyQuota: 1000, DailyQuotaOff: 1000, SourceCountries: []string{"US"}, DestinationCountries: []string{"US", "GB"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAccount(ctx, &tfps.Account{
		User: "mallory", Domain: "pbx.example.com", ConcurrentCalls: 5, DailyQuota: 10,
		SourceCountries: []string{"US"}, DestinationCountries: []string{"US"}, Blocked: true,
	}); err != nil {
		t.Fatal(err)
	}
	// An account only watched (monitor mode) while the gateway enforces.
	if err := db.CreateAccount(ctx, &tfps.Account{
		User: "watched", Domain: "pbx.example.com", ConcurrentCalls: 5, ConcurrentCallsOff: 5, DailyQuota: 1000, DailyQuotaOff: 1000,
		SourceCountries: []string{"US"}, DestinationCountries: []string{"US"}, Mode: tfps.ModeMonitor,
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddBlacklist(ctx, &tfps.BlacklistEntry{Kind: tfps.BlacklistNumber, Value: "4420794600"}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	eng, err := engine.New(ctx, engine.Deps{
		Accounts: db, Lists: db, Changes: db, Log: db, Ranges: db,
		Counters: state.NewDecideCounters(st), Reputation: reputation.Local{}, Rules: db, Calls: state.NewDecideCounters(st),
	}, engine.Options{TicketTTL: time.Minute, BuiltinUserAgents: true, LimitAction: config.LimitActionReject, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	r := &rig{eng: eng, db: db, st: st, reg: reg}
	if opts.Allow == nil {
		opts.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	opts.Registerer = r.reg
	r.front, err = sipfront.New(eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := sipfront.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mc, err := sipfront.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.udp, r.tcp, r.mon = uc.LocalAddr().String(), ln.Addr().String(), mc.LocalAddr().String()
	go r.front.ServeUDP(uc)
	go r.front.ServeTCP(ln)
	go r.front.ServeMonitorUDP(mc)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.front.Close(ctx)
	})
	return r
}

type call = sipptest.Call

func (r *rig) sipp(t *testing.T, c call) string {
	t.Helper()
	target := r.udp
	if c.Transport == "t1" {
		target = r.tcp
	}
	return sipptest.Run(t, target, c)
}

func contactOf(t *testing.T, logged string) (user, host string) {
	t.Helper()
	return sipptest.Contact(t, logged)
}

func TestApproveAndRejectBothMethods(t *testing.T) {
	r302 := newRig(t, sipfront.Options{Method: 302, ContactHost: "192.0.2.1"})
	r503 := newRig(t, sipfront.Options{Method: 503})
	ptfps := func(user, ua string) string {
		return "P-tfps: " + user + ";pbx.example.com;127.0.0.1;" + ua + ";1"
	}
	tests := []struct {
		name      string
		c         call
		contact   string // 302 mode: Contact user expected
		status503 int
	}{
		{"approved P-tfps", call{Number: "+12125550100", FromUser: "100", Headers: []string{ptfps("alice", "Yealink T46U")}}, "A00+12125550100", 503},
		{"approved X-tfps", call{Number: "+12125550101", FromUser: "101", Headers: []string{"X-tfps: alice@pbx.example.com", "P-Received: 10.1.2.3", "P-UA: Grandstream", "P-Calls: 2"}}, "A00+12125550101", 503},
		{"approved From fallback", call{Number: "+12125550102", FromUser: "alice"}, "A00+12125550102", 503},
		{"R01 scanner user agent", call{Number: "+12125550103", FromUser: "100", Headers: []string{ptfps("alice", "friendly-scanner")}}, "R01+12125550103", 603},
		{"R03 number blacklisted", call{Number: "+442079460000", FromUser: "100", Headers: []string{ptfps("alice", "x")}}, "R03+442079460000", 603},
		{"R17 account blocked", call{Number: "+12125550104", FromUser: "100", Headers: []string{ptfps("mallory", "x")}}, "R17+12125550104", 603},
		{"R10 too many calls", call{Number: "+12125550105", FromUser: "100", Headers: []string{"P-tfps: alice;pbx.example.com;127.0.0.1;x;6"}}, "R10+12125550105", 603},
		{"R12 injection in Contact", call{Number: "+12125550106", FromUser: "100", Contact: "1'or'1", Headers: []string{ptfps("alice", "x")}}, "R12+12125550106", 603},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Status = 302
			user, host := contactOf(t, r302.sipp(t, c))
			if user != tc.contact || host != "192.0.2.1" {
				t.Errorf("302 Contact = %s@%s, want %s@192.0.2.1", user, host, tc.contact)
			}
			c.Status = tc.status503
			r503.sipp(t, c)
		})
	}
	if got := counterValue(t, r302.reg, "tfps_sip_responses_total", "302"); got != float64(len(tests)) {
		t.Errorf("302 responses counted %v, want %d", got, len(tests))
	}
	// The injection-looking Contact is the engine's R12, counted as every
	// other code.
	if got := counterValue(t, r302.reg, "tfps_decisions_total", "R12"); got != 1 { // labels sorted: code, enforced, result
		t.Errorf("R12 decisions counted %v, want 1", got)
	}
}

func TestVerifyRedirectCarriesClaimableTicket(t *testing.T) {
	for _, method := range []int{302, 503} {
		t.Run(fmt.Sprint(method), func(t *testing.T) {
			r := newRig(t, sipfront.Options{Method: method, IVRAddress: "198.51.100.7:5080"})
			logged := r.sipp(t, call{Number: "+12125550100", FromUser: "200", Headers: []string{"P-tfps: bob;newpbx.example.com;127.0.0.1;Yealink;1"}, Status: 302})
			user, host := contactOf(t, logged)
			if host != "198.51.100.7:5080" || !strings.HasPrefix(user, "V") {
				t.Fatalf("verify Contact = %s@%s, want V<ticket>@198.51.100.7:5080", user, host)
			}
			tk, err := r.st.ClaimTicket(context.Background(), strings.TrimPrefix(user, "V"), time.Now())
			if err != nil {
				t.Fatalf("claim ticket %s: %v", user, err)
			}
			if tk.User != "bob" || tk.Domain != "newpbx.example.com" || tk.Flow != engine.FlowOnboarding || tk.Number != "+12125550100" {
				t.Errorf("ticket = %+v", tk)
			}
		})
	}
}

func TestPreAdmission(t *testing.T) {
	r := newRig(t, sipfront.Options{Method: 302})
	tests := []struct {
		name string
		c    call
	}{
		{"loop A prefix", call{Number: "A00+12125550100", FromUser: "alice", Status: 482}},
		{"loop R prefix", call{Number: "R05+12125550100", FromUser: "alice", Status: 482}},
		{"empty request user", call{Number: "", FromUser: "alice", Status: 484}},
		{"max-forwards exhausted", call{Number: "+12125550100", FromUser: "alice", MaxForwards: "0", Status: 483}},
		{"method not allowed", call{Method: "MESSAGE", Number: "+12125550100", FromUser: "alice", Status: 405}},
		{"options health check", call{Method: "OPTIONS", Number: "ping", FromUser: "kamailio", Status: 200}},
		{"bye without dialog", call{Method: "BYE", Number: "+12125550100", FromUser: "alice", Status: 481}},
		{"over tcp", call{Number: "+12125550107", FromUser: "alice", Status: 302, Transport: "t1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r.sipp(t, tc.c)
		})
	}
}

// counterValue reads a counter from reg; labels are matched in order.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, label ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			ok := true
			for i, l := range m.Label {
				if i < len(label) && l.GetValue() != label[i] {
					ok = false
				}
			}
			if ok {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/store"
)

// Local stand-ins for the two internet services, answering as their public
// documentation describes (AbuseIPDB API v2 GET /check; APIBAN
// GET /api/{KEY}/banned/{ID}). Nothing here reaches the internet.
type fakeServices struct {
	abuse, apiban *httptest.Server
	abuseCalls    atomic.Int64
	release       chan struct{} // the hanging address answers once closed
	once          sync.Once
}

const (
	repAbuseKey  = "abuse-key"
	repAPIBanKey = "apibankey"
	ipScored     = "198.51.100.66"  // AbuseIPDB: score 90
	ipWhite      = "198.51.100.67"  // AbuseIPDB: score 100 but whitelisted
	ipBanned     = "198.51.100.77"  // APIBAN lists it
	ipHanging    = "198.51.100.111" // AbuseIPDB never answers (until release)
	// 8.8.8.8 is US in the offline table; AbuseIPDB says GB.
)

func newFakeServices(t *testing.T) *fakeServices {
	f := &fakeServices{release: make(chan struct{})}
	t.Cleanup(f.releaseHanging)
	f.abuse = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.abuseCalls.Add(1)
		if r.Header.Get("Key") != repAbuseKey {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"detail":"Authentication failed.","status":401}]}`)
			return
		}
		ip := r.URL.Query().Get("ipAddress")
		score, cc, white := 0, "US", false
		switch ip {
		case ipScored:
			score = 90
		case ipWhite:
			score, white = 100, true
		case "8.8.8.8":
			cc = "GB"
		case ipHanging:
			<-f.release
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
			"ipAddress": ip, "isPublic": true, "abuseConfidenceScore": score, "countryCode": cc,
			"isWhitelisted": white, "usageType": "Fixed Line ISP", "totalReports": score,
		}})
	}))
	t.Cleanup(f.abuse.Close)
	f.apiban = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/" + repAPIBanKey + "/banned/100":
			fmt.Fprintf(w, `{"ipaddress":["%s","203.0.113.5"],"ID":"1700000001"}`, ipBanned)
		case "/api/" + repAPIBanKey + "/banned/1700000001":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"ipaddress":["no new bans"],"ID":"none"}`)
		default:
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"ipaddress":["unauthorized"],"ID":"unauthorized"}`)
		}
	}))
	t.Cleanup(f.apiban.Close)
	return f
}

func (f *fakeServices) releaseHanging() { f.once.Do(func() { close(f.release) }) }

func (f *fakeServices) vars(budget time.Duration) map[string]string {
	return map[string]string{
		"TFPS_ABUSE_DB_KEY": repAbuseKey, "TFPS_ABUSEIPDB_URL": f.abuse.URL + "/api/v2",
		"TFPS_APIBAN_KEY": repAPIBanKey, "TFPS_APIBAN_URL": f.apiban.URL + "/api",
		"TFPS_REPUTATION_TIMEOUT": budget.String(),
	}
}

// waitListed checks addr until the first APIBAN round has loaded it (an
// unknown user: the call stops at R15 before anything is counted).
func waitListed(t *testing.T, c *api.Client, ip string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := mustCheck(t, c, checkReq("probe", func(r *api.CheckRequest) { r.SourceIP = ip }))
		if res.Code == "R15" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listed: last answer %s %s", ip, res.Code, res.Reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReputationServicesThroughHTTP(t *testing.T) {
	f := newFakeServices(t)
	env := newTestEnv(t, store.SQLite, f.vars(2*time.Second))
	clock := newTestClock(inHours)
	m := env.start(t, func(m *gateway.Main) { m.Now = clock.now })
	c := env.client(t, m)
	newAccount(t, c, "1001")
	waitListed(t, c, ipBanned)

	tests := []struct {
		name, ip, code, country string
	}{
		{"R02 score at the limit", ipScored, "R02", ""},
		{"whitelisted skips R02", ipWhite, "A00", ""},
		{"R15 listed by APIBAN", ipBanned, "R15", ""},
		{"country from AbuseIPDB (GB, offline table says US)", "8.8.8.8", "V02", "GB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustCheck(t, c, checkReq("1001", func(r *api.CheckRequest) { r.SourceIP = tt.ip }))
			if res.Code != tt.code || res.Country != tt.country {
				t.Errorf("%s: %s %q (%s), want %s %q", tt.ip, res.Code, res.Country, res.Reason, tt.code, tt.country)
			}
			if tt.code == "R15" && !strings.Contains(res.Reason, "apiban") {
				t.Errorf("R15 reason %q does not name APIBAN", res.Reason)
			}
		})
	}
	// APIBAN's listed address costs no AbuseIPDB lookup; the others were
	// looked up once each and then answered from the cache.
	calls := f.abuseCalls.Load()
	for range 3 {
		mustCheck(t, c, checkReq("1001", func(r *api.CheckRequest) { r.SourceIP = ipScored }))
	}
	if n := f.abuseCalls.Load(); n != calls {
		t.Errorf("%d AbuseIPDB requests for cached answers", n-calls)
	}

	// A restart while both services are down keeps the APIBAN list (kept in
	// the data directory) and the AbuseIPDB answers (kept in Redis).
	m.Close(context.Background())
	f.apiban.Close()
	f.abuse.Close()
	m2 := env.start(t, func(m *gateway.Main) { m.Now = clock.now })
	c2 := env.client(t, m2)
	if res := mustCheck(t, c2, checkReq("1001", func(r *api.CheckRequest) { r.SourceIP = ipBanned })); res.Code != "R15" {
		t.Errorf("after a restart without APIBAN: %s (%s), want R15 from the kept list", res.Code, res.Reason)
	}
	if res := mustCheck(t, c2, checkReq("1001", func(r *api.CheckRequest) { r.SourceIP = ipScored })); res.Code != "R02" {
		t.Errorf("after a restart without AbuseIPDB: %s (%s), want R02 from the shared cache", res.Code, res.Reason)
	}
}

// No decision waits much longer than TFPS_REPUTATION_TIMEOUT (+250 ms for a
// loaded test machine, + however late a plain timer of that length fired
// meanwhile) for an AbuseIPDB that never answers, where it would otherwise
// wait for ever; the late answer serves the next call.
func TestReputationBudgetHeld(t *testing.T) {
	f := newFakeServices(t)
	const budget = 100 * time.Millisecond
	env := newTestEnv(t, store.SQLite, f.vars(budget))
	clock := newTestClock(inHours)
	m := env.start(t, func(m *gateway.Main) { m.Now = clock.now })
	c := env.client(t, m)
	newAccount(t, c, "1001")

	var worst, late time.Duration
	for i := range 5 {
		t0 := time.Now()
		time.Sleep(budget)
		late = max(late, time.Since(t0)-budget)
		call := engine.Call{
			User: "1001", Domain: "pbx.example", SourceIP: netip.MustParseAddr(ipHanging), Number: "+12015550123",
			Caller: "+12125550100", CallID: fmt.Sprintf("budget-%d", i), ConcurrentCalls: 1, Time: inHours,
		}
		start := time.Now()
		d, err := m.Engine.Decide(context.Background(), call)
		took := time.Since(start)
		worst = max(worst, took)
		if err != nil {
			t.Fatal(err)
		}
		if d.Code == engine.R02 || d.Code == engine.R19 {
			t.Errorf("decision %d without the score: %s (%s)", i, d.Code, d.Reason)
		}
	}
	t.Logf("worst decision %s with a budget of %s (timers fired up to %s late)", worst, budget, late)
	if worst > budget+250*time.Millisecond+late {
		t.Errorf("a decision waited %s, more than the budget %s + 250ms + the machine's timer lateness %s", worst, budget, late)
	}
	f.releaseHanging()
}

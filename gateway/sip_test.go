package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/sipfront/sipptest"
	"github.com/voipshield/tfps/store"
)

func addAlice(t *testing.T, m *gateway.Main) {
	t.Helper()
	ctx := context.Background()
	if err := m.Store.CreateAccount(ctx, &tfps.Account{
		User: "alice", Domain: "pbx.example.com", ConcurrentCalls: 5, ConcurrentCallsOff: 5,
		DailyQuota: 100, DailyQuotaOff: 100, SourceCountries: []string{"US"}, DestinationCountries: []string{"US"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// The whole gateway answers SIP as TFPS did, in both methods, with the
// Contact host TFPS used (its public address), and shows it in /metrics.
func TestGatewaySIP(t *testing.T) {
	ptfps := "P-tfps: alice;pbx.example.com;127.0.0.1;Yealink;1"
	t.Run("302", func(t *testing.T) {
		m := newTestEnv(t, store.SQLite, map[string]string{"TFPS_PUBLIC_IP": "203.0.113.5", "TFPS_IVR_SIP_ADDRESS": "198.51.100.7:5080"}).start(t)
		addAlice(t, m)
		logged := sipptest.Run(t, m.SIPAddr(), sipptest.Call{Number: "+12125550100", FromUser: "100", Headers: []string{ptfps}, Status: 302})
		if u, h := sipptest.Contact(t, logged); u != "A00+12125550100" || h != "203.0.113.5" {
			t.Errorf("approved Contact %s@%s, want A00+12125550100@203.0.113.5", u, h)
		}
		logged = sipptest.Run(t, m.SIPTCPAddr(), sipptest.Call{Number: "+12125550100", FromUser: "300", Headers: []string{"P-tfps: carol;pbx.example.com;127.0.0.1;Yealink;1"}, Status: 302, Transport: "t1"})
		if u, h := sipptest.Contact(t, logged); !strings.HasPrefix(u, "V") || h != "198.51.100.7:5080" {
			t.Errorf("verify Contact %s@%s, want V<ticket>@198.51.100.7:5080", u, h)
		}
		sipptest.Run(t, m.SIPAddr(), sipptest.Call{Method: "OPTIONS", Number: "ping", FromUser: "proxy", Status: 200})
		resp, err := http.Get("http://" + m.HTTPAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`tfps_sip_responses_total{status="302"} 2`, `tfps_sip_requests_total{method="OPTIONS"} 1`, `tfps_sip_answer_seconds_count 2`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	t.Run("503", func(t *testing.T) {
		m := newTestEnv(t, store.SQLite, map[string]string{"TFPS_AUTHORIZE_METHOD": "503"}).start(t)
		addAlice(t, m)
		sipptest.Run(t, m.SIPAddr(), sipptest.Call{Number: "+12125550100", FromUser: "100", Headers: []string{ptfps}, Status: 503})
		sipptest.Run(t, m.SIPAddr(), sipptest.Call{Number: "+12125550100", FromUser: "100", Headers: []string{"P-tfps: alice;pbx.example.com;127.0.0.1;sipvicious;1"}, Status: 603})
	})
}

// Over SIP, an unknown user of a provider's domain is decided with the
// default account's limits and counted on its own, an own account
// overrides the default, and a domain that rejects unknown users answers
// R23.
func TestGatewaySIPDomainDefault(t *testing.T) {
	m := newTestEnv(t, store.SQLite, nil).start(t)
	addAlice(t, m)
	ctx := context.Background()
	if err := m.Store.CreateAccount(ctx, &tfps.Account{
		User: "default", Domain: "pbx.example.com", ConcurrentCalls: 5, ConcurrentCallsOff: 5,
		DailyQuota: 1, DailyQuotaOff: 1, SourceCountries: []string{"US"}, DestinationCountries: []string{"US"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Store.PutDomain(ctx, &tfps.Domain{Domain: "pbx.example.com", DefaultUser: "default"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	contact := func(user, number string) string {
		t.Helper()
		logged := sipptest.Run(t, m.SIPAddr(), sipptest.Call{Number: number, FromUser: "100", Headers: []string{"P-tfps: " + user + ";pbx.example.com;127.0.0.1;Yealink;1"}, Status: 302})
		u, _ := sipptest.Contact(t, logged)
		return u
	}
	if u := contact("bob", "+12125550101"); u != "A00+12125550101" {
		t.Fatalf("bob's first call (default's quota 1): Contact %s", u)
	}
	if u := contact("bob", "+12125550102"); !strings.HasPrefix(u, "V") {
		t.Fatalf("bob's second call, over the default's quota: Contact %s, want a verification", u)
	}
	if u := contact("carol", "+12125550103"); u != "A00+12125550103" {
		t.Fatalf("carol, counted apart from bob: Contact %s", u)
	}
	for _, n := range []string{"+12125550104", "+12125550105"} {
		if u := contact("alice", n); u != "A00"+n {
			t.Fatalf("alice's own account (quota 100): Contact %s", u)
		}
	}
	if err := m.Store.PutDomain(ctx, &tfps.Domain{Domain: "pbx.example.com", DefaultUser: "default", Unknown: tfps.UnknownReject}); err != nil {
		t.Fatal(err)
	}
	if err := m.Engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if u := contact("dave", "+12125550106"); u != "R23+12125550106" {
		t.Fatalf("dave, domain rejecting unknown users: Contact %s", u)
	}
}

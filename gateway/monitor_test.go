package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/sipfront/sipptest"
	"github.com/voipshield/tfps/store"
)

// ticketKeys lists the verify tickets in the gateway's Redis.
func ticketKeys(t *testing.T, m *gateway.Main) []string {
	t.Helper()
	keys, err := m.State.KeysMatching(context.Background(), "ticket*")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Monitor mode through POST /v1/check, both ways round: the gateway in
// monitor mode with one account enforcing, and the gateway enforcing with
// one account in monitor mode. A call that would be refused is approved
// with would_be and enforced=false in the JSON; the decision log and
// /metrics record the would-be code with enforced=false; a would-be verify
// leaves no ticket in Redis.
func TestMonitorModeHTTP(t *testing.T) {
	for _, global := range []string{"monitor", "enforce"} {
		t.Run("TFPS_MODE="+global, func(t *testing.T) {
			env := newTestEnv(t, store.SQLite, map[string]string{"TFPS_MODE": global, "TFPS_DESTINATION_COUNTRIES_BLACKLIST": "CU"})
			m := env.start(t, withClock(newTestClock(inHours)))
			c := env.client(t, m)
			// "watched" is in monitor mode, "strict" enforces, whatever
			// TFPS_MODE says; the one inheriting follows TFPS_MODE.
			inherit := "plain"
			mode := func(v string) func(in *api.AccountInput) { return func(in *api.AccountInput) { in.Mode = &v } }
			newAccount(t, c, "watched", mode("monitor"))
			newAccount(t, c, "strict", mode("enforce"))
			newAccount(t, c, inherit)
			if a, err := c.GetAccount(context.Background(), "watched", "pbx.example"); err != nil || a.Mode != "monitor" {
				t.Fatalf("watched account: %+v %v", a, err)
			}
			monitored := map[string]bool{"watched": true, "strict": false, inherit: global == "monitor"}
			base := "http://" + m.HTTPAddr()
			type want struct{ callID, code string }
			var logged []want
			for _, user := range []string{"watched", "strict", inherit} {
				for _, tc := range []struct{ number, code, result string }{
					{"+5378301234", "R06", "reject"},   // Cuba: blacklisted destination
					{"+33142278186", "V03", "verify"},  // France: new destination country
					{"+12015550123", "A00", "approve"}, // allowed
				} {
					callID := "mon-" + global + "-" + user + "-" + tc.code
					body := `{"user":"` + user + `","domain":"pbx.example","source_ip":"` + ipUS + `","number":"` + tc.number + `","caller":"+12125550100","call_id":"` + callID + `"}`
					got := send(t, "POST", base+"/v1/check", "", body)
					var res api.CheckResponse
					if err := json.Unmarshal([]byte(got.body), &res); err != nil || got.status != 200 {
						t.Fatalf("%s: %d %s", callID, got.status, got.body)
					}
					if monitored[user] {
						if res.Result != "approve" || res.Code != "A00" || res.Enforced || res.WouldBe == nil || res.WouldBe.Code != tc.code || res.WouldBe.Result != tc.result || res.Ticket != "" {
							t.Errorf("%s (monitor): %s, want approve A00 with would_be %s %s and no ticket", callID, got.body, tc.result, tc.code)
						}
						if !strings.Contains(got.body, `"enforced":false`) || !strings.Contains(got.body, `"would_be":{"result":"`+tc.result+`","code":"`+tc.code+`"`) {
							t.Errorf("%s: JSON %s lacks enforced=false and would_be", callID, got.body)
						}
					} else if res.Result != tc.result || res.Code != tc.code || !res.Enforced || res.WouldBe != nil {
						t.Errorf("%s (enforce): %s, want %s %s enforced", callID, got.body, tc.result, tc.code)
					}
					logged = append(logged, want{callID, tc.code})
				}
			}
			// Only the enforced V03s left tickets for the IVR: strict's,
			// and the inheriting account's when the gateway enforces.
			wantTickets, monitoredR06 := 1, 2
			if global == "enforce" {
				wantTickets, monitoredR06 = 2, 1
			}
			if keys := ticketKeys(t, m); len(keys) != wantTickets {
				t.Errorf("tickets %v, want %d (one per enforced verify)", keys, wantTickets)
			}
			metrics := send(t, "GET", base+"/metrics", "", "").body
			for _, w := range []string{
				fmt.Sprintf(`tfps_decisions_total{code="R06",enforced="false",result="reject"} %d`, monitoredR06),
				fmt.Sprintf(`tfps_decisions_total{code="R06",enforced="true",result="reject"} %d`, 3-monitoredR06),
			} {
				if !strings.Contains(metrics, w) {
					t.Errorf("/metrics lacks %s:\n%s", w, grepLines(metrics, "tfps_decisions_total"))
				}
			}
			ctx := context.Background()
			if err := m.Close(ctx); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(ctx, env.vars["TFPS_DATABASE_URL"])
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, w := range logged {
				user := strings.Split(w.callID, "-")[2]
				rows, err := db.Decisions(ctx, store.DecisionFilter{CallID: w.callID})
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != 1 || rows[0].Code != w.code || rows[0].Enforced == monitored[user] || (monitored[user] && rows[0].Ticket != "") {
					t.Errorf("decision log of %s: %+v, want one %s row, enforced=%v", w.callID, rows, w.code, !monitored[user])
				}
			}
		})
	}
}

// TFPS_SIP_MONITOR_LISTEN: the second listener decides in monitor mode
// while the main one enforces, for the same account and call.
func TestGatewaySIPMonitorListener(t *testing.T) {
	m := newTestEnv(t, store.SQLite, map[string]string{"TFPS_PUBLIC_IP": "203.0.113.5", "TFPS_SIP_MONITOR_LISTEN": "127.0.0.1:0"}).start(t)
	addAlice(t, m)
	if m.SIPMonitorAddr() == "" || m.SIPMonitorAddr() == m.SIPAddr() {
		t.Fatalf("monitor listener %q, main %q", m.SIPMonitorAddr(), m.SIPAddr())
	}
	scanner := sipptest.Call{Number: "+12125550100", FromUser: "100", Headers: []string{"P-tfps: alice;pbx.example.com;127.0.0.1;sipvicious;1"}, Status: 302}
	logged := sipptest.Run(t, m.SIPAddr(), scanner)
	if u, _ := sipptest.Contact(t, logged); u != "R01+12125550100" || sipptest.Header(t, logged, "X-Tfps-Code") != "R01" {
		t.Errorf("main listener: Contact %s, X-Tfps-Code %q; want R01", u, sipptest.Header(t, logged, "X-Tfps-Code"))
	}
	logged = sipptest.Run(t, m.SIPMonitorAddr(), scanner)
	if u, _ := sipptest.Contact(t, logged); u != "A00+12125550100" || sipptest.Header(t, logged, "X-Tfps-Code") != "R01" || sipptest.Header(t, logged, "X-Tfps-Mode") != "monitor" {
		t.Errorf("monitor listener: Contact %s, X-Tfps-Code %q; want A00 with would-be R01", u, sipptest.Header(t, logged, "X-Tfps-Code"))
	}
	// An unknown account on the monitor listener: would-be V01, no ticket.
	logged = sipptest.Run(t, m.SIPMonitorAddr(), sipptest.Call{Number: "+12125550100", FromUser: "300", Headers: []string{"P-tfps: carol;pbx.example.com;127.0.0.1;Yealink;1"}, Status: 302})
	if u, _ := sipptest.Contact(t, logged); u != "A00+12125550100" || sipptest.Header(t, logged, "X-Tfps-Code") != "V01" {
		t.Errorf("monitor listener, unknown account: Contact %s, X-Tfps-Code %q; want A00 with would-be V01", u, sipptest.Header(t, logged, "X-Tfps-Code"))
	}
	if keys := ticketKeys(t, m); len(keys) != 0 {
		t.Errorf("tickets after monitor-mode decisions: %v", keys)
	}
}

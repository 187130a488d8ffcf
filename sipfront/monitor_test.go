package sipfront_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/voipshield/tfps/sipfront"
	"github.com/voipshield/tfps/sipfront/sipptest"
	"github.com/voipshield/tfps/store"
)

var callIDRE = regexp.MustCompile(`(?m)^Call-ID:\s*(\S+)`)

// Monitor mode over SIP, with sipp: a call that would be refused is
// approved (A00 Contact, or 503 in failover mode) and X-Tfps-Code carries
// the would-be code; the decision log has it with enforced=false; no ticket
// is stored for a would-be verify. The monitor listener decides in monitor
// mode while the main listener enforces, and an account in monitor mode is
// approved on the main listener too.
func TestMonitorModeOverSIP(t *testing.T) {
	ptfps := func(user, ua string) string { return "P-tfps: " + user + ";pbx.example.com;127.0.0.1;" + ua + ";1" }
	for _, method := range []int{302, 503} {
		r := newRig(t, sipfront.Options{Method: method, ContactHost: "192.0.2.1", IVRAddress: "198.51.100.7:5080"})
		approved := 302
		if method == 503 {
			approved = 503
		}
		refused := 302
		if method == 503 {
			refused = 603
		}
		tests := []struct {
			name     string
			target   string
			c        call
			status   int
			contact  string // 302 mode
			code     string // X-Tfps-Code
			monitor  bool
			logged   bool // the engine decided and logged the call
			wantCode string
		}{
			{"main listener enforces R03", r.udp, call{Number: "+442079460000", FromUser: "100", Headers: []string{ptfps("alice", "x")}}, refused, "R03+442079460000", "R03", false, true, "R03"},
			{"monitor listener approves R03", r.mon, call{Number: "+442079460000", FromUser: "100", Headers: []string{ptfps("alice", "x")}}, approved, "A00+442079460000", "R03", true, true, "R03"},
			{"monitor listener approves R17", r.mon, call{Number: "+12125550104", FromUser: "100", Headers: []string{ptfps("mallory", "x")}}, approved, "A00+12125550104", "R17", true, true, "R17"},
			{"monitor listener approves R12 injection", r.mon, call{Number: "+12125550106", FromUser: "100", Contact: "1'or'1", Headers: []string{ptfps("alice", "x")}}, approved, "A00+12125550106", "R12", true, true, "R12"},
			{"monitor listener: would-be verify, no ticket", r.mon, call{Number: "+12125550100", FromUser: "200", Headers: []string{"P-tfps: bob;newpbx.example.com;127.0.0.1;Yealink;1"}}, approved, "A00+12125550100", "V01", true, true, "V01"},
			{"account in monitor mode on the main listener", r.udp, call{Number: "+442079460000", FromUser: "100", Headers: []string{ptfps("watched", "x")}}, approved, "A00+442079460000", "R03", true, true, "R03"},
			{"main listener approves A00", r.udp, call{Number: "+12125550100", FromUser: "100", Headers: []string{ptfps("alice", "x")}}, approved, "A00+12125550100", "A00", false, true, "A00"},
		}
		type row struct {
			callID, code string
			monitor      bool
		}
		var rows []row
		for _, tc := range tests {
			c := tc.c
			c.Status = tc.status
			logged := sipptest.Run(t, tc.target, c)
			if method == 302 {
				if user, host := sipptest.Contact(t, logged); user != tc.contact || host != "192.0.2.1" {
					t.Errorf("%d %s: Contact %s@%s, want %s@192.0.2.1", method, tc.name, user, host, tc.contact)
				}
			}
			if got := sipptest.Header(t, logged, "X-Tfps-Code"); got != tc.code {
				t.Errorf("%d %s: X-Tfps-Code %q, want %q", method, tc.name, got, tc.code)
			}
			wantMode := ""
			if tc.monitor {
				wantMode = "monitor"
			}
			if got := sipptest.Header(t, logged, "X-Tfps-Mode"); got != wantMode {
				t.Errorf("%d %s: X-Tfps-Mode %q, want %q", method, tc.name, got, wantMode)
			}
			if tc.logged {
				m := callIDRE.FindStringSubmatch(logged)
				if m == nil {
					t.Fatalf("no Call-ID in sipp's log:\n%s", logged)
				}
				rows = append(rows, row{m[1], tc.wantCode, tc.monitor})
			}
		}
		if keys, err := r.st.Client().Keys(context.Background(), r.st.Keys().Prefix()+"ticket*").Result(); err != nil || len(keys) != 0 {
			t.Errorf("%d: tickets in Redis after monitor-mode verifies: %v %v", method, keys, err)
		}
		// Closing the engine writes its queued decision-log rows.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r.front.Close(ctx)
		if err := r.eng.Close(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		for _, w := range rows {
			got, err := r.db.Decisions(context.Background(), store.DecisionFilter{CallID: w.callID})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Code != w.code || got[0].Enforced == w.monitor || got[0].Transport != "sip" {
				t.Errorf("%d: decision log of %s: %+v, want one %s row, enforced=%v", method, w.callID, got, w.code, !w.monitor)
			}
		}
	}
}

package sipfront_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	asteriskconf "github.com/voipshield/tfps/asterisk"
	"github.com/voipshield/tfps/asterisktest"
	"github.com/voipshield/tfps/sipfront"
	"github.com/voipshield/tfps/sipfront/sipptest"
	"github.com/voipshield/tfps/store"
)

// asteriskGuide reads a file of the Asterisk PJSIP guide.
func asteriskGuide(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "asterisk", "integration", "asterisk", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A real Asterisk 22 configured with the guide's pjsip_tfps.conf and
// extensions_tfps.conf asks our gateway before dialling: approved calls
// reach the carrier with the number as dialled, rejected ones end in the
// dialplan's refusal, verify calls reach the verification box with a
// ticket the IVR can claim.
func TestAsteriskPJSIPGuide(t *testing.T) {
	for _, method := range []int{302, 503} {
		t.Run(fmt.Sprint(method), func(t *testing.T) { testAsteriskGuide(t, method) })
	}
}

// startGuideAsterisk starts a real Asterisk with the guide's
// pjsip_tfps.conf and extensions_tfps.conf pointed at r's gateway, the
// carrier and the verification box at the given addresses, and the
// gateway's HTTP API at api (with token). Context tfps-test dials as a
// phone: extension "user-number".
func startGuideAsterisk(t *testing.T, r *rig, carrierAddr, ivrAddr, api, token string) *asterisktest.Asterisk {
	t.Helper()
	// The guide's endpoints with this test's addresses, plus a transport
	// and the carrier trunk the guide assumes.
	sipPort := sipptest.FreeUDPPort(t, "127.0.0.1")
	pjsip := asteriskGuide(t, "pjsip_tfps.conf")
	pjsip = strings.ReplaceAll(pjsip, "sip:10.0.0.5:5060", "sip:"+r.udp)
	pjsip = strings.ReplaceAll(pjsip, "match = 10.0.0.5", "match = 127.0.0.1")
	pjsip = strings.ReplaceAll(pjsip, "sip:10.0.0.6:5060", "sip:"+ivrAddr)
	pjsip = fmt.Sprintf("[transport-udp]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:%d\n\n", sipPort) + pjsip + `
[carrier]
type = endpoint
context = tfps-unused
disallow = all
allow = ulaw
aors = carrier

[carrier]
type = aor
contact = sip:` + carrierAddr + "\n"

	dialplan := asteriskGuide(t, "extensions_tfps.conf")
	// The guide's [globals] are set by the test's phone context instead.
	start := strings.Index(dialplan, "[globals]\n")
	end := strings.Index(dialplan, "[tfps-check]")
	if start < 0 || end < start {
		t.Fatal("the guide's dialplan has no [globals] before [tfps-check]")
	}
	dialplan = dialplan[:start] + dialplan[end:]
	dialplan += `
[tfps-test]
; user-number: the phone "user" dials "number"
exten => _[a-z].,1,Set(GLOBAL(TFPS_DOMAIN)=pbx.example.com)
 same => n,Set(GLOBAL(TFPS_CARRIER)=carrier)
 same => n,Set(GLOBAL(TFPS_API)=` + api + `)
 same => n,Set(GLOBAL(TFPS_API_TOKEN)=` + token + `)
 same => n,Set(CALLERID(num)=${CUT(EXTEN,-,1)})
 same => n,Goto(tfps-check,${CUT(EXTEN,-,2)},1)
`
	// The verify redirect goes to the IVR box endpoint of the guide
	// (tfps-ivr), whatever host the gateway put in the Contact.
	// The verification box's module list plus what a PBX dialplan needs.
	modules, err := asteriskconf.Files.ReadFile("modules.conf")
	if err != nil {
		t.Fatal(err)
	}
	extra := "\n; PBX side of the TFPS guide\n"
	for _, m := range []string{"app_dial", "app_stack", "app_verbose", "app_playback", "app_exec", "func_groupcount", "func_hangupcause",
		"func_cdr", "func_global", "func_db", "func_logic", "func_uri", "res_curl", "func_curl", "res_clioriginate"} {
		extra += "load = " + m + ".so\n"
	}
	a := asterisktest.StartWith(t, asterisktest.Options{Dialplan: dialplan, Files: map[string]string{
		"pjsip.conf":   pjsip,
		"modules.conf": string(modules) + extra,
	}})
	if out, err := a.CLI("core set verbose 3"); err != nil {
		t.Fatalf("verbose: %v %s", err, out)
	}
	return a
}

func testAsteriskGuide(t *testing.T, method int) {
	carrier := sipptest.StartUAS(t, 486, "Busy Here")
	ivr := sipptest.StartUAS(t, 480, "Temporarily Unavailable")
	r := newRig(t, sipfront.Options{Method: method, IVRAddress: "127.0.0.1:1"})
	a := startGuideAsterisk(t, r, carrier.Addr, ivr.Addr, "http://127.0.0.1:1", "")
	originate := func(ext string) {
		t.Helper()
		if out, err := a.CLI("channel originate Local/" + ext + "@tfps-test application Wait 5"); err != nil {
			t.Fatalf("originate %s: %v %s", ext, err, out)
		}
	}

	originate("alice-+12125550100")
	t.Cleanup(func() {
		if t.Failed() {
			time.Sleep(300 * time.Millisecond) // the decision log is written in batches
			recs, _ := r.db.Decisions(context.Background(), store.DecisionFilter{Limit: 10})
			for _, rec := range recs {
				t.Logf("decision: %s@%s from %s ua %q number %s -> %s %s", rec.User, rec.Domain, rec.SourceIP, rec.UserAgent, rec.Number, rec.Code, rec.Reason)
			}
		}
	})
	got := carrier.Received(20 * time.Second)
	if m := requestLineRE.FindStringSubmatch(got); m == nil || m[1] != "+12125550100" {
		t.Fatalf("carrier got %v, want INVITE sip:+12125550100@...\n%s", m, got)
	}

	originate("mallory-+12125550101")
	// 302 mode names the code; 603 (failover mode) carries none: R00.
	want := "TFPS rejected +12125550101: R17"
	if method == 503 {
		want = "TFPS rejected +12125550101: R00"
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(a.Grep(want)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in Asterisk's log:\n%s", want, strings.Join(a.Grep("TFPS"), "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}

	originate("bob-+12125550102")
	got = ivr.Received(20 * time.Second)
	m := requestLineRE.FindStringSubmatch(got)
	if m == nil || !strings.HasPrefix(m[1], "V") {
		t.Fatalf("IVR box got %v, want INVITE sip:V<ticket>@...\n%s", m, got)
	}
	tk, err := r.st.ClaimTicket(context.Background(), strings.TrimPrefix(m[1], "V"), time.Now())
	if err != nil {
		t.Fatalf("claim the ticket the IVR box received: %v", err)
	}
	if tk.User != "bob" || tk.Domain != "pbx.example.com" || tk.Number != "+12125550102" {
		t.Errorf("ticket %+v", tk)
	}
}

// The guide reports the end of every approved call to the gateway
// (tfps-end, a hangup handler POSTing /v1/calls/end): through a real
// Asterisk, a call answered by the carrier counts as in progress while it
// lasts, stops counting when it ends, and its duration trips the rule's
// duration warning.
func TestAsteriskGuideReportsCallEnd(t *testing.T) {
	ctx := context.Background()
	carrier := sipptest.StartAnsweringUAS(t)
	r := newRig(t, sipfront.Options{Method: 302, IVRAddress: "127.0.0.1:1"})
	const token = "guide-check-token"
	client, apiURL := ruleAPI(t, r, token)
	stats := func() tfps.RuleStats {
		t.Helper()
		st, err := client.AccountStats(ctx, "carol", "pbx.example.com")
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		return st.Stats
	}

	a := startGuideAsterisk(t, r, carrier.Addr, "127.0.0.1:1", apiURL, token)
	// The phone stays 4 s in the call once the carrier answers, then hangs up.
	if out, err := a.CLI("channel originate Local/carol-+12125550100@tfps-test application Wait 4"); err != nil {
		t.Fatalf("originate: %v %s", err, out)
	}
	waitFor(t, 15*time.Second, "the call in progress at the gateway", func() bool { return stats().Concurrent == 1 })
	got := carrier.Received(20 * time.Second)
	if !strings.Contains(got, "BYE sip:") {
		t.Fatalf("the carrier saw no BYE:\n%s", got)
	}
	waitFor(t, 10*time.Second, "the call's end reported (concurrent back to 0)", func() bool { return stats().Concurrent == 0 })
	var line string
	waitFor(t, 10*time.Second, "the gateway's answer logged by the hangup handler", func() bool {
		lines := a.Grep("TFPS call end")
		if len(lines) > 0 {
			line = lines[0]
		}
		return line != ""
	})
	for _, want := range []string{`"ended":"now"`, `"counted":true`, `"rule_id":31`, `"stat":"duration"`, `"level":"warning"`} {
		if !strings.Contains(line, want) {
			t.Errorf("call end answer %q: no %s", line, want)
		}
	}
	if st := stats(); st.Total != 1 || st.Rule != 31 {
		t.Errorf("stats after the call %+v, want one call under rule 31", st)
	}
	if n := r.ruleTrips("warning", "duration"); n != 1 {
		t.Errorf("duration warnings counted: %v, want 1 (4 s against a warning at 2 s)", n)
	}
}

// ruleAPI gives carol@pbx.example.com the profile "guide" with rule 31
// (duration warning at 2 s) and serves r's HTTP API with token; it returns
// a client of it and its URL.
func ruleAPI(t *testing.T, r *rig, token string) (*api.Client, string) {
	t.Helper()
	ctx := context.Background()
	if err := r.db.PutRules(ctx, []tfps.Rule{{ID: 31, Profile: "guide", ConcurrentCritical: 5, DurationWarning: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := r.db.CreateAccount(ctx, &tfps.Account{User: "carol", Domain: "pbx.example.com", ConcurrentCalls: 5, ConcurrentCallsOff: 5,
		DailyQuota: 1000, DailyQuotaOff: 1000, SourceCountries: []string{"US"}, DestinationCountries: []string{"US"}, Profile: "guide"}); err != nil {
		t.Fatal(err)
	}
	if err := r.eng.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := api.Handler(&api.Local{Engine: r.eng, Store: r.db, State: r.st}, api.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client, err := api.NewClient(srv.URL, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return client, srv.URL
}

// ruleTrips is tfps_rule_trips_total{level,stat} of r's engine.
func (r *rig) ruleTrips(level, stat string) float64 {
	mfs, _ := r.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "tfps_rule_trips_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["level"] == level && l["stat"] == stat {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

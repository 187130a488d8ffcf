package sipfront_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

func testAsteriskGuide(t *testing.T, method int) {
	carrier := sipptest.StartUAS(t, 486, "Busy Here")
	ivr := sipptest.StartUAS(t, 480, "Temporarily Unavailable")
	r := newRig(t, sipfront.Options{Method: method, IVRAddress: "127.0.0.1:1"})

	// The guide's endpoints with this test's addresses, plus a transport
	// and the carrier trunk the guide assumes.
	sipPort := sipptest.FreeUDPPort(t, "127.0.0.1")
	pjsip := asteriskGuide(t, "pjsip_tfps.conf")
	pjsip = strings.ReplaceAll(pjsip, "sip:10.0.0.5:5060", "sip:"+r.udp)
	pjsip = strings.ReplaceAll(pjsip, "match = 10.0.0.5", "match = 127.0.0.1")
	pjsip = strings.ReplaceAll(pjsip, "sip:10.0.0.6:5060", "sip:"+ivr.Addr)
	pjsip = fmt.Sprintf("[transport-udp]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:%d\n\n", sipPort) + pjsip + `
[carrier]
type = endpoint
context = tfps-unused
disallow = all
allow = ulaw
aors = carrier

[carrier]
type = aor
contact = sip:` + carrier.Addr + "\n"

	dialplan := asteriskGuide(t, "extensions_tfps.conf")
	dialplan = strings.Replace(dialplan, "[globals]\nTFPS_DOMAIN=pbx.example.com\nTFPS_CARRIER=carrier\n", "", 1)
	dialplan += `
[tfps-test]
; user-number: the phone "user" dials "number"
exten => _[a-z].,1,Set(GLOBAL(TFPS_DOMAIN)=pbx.example.com)
 same => n,Set(GLOBAL(TFPS_CARRIER)=carrier)
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
	for _, m := range []string{"app_dial", "app_stack", "app_verbose", "app_playback", "func_groupcount", "func_hangupcause", "func_cdr", "func_global", "func_db", "res_clioriginate"} {
		extra += "load = " + m + ".so\n"
	}
	a := asterisktest.StartWith(t, asterisktest.Options{Dialplan: dialplan, Files: map[string]string{
		"pjsip.conf":   pjsip,
		"modules.conf": string(modules) + extra,
	}})
	if out, err := a.CLI("core set verbose 3"); err != nil {
		t.Fatalf("verbose: %v %s", err, out)
	}
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

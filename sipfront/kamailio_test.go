package sipfront_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/sipfront"
	"github.com/voipshield/tfps/sipfront/sipptest"
)

// kamailioGuide is the configuration docs/integration.md tells Kamailio
// users to run; the test runs it unchanged, overriding only its defines.
var kamailioGuide = filepath.Join("..", "asterisk", "integration", "kamailio", "kamailio.cfg")

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startKamailio runs the guide's Kamailio in the foreground on a free
// loopback port and returns its address.
func startKamailio(t *testing.T, defines ...string) string {
	t.Helper()
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		if _, e := exec.LookPath("/usr/sbin/kamailio"); e != nil {
			t.Fatalf("kamailio not installed (Debian package kamailio): %v", err)
		}
		bin = "/usr/sbin/kamailio"
	}
	port := sipptest.FreeUDPPort(t, "127.0.0.1")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"-f", kamailioGuide, "-DD", "-E", "-Y", t.TempDir(), "-P", filepath.Join(t.TempDir(), "k.pid"),
		"-A", "LISTEN=udp:" + addr}
	for _, d := range defines {
		args = append(args, "-A", d)
	}
	cmd := exec.Command(bin, args...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Kamailio forks workers that keep its output open: run it in its own
	// process group and end the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kamailio: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("kamailio output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !sipptest.UDPBound(port) {
		select {
		case <-done:
			t.Fatalf("kamailio exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio did not listen on %s:\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // children start after the socket is bound
	return addr
}

var requestLineRE = regexp.MustCompile(`(?m)^INVITE sip:([^@]*)@`)

// A call through the Kamailio of the guide reaches our gateway, and the
// answer sends it where docs/integration.md says: approved to the carrier
// with the number as dialled (and no P-tfps), rejected back to the caller
// as 403, verify to the IVR with a ticket the IVR can claim.
func TestKamailioGuide(t *testing.T) {
	for _, method := range []int{302, 503} {
		t.Run(fmt.Sprint(method), func(t *testing.T) {
			carrier := sipptest.StartUAS(t, 486, "Busy Here")
			ivr := sipptest.StartUAS(t, 480, "Temporarily Unavailable")
			r := newRig(t, sipfront.Options{Method: method, IVRAddress: ivr.Addr})
			kam := startKamailio(t, `TFPS_URI="sip:`+r.udp+`"`, `CARRIER_URI="sip:`+carrier.Addr+`"`)

			// Approved: the carrier's answer comes back to the caller.
			sipptest.Run(t, kam, sipptest.Call{Number: "+12125550100", FromUser: "alice", Status: 486})
			got := carrier.Received(10 * time.Second)
			if m := requestLineRE.FindStringSubmatch(got); m == nil || m[1] != "+12125550100" {
				t.Errorf("carrier got %v, want INVITE sip:+12125550100@...\n%s", m, got)
			}
			if strings.Contains(got, "P-tfps") {
				t.Errorf("P-tfps leaked to the carrier:\n%s", got)
			}

			// Rejected: 403 to the caller, the code in Reason.
			logged := sipptest.Run(t, kam, sipptest.Call{Number: "+12125550101", FromUser: "mallory", Status: 403})
			if method == 302 && !strings.Contains(logged, "TFPS R17") {
				t.Errorf("403 without the reason code:\n%s", logged)
			}

			// Verify: the IVR gets sip:V<ticket>@ and the ticket is good.
			sipptest.Run(t, kam, sipptest.Call{Number: "+12125550102", FromUser: "bob", Status: 480})
			got = ivr.Received(10 * time.Second)
			m := requestLineRE.FindStringSubmatch(got)
			if m == nil || !strings.HasPrefix(m[1], "V") {
				t.Fatalf("IVR got %v, want INVITE sip:V<ticket>@...\n%s", m, got)
			}
			tk, err := r.st.ClaimTicket(context.Background(), strings.TrimPrefix(m[1], "V"), time.Now())
			if err != nil {
				t.Fatalf("claim ticket from the IVR's INVITE: %v", err)
			}
			if tk.User != "bob" || tk.Domain != "pbx.example.com" || tk.Number != "+12125550102" {
				t.Errorf("ticket %+v", tk)
			}
		})
	}
}

// Forged identity through the proxy guide: a caller behind the Kamailio of
// the guide sends its own P-tfps naming another account (alice, approved)
// from a private address. The guide removes it before adding its own, so
// the gateway decides the call as the caller's account (bob, unknown:
// onboarding verification), not as alice.
func TestForgedPtfpsThroughKamailio(t *testing.T) {
	carrier := sipptest.StartUAS(t, 486, "Busy Here")
	ivr := sipptest.StartUAS(t, 480, "Temporarily Unavailable")
	r := newRig(t, sipfront.Options{Method: 302, IVRAddress: ivr.Addr})
	kam := startKamailio(t, `TFPS_URI="sip:`+r.udp+`"`, `CARRIER_URI="sip:`+carrier.Addr+`"`)

	// Were the forged header believed, alice's approval would send the call
	// to the carrier (486); bob's verification sends it to the IVR (480).
	sipptest.Run(t, kam, sipptest.Call{Number: "+12125550103", FromUser: "bob", Status: 480, Headers: []string{
		"P-tfps: alice;pbx.example.com;10.0.0.1;x;1",
		"X-tfps: alice@pbx.example.com",
		"P-Received: 10.0.0.1",
		"P-Calls: 1",
	}})
	got := ivr.Received(10 * time.Second)
	m := requestLineRE.FindStringSubmatch(got)
	if m == nil || !strings.HasPrefix(m[1], "V") {
		t.Fatalf("IVR got %v, want INVITE sip:V<ticket>@...\n%s", m, got)
	}
	tk, err := r.st.ClaimTicket(context.Background(), strings.TrimPrefix(m[1], "V"), time.Now())
	if err != nil {
		t.Fatalf("claim ticket from the IVR's INVITE: %v", err)
	}
	if tk.User != "bob" || tk.SourceIP != "127.0.0.1" {
		t.Errorf("decided as %s from %s, want bob from the caller's own address 127.0.0.1 (forged P-tfps believed)", tk.User, tk.SourceIP)
	}
}

// The guide reports the end of every answered call to the gateway
// (event_route[dialog:end], POST /v1/calls/end through http_client):
// through a real Kamailio, a call counts as in progress while it lasts,
// stops counting when the caller hangs up, and its duration trips the
// rule's duration warning.
func TestKamailioGuideReportsCallEnd(t *testing.T) {
	ctx := context.Background()
	carrier := sipptest.StartAnsweringUAS(t)
	r := newRig(t, sipfront.Options{Method: 302, IVRAddress: "127.0.0.1:1"})
	client, apiURL := ruleAPI(t, r, "kam-check-token")
	kam := startKamailio(t, `TFPS_URI="sip:`+r.udp+`"`, `CARRIER_URI="sip:`+carrier.Addr+`"`,
		`TFPS_API="`+apiURL+`"`, `TFPS_API_TOKEN="kam-check-token"`)

	done := make(chan string, 1)
	go func() {
		var logged string
		defer func() { done <- logged }() // also when Run fails the test
		logged = sipptest.Run(t, kam, sipptest.Call{Number: "+12125550100", FromUser: "carol", Status: 200, Hold: 3 * time.Second})
	}()
	stats := func() tfps.RuleStats {
		st, err := client.AccountStats(ctx, "carol", "pbx.example.com")
		if err != nil {
			t.Errorf("stats: %v", err)
			return tfps.RuleStats{}
		}
		return st.Stats
	}
	waitFor(t, 10*time.Second, "the call in progress at the gateway", func() bool { return stats().Concurrent == 1 })
	<-done
	waitFor(t, 10*time.Second, "the call's end reported (concurrent back to 0)", func() bool { return stats().Concurrent == 0 })
	if st := stats(); st.Total != 1 || st.Rule != 31 {
		t.Errorf("stats after the call %+v, want one call under rule 31", st)
	}
	if n := r.ruleTrips("warning", "duration"); n != 1 {
		t.Errorf("duration warnings counted: %v, want 1 (3 s against a warning at 2 s)", n)
	}

	// A call the carrier refuses is never answered: its failed dialog is
	// reported too, so it does not count as in progress until
	// TFPS_MAX_CALL_DURATION.
	busy := sipptest.StartUAS(t, 486, "Busy Here")
	kam2 := startKamailio(t, `TFPS_URI="sip:`+r.udp+`"`, `CARRIER_URI="sip:`+busy.Addr+`"`,
		`TFPS_API="`+apiURL+`"`, `TFPS_API_TOKEN="kam-check-token"`)
	sipptest.Run(t, kam2, sipptest.Call{Number: "+12125550101", FromUser: "carol", Status: 486})
	busy.Received(10 * time.Second)
	waitFor(t, 10*time.Second, "the refused call's end reported", func() bool { st := stats(); return st.Total == 2 && st.Concurrent == 0 })
}

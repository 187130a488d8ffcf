package ivrservice_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps/asterisktest"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivrservice/ivrservicetest"
)

// Fault run: 20 callers verify at once; when half of them are verified and
// the other half are waiting for the caller to type the code, Asterisk is
// killed and started again ("crash"), restarted by its operator ("restart":
// SIGTERM, it hangs up its calls) or the IVR's event websocket is cut
// ("websocket"). The live sessions end without a failure counted, the IVR
// reconnects, and every caller cut off calls again with the same ticket and
// is verified. It reports the figures (FIGURES lines).
func TestARIFaultDuring20Verifications(t *testing.T) {
	for _, mode := range []string{"crash", "restart", "websocket"} {
		t.Run(mode, func(t *testing.T) { ariFault(t, mode) })
	}
}

func ariFault(t *testing.T, mode string) {
	ast, proxy, svc := startBehindProxy(t, map[string]string{
		// The callers waiting for the fault must not run out of time.
		"TFPS_IVR_FIRST_DIGIT_TIMEOUT": "60s",
		"TFPS_IVR_INPUT_TIMEOUT":       "2m",
		"TFPS_IVR_INTER_DIGIT_TIMEOUT": "10s",
	})
	phone := asterisktest.NewPhone(t, ast)
	const n = 20
	user := func(i int) string { return fmt.Sprintf("f%02d", i) }
	tickets := make([]string, n)
	for i := range tickets {
		tickets[i] = svc.ticket(engine.FlowOnboarding, user(i), "")
	}

	ready := make(chan bool, n) // a caller heard the code (and, for even ones, was verified)
	fault := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := phone.TryDial("tfps-verify", "V"+tickets[i], nil, "")
			if err != nil {
				t.Error(err)
				ready <- false
				return
			}
			digits := c.Challenge()
			if digits == "" {
				ready <- false
				return
			}
			if i%2 == 0 {
				c.Press(digits)
				ok := c.WaitPlay("/en/redial.wav", 60*time.Second) != ""
				c.WaitEnd(60 * time.Second)
				ready <- ok
				return
			}
			ready <- true
			<-fault
			if mode == "websocket" {
				// Asterisk is up: the IVR hangs up the call it lost.
				c.WaitEnd(30 * time.Second)
			}
		}()
	}
	for i := 0; i < n; i++ {
		if !<-ready {
			close(fault)
			wg.Wait()
			t.Fatal("a verification failed before the fault")
		}
	}
	ended0 := svc.metric(`tfps_ivr_sessions_total{outcome="hangup"}`)
	began := time.Now()
	var restart time.Duration
	switch mode {
	case "crash":
		ast.Crash(t) // SIGKILL, then started again on the same port
		restart = time.Since(began)
	case "restart":
		ast.Restart(t) // SIGTERM, then started again on the same port
		restart = time.Since(began)
	case "websocket":
		if d := proxy.DropWebsockets(); d != 1 {
			t.Fatalf("dropped %d websockets, want the IVR's one", d)
		}
	}
	close(fault)
	var reconnect, healthy time.Duration
	deadline := began.Add(60 * time.Second)
	for reconnect == 0 || healthy == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("within 60 s: reconnects=%s, healthy=%v", svc.metric("tfps_ivr_ari_reconnects_total"), healthy)
		}
		if reconnect == 0 && svc.metric("tfps_ivr_ari_reconnects_total") == "1" {
			reconnect = time.Since(began)
		}
		if healthy == 0 {
			if code, _ := svc.healthChecks(); code == http.StatusOK && reconnect != 0 {
				healthy = time.Since(began)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	svc.waitMetric(`tfps_ivr_sessions_total{outcome="hangup"}`, "10", 30*time.Second)
	wg.Wait()
	failures := 0
	for i := 1; i < n; i += 2 {
		_, _, f, err := svc.State.VerifyBlock(context.Background(), user(i), "pbx.example.com", time.Now(), time.Hour, 3)
		if err != nil {
			t.Fatal(err)
		}
		failures += f
	}

	phone.WaitRegistered(30 * time.Second)
	var mu sync.Mutex
	reused := 0
	for i := 1; i < n; i += 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if verify(t, phone, tickets[i], "/en/redial.wav") {
				mu.Lock()
				reused++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if _, err := svc.Store.GetAccount(context.Background(), user(i), "pbx.example.com"); err != nil {
			t.Errorf("account %s: %v", user(i), err)
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	restarted := ""
	if restart > 0 {
		restarted = fmt.Sprintf(" (Asterisk up again after %v)", restart.Round(time.Millisecond))
	}
	t.Logf("FIGURES ari fault (%s) during %d verifications: %d verified before, %d live at the fault, sessions ended %s (before %s), failures counted %d, tickets used again %d of %d, ARI back after %v%s, /healthz ok after %v; load average %s",
		mode, n, n/2, n/2, svc.metric(`tfps_ivr_sessions_total{outcome="hangup"}`), ended0, failures, reused, n/2,
		reconnect.Round(time.Millisecond), restarted, healthy.Round(time.Millisecond), strings.Join(strings.Fields(string(load))[:3], " "))
	if failures != 0 {
		t.Errorf("the calls cut by the fault counted %d failures", failures)
	}
	if reused != n/2 {
		t.Errorf("%d of %d callers cut off could use their ticket again", reused, n/2)
	}
	ivrservicetest.WaitHealthy(t, svc.Main, 10*time.Second)
}

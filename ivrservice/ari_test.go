package ivrservice_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/inconshreveable/log15"

	"github.com/voipshield/tfps/asterisktest"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivrservice"
	"github.com/voipshield/tfps/ivrservice/ivrservicetest"
)

// healthChecks returns /healthz's status code and per-dependency checks.
func (s *service) healthChecks() (int, map[string]string) {
	s.t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr() + "/healthz")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Checks map[string]string `json:"checks"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&h)
	return resp.StatusCode, h.Checks
}

// waitMetric waits until a sample of /metrics has the value want.
func (s *service) waitMetric(sample, want string, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for s.metric(sample) != want {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s = %q after %s, want %s", sample, s.metric(sample), within, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startBehindProxy starts a private Asterisk and an IVR that reaches its
// ARI through a proxy the test can break; extra adds settings.
func startBehindProxy(t *testing.T, extra map[string]string) (*asterisktest.Asterisk, *asterisktest.Proxy, *service) {
	t.Helper()
	ast := asterisktest.Start(t)
	proxy := ast.Proxy(t)
	vars := map[string]string{"TFPS_ARI_URL": proxy.URL}
	maps.Copy(vars, extra)
	return ast, proxy, startService(t, ast, vars)
}

// ARI polls that fail (Asterisk refuses a few requests) and a warning of
// the ARI client library during a live verification: /healthz says ARI is
// failing meanwhile, but the call goes on and the caller is verified.
func TestARIHiccupsLeaveLiveCallsAlone(t *testing.T) {
	t.Parallel()
	ast, proxy, svc := startBehindProxy(t, map[string]string{
		// The hiccup must not eat the caller's time to answer.
		"TFPS_IVR_FIRST_DIGIT_TIMEOUT": "30s",
		"TFPS_IVR_INTER_DIGIT_TIMEOUT": "10s",
	})
	phone := asterisktest.NewPhone(t, ast)
	c := phone.VerifyCall(svc.ticket(engine.FlowOnboarding, "hiccup", ""))
	digits := c.Challenge()

	proxy.Refuse(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/ari/applications/") })
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, checks := svc.healthChecks()
		if code == http.StatusServiceUnavailable && checks["ari"] == "failing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz still %d %v with the ARI polls refused", code, checks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// What the library logs when its websocket fails to read; a warning
	// from it alone is no outage.
	ivrservice.LogARIClient(svc.Logger)
	// The library's logger is one per process: silence it again before
	// this test's logger goes.
	t.Cleanup(func() { native.Logger.SetHandler(log15.DiscardHandler()) })
	native.Logger.Error("read failure on websocket", "error", "injected by the test")
	time.Sleep(600 * time.Millisecond) // a poll's interval
	if n := proxy.Refuse(nil); n < 2 {
		t.Errorf("%d polls refused, want at least 2", n)
	}

	c.Press(digits)
	if c.WaitPlay("/en/redial.wav", 60*time.Second) == "" {
		t.Fatal("the verification did not go on after the ARI hiccup")
	}
	c.WaitEnd(60 * time.Second)
	if _, err := svc.Store.GetAccount(context.Background(), "hiccup", "pbx.example.com"); err != nil {
		t.Errorf("account after the hiccup: %v", err)
	}
	if v := svc.metric(`tfps_ivr_sessions_total{outcome="verified"}`); v != "1" {
		t.Errorf("sessions verified = %q, want 1", v)
	}
	if v := svc.metric("tfps_ivr_ari_reconnects_total"); v != "0" {
		t.Errorf("reconnects = %q, want 0: the websocket never broke", v)
	}
	ivrservicetest.WaitHealthy(t, svc.Main, 10*time.Second)
}

// The event websocket drops (the network, not Asterisk) during a live
// verification: the IVR hangs up that call without counting a failure or
// recording an event, reconnects, and the caller calls again with the same
// ticket and is verified.
func TestDroppedWebsocketGivesTicketBack(t *testing.T) {
	t.Parallel()
	ast, proxy, svc := startBehindProxy(t, nil)
	phone := asterisktest.NewPhone(t, ast)
	ticket := svc.ticket(engine.FlowOnboarding, "dropped", "")
	c := phone.VerifyCall(ticket)
	c.Challenge()
	if n := proxy.DropWebsockets(); n != 1 {
		t.Fatalf("dropped %d websockets, want the IVR's one", n)
	}
	c.WaitEnd(30 * time.Second)
	svc.waitMetric(`tfps_ivr_sessions_total{outcome="hangup"}`, "1", 30*time.Second)
	svc.waitMetric("tfps_ivr_ari_reconnects_total", "1", 30*time.Second)
	if _, _, n, err := svc.State.VerifyBlock(context.Background(), "dropped", "pbx.example.com", time.Now(), time.Hour, 3); err != nil || n != 0 {
		t.Errorf("the call cut by the drop counted %d failures (%v)", n, err)
	}
	ivrservicetest.WaitHealthy(t, svc.Main, 30*time.Second)
	if !verify(t, phone, ticket, "/en/redial.wav") {
		t.Fatal("the caller could not use the ticket again after the drop")
	}
	if _, err := svc.Store.GetAccount(context.Background(), "dropped", "pbx.example.com"); err != nil {
		t.Errorf("account after the drop: %v", err)
	}
	if !strings.Contains(svc.log.String(), "ticket given back") {
		t.Error("giving the ticket back was not logged")
	}
}

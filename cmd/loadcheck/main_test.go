package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/store"
)

// A short run against an in-process gateway answers approvals only and
// prints the figures.
func TestRunPrintsFigures(t *testing.T) {
	m := gatewaytest.MustStart(t, gatewaytest.Vars(t, store.SQLite, map[string]string{"TFPS_API_TOKEN": "lt"}))
	var out bytes.Buffer
	o := options{url: "http://" + m.HTTPAddr(), token: "lt", conc: 4, duration: 300 * time.Millisecond, requests: 200, accounts: 3, sourceIP: "8.8.8.8", jsonSummary: true}
	if err := run(context.Background(), o, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	var s summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("summary %q: %v", out.String(), err)
	}
	if s.Requests == 0 || s.Requests > 200 || s.Errors != 0 || s.Codes["A00"] != s.Requests || s.Status[200] != s.Requests || s.P99ms <= 0 || s.PerSecond <= 0 {
		t.Fatalf("summary %+v: want up to 200 approved requests and figures", s)
	}
	// A second run finds the accounts and resets their day.
	out.Reset()
	o.jsonSummary = false
	if err := run(context.Background(), o, &out); err != nil || !strings.Contains(out.String(), "requests/s") {
		t.Fatalf("second run: %v\n%s", err, out.String())
	}
}

func TestRunRefusesRemoteTargetsAndUnboundedRuns(t *testing.T) {
	base := options{url: "http://127.0.0.1:1", conc: 1, duration: time.Second, requests: 1, accounts: 1}
	for _, tc := range []struct {
		edit func(o *options)
		msg  string
	}{
		{func(o *options) { o.url = "http://192.0.2.1:8080" }, "only against a loopback address"},
		{func(o *options) { o.url = "http://example.com" }, "only against a loopback address"},
		{func(o *options) { o.duration = time.Hour }, "-d 1h0m0s"},
		{func(o *options) { o.requests = 10_000_000 }, "-n 10000000"},
		{func(o *options) { o.conc = 0 }, "-c 0"},
		{func(o *options) { o.rate = -1 }, "-rate -1: must be within 1..200000"},
		{func(o *options) { o.rate = 200_001 }, "-rate 200001: must be within 1..200000"},
		{func(o *options) { o.url = "https://127.0.0.1:8443" }, "plain http:// only"},
		{func(o *options) { o.token = "a\r\nX-Injected: 1" }, "-token"},
	} {
		o := base
		tc.edit(&o)
		err := run(context.Background(), o, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: error %v, want %q", o, err, tc.msg)
		}
	}
}

// An open-loop run sends exactly its schedule, rate × duration requests
// spread over the connections, and reports the rates and the late count.
func TestOpenLoopSendsTheSchedule(t *testing.T) {
	m := gatewaytest.MustStart(t, gatewaytest.Vars(t, store.SQLite, map[string]string{"TFPS_API_TOKEN": "lt"}))
	var out bytes.Buffer
	o := options{url: "http://" + m.HTTPAddr(), token: "lt", conc: 4, rate: 400, duration: time.Second, requests: 100_000, accounts: 3, sourceIP: "8.8.8.8", jsonSummary: true}
	if err := run(context.Background(), o, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	var s summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("summary %q: %v", out.String(), err)
	}
	if s.Sent != 400 || s.Requests != 400 || s.Errors != 0 || s.Status[200] != 400 || s.Codes["A00"] != 400 {
		t.Fatalf("summary %+v: want 400 requests sent and approved", s)
	}
	ol := s.OpenLoop
	if ol == nil || ol.OfferedRate != 400 || ol.Scheduled != 400 || ol.Unsent != 0 || ol.AchievedRate <= 0 || s.LoadcheckCPUus <= 0 {
		t.Fatalf("summary %+v, open loop %+v: want offered 400/s, 400 scheduled and sent, an achieved rate and loadcheck's CPU", s, ol)
	}
	// The late counts are in the summary even when zero.
	for _, k := range []string{`"offered_rate":`, `"achieved_rate":`, `"late":`, `"late_connection_busy":`, `"send_lag_p99_ms":`, `"from_sent_p99_ms":`} {
		if !strings.Contains(out.String(), k) {
			t.Errorf("summary %s: no %s", out.String(), k)
		}
	}
	// -n cuts the schedule short, exactly.
	out.Reset()
	o.requests, o.jsonSummary = 50, false
	if err := run(context.Background(), o, &out); err != nil || !strings.Contains(out.String(), "sent 50 of 50 scheduled") || !strings.Contains(out.String(), "requests 50 ") {
		t.Fatalf("run with -n 50: %v\n%s", err, out.String())
	}
}

// fakeGateway answers account creation and every check with status and
// body; closing makes it close the connection after every answer.
func fakeGateway(t *testing.T, status int, answer string, closing bool) (*httptest.Server, *atomic.Int64) {
	var checks atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if closing {
			w.Header().Set("Connection", "close")
		}
		if r.URL.Path == "/v1/accounts" {
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "{}")
			return
		}
		checks.Add(1)
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, &checks
}

// A server that closes the connection after every answer still answers
// every request: the workers connect again.
func TestRunReconnectsWhenTheServerCloses(t *testing.T) {
	srv, checks := fakeGateway(t, http.StatusOK, `{"result":"approve","code":"A00","reason":"ok"}`, true)
	for _, rate := range []int{0, 200} {
		checks.Store(0)
		var out bytes.Buffer
		o := options{url: srv.URL, conc: 3, rate: rate, duration: 5 * time.Second, requests: 60, accounts: 2, sourceIP: "8.8.8.8", jsonSummary: true}
		if err := run(context.Background(), o, &out); err != nil {
			t.Fatalf("rate %d: run: %v\n%s", rate, err, out.String())
		}
		var s summary
		if err := json.Unmarshal(out.Bytes(), &s); err != nil {
			t.Fatalf("summary %q: %v", out.String(), err)
		}
		if s.Sent != 60 || s.Requests != 60 || s.Errors != 0 || s.Status[200] != 60 || s.Codes["A00"] != 60 || checks.Load() != 60 {
			t.Fatalf("rate %d: summary %+v, server saw %d checks: want 60 answered", rate, s, checks.Load())
		}
	}
}

// Error answers are counted by status, not as failed requests.
func TestRunCountsErrorAnswers(t *testing.T) {
	srv, _ := fakeGateway(t, http.StatusInternalServerError, `{"error":{"code":"EINTERNAL","message":"boom"}}`, false)
	var out bytes.Buffer
	o := options{url: srv.URL, conc: 2, duration: 5 * time.Second, requests: 20, accounts: 1, sourceIP: "8.8.8.8", jsonSummary: true}
	if err := run(context.Background(), o, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	var s summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("summary %q: %v", out.String(), err)
	}
	if s.Requests != 20 || s.Errors != 0 || s.Status[500] != 20 || len(s.Codes) != 0 {
		t.Fatalf("summary %+v: want 20 answers with status 500 and no check code", s)
	}
}

// answerCode agrees with decoding the answer into struct{ Code string }.
func TestAnswerCodeAgreesWithDecoding(t *testing.T) {
	for _, b := range []string{
		`{"result":"approve","code":"A00","reason":"approved","off_hours":false}` + "\n",
		`{"result":"reject","reason":"says \"code\":\"X\" {[","code" : "R12"}`,
		`{"error":{"code":"EINTERNAL","message":"boom"}}`,
		`{"list":[{"code":"N1"}],"code":"A01"}`,
		`{"reason":"code","flow":"x"}`,
		`{"code":"A\u0030"}`,
		`{"code":null}`,
		`{"code":"A0`,
		`Internal Server Error`,
		``,
	} {
		var want struct{ Code string }
		json.Unmarshal([]byte(b), &want)
		code, ok := answerCode([]byte(b))
		if ok && string(code) != want.Code { // not ok: the caller decodes it
			t.Errorf("answerCode(%s) = %q, want %q", b, code, want.Code)
		}
	}
	if _, ok := answerCode([]byte(`{"code":"A\u0030"}`)); ok {
		t.Error("a code with escapes: want the caller to decode it")
	}
}

// Every request carries its own call id (a repeated one would be answered
// from the gateway's retry cache and measure nothing), and consecutive ids
// are not in order, as a SIP phone's random Call-IDs are not.
func TestRequestsCarryDistinctScatteredCallIDs(t *testing.T) {
	ld, err := newLoad(options{url: "http://127.0.0.1:1", conc: 1, accounts: 3, sourceIP: "8.8.8.8"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	ascending := 0
	prev := ""
	for i := range 20000 {
		req := ld.request(nil, i)
		_, body, _ := bytes.Cut(req, []byte("\r\n\r\n"))
		var c struct {
			CallID string `json:"call_id"`
		}
		if err := json.Unmarshal(body, &c); err != nil || c.CallID == "" {
			t.Fatalf("request %d body %q: %v", i, body, err)
		}
		if seen[c.CallID] {
			t.Fatalf("call id %s sent twice", c.CallID)
		}
		seen[c.CallID] = true
		if c.CallID > prev {
			ascending++
		}
		prev = c.CallID
	}
	if ascending > 15000 {
		t.Errorf("%d of 20000 call ids sort after the one before: sequential, not scattered", ascending)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/store"
)

// A short run against an in-process gateway answers approvals only and
// prints the figures.
func TestRunPrintsFigures(t *testing.T) {
	m := gateway.MustStart(t, gateway.TestVars(t, store.SQLite, map[string]string{"TFPS_API_TOKEN": "lt"}))
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
	} {
		o := base
		tc.edit(&o)
		err := run(context.Background(), o, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: error %v, want %q", o, err, tc.msg)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/notify/smtptest"
	"github.com/voipshield/tfps/replay"
	"github.com/voipshield/tfps/store"
)

var callSeq atomic.Int64

// call sends POST /v1/check for user@domain from a private address (no
// source-country check) to a US number.
func call(t *testing.T, cl *api.Client, user, domain, caller, number string) *api.CheckResponse {
	t.Helper()
	one := 1
	res, err := cl.Check(context.Background(), &api.CheckRequest{
		User: user, Domain: domain, SourceIP: "10.20.30.40", ConcurrentCalls: &one, Caller: caller, Number: number,
		UserAgent: "Yealink SIP-T46U", CallID: "ctl-" + strconv.FormatInt(callSeq.Add(1), 10),
	})
	if err != nil {
		t.Fatalf("check %s@%s: %v", user, domain, err)
	}
	return res
}

func wantCode(t *testing.T, what string, res *api.CheckResponse, code string) {
	t.Helper()
	if res.Code != code {
		t.Fatalf("%s: %s (%s), want %s", what, res.Code, res.Reason, code)
	}
}

func client(t *testing.T, m *gateway.Main) *api.Client {
	cl, err := api.NewClient("http://"+m.HTTPAddr(), token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// A service provider's domain: unknown users follow the default account's
// limits and countries with their own counters, an own account overrides
// the default, and a domain set to reject refuses unknown users (R23).
func TestDomainDefaultThroughCheck(t *testing.T) {
	m := startGateway(t)
	c := ctl{t: t, env: map[string]string{"TFPS_API_URL": "http://" + m.HTTPAddr(), "TFPS_API_TOKEN": token}}
	cl := client(t, m)
	const dom = "sp.example"
	// Same limits in and off hours: the test passes at any time of day.
	c.ok("add", "default", dom, "--quota", "2", "--quota-off", "2", "--cc", "5", "--cc-off", "5", "--source", "US", "--destination", "US")

	// Before the domain has a default, an unknown user is onboarded.
	wantCode(t, "unknown user, no domain settings", call(t, cl, "alice", dom, "+12125550100", "+12015550123"), "V01")

	c.fail(exitError, "no account nobody@sp.example", "domain", "default", dom, "nobody")
	out := c.ok("domain", "default", dom, "default")
	contains(t, "domain default", out, dom, "default")
	out = c.ok("domain", "show", dom)
	contains(t, "domain show", out, "DEFAULT USER", "default")

	// alice has no account: the default's quota of 2 applies to her own count.
	wantCode(t, "alice call 1", call(t, cl, "alice", dom, "+12125550100", "+12015550123"), "A00")
	wantCode(t, "alice call 2", call(t, cl, "alice", dom, "+12125550100", "+12015550124"), "A00")
	res := call(t, cl, "alice", dom, "+12125550100", "+12015550125")
	quota := "V04" // in business hours, V05 off hours: the test runs at any time of day
	if res.OffHours {
		quota = "V05"
	}
	wantCode(t, "alice call 3 (over the default's quota)", res, quota)
	// The default's countries: GB is not among them.
	wantCode(t, "alice to GB", call(t, cl, "alice", dom, "+12125550100", "+442079460000"), "V03")
	// bob's calls are counted apart from alice's.
	wantCode(t, "bob call 1", call(t, cl, "bob", dom, "+12125550101", "+12015550123"), "A00")
	wantCode(t, "bob call 2", call(t, cl, "bob", dom, "+12125550101", "+12015550124"), "A00")
	// The default account's own counter was never touched.
	acct, err := cl.GetAccount(context.Background(), "default", dom)
	if err != nil {
		t.Fatal(err)
	}
	if acct.Today.Calls+acct.Today.CallsOff != 0 {
		t.Errorf("default account counted %d+%d calls of its unknown users", acct.Today.Calls, acct.Today.CallsOff)
	}
	// No account was created for alice.
	if _, err := cl.GetAccount(context.Background(), "alice", dom); tfps.ErrorCode(err) != tfps.ENOTFOUND {
		t.Fatalf("alice's account: %v, want not found", err)
	}

	// An own account overrides the default: alice's quota is 5 now.
	c.ok("add", "alice", dom, "--quota", "5", "--quota-off", "5", "--cc", "5", "--cc-off", "5", "--source", "US", "--destination", "US,GB")
	wantCode(t, "alice with her own account, call 3", call(t, cl, "alice", dom, "+12125550100", "+12015550125"), "A00")
	wantCode(t, "alice to GB, allowed by her own account", call(t, cl, "alice", dom, "+12125550100", "+442079460000"), "A00")

	// reject: unknown users get R23; alice (own account) still calls.
	out = c.ok("domain", "set", dom, "--unknown", "reject")
	contains(t, "domain set", out, "reject")
	wantCode(t, "carol, domain rejects unknown users", call(t, cl, "carol", dom, "+12125550102", "+12015550123"), "R23")
	wantCode(t, "alice, own account in a reject domain", call(t, cl, "alice", dom, "+12125550100", "+12015550126"), "A00")
	// onboarding: today's behaviour, the default user kept for later.
	c.ok("domain", "set", dom, "--unknown", "onboarding")
	wantCode(t, "carol, onboarding domain", call(t, cl, "carol", dom, "+12125550102", "+12015550123"), "V01")
	c.ok("domain", "set", dom, "--unknown", "auto", "--profile", "small-office")
	d, err := cl.GetDomain(context.Background(), dom)
	if err != nil {
		t.Fatal(err)
	}
	if d.Effective != "default" || d.Unknown != "" || d.Profile != "small-office" || d.DefaultUser != "default" {
		t.Errorf("domain after set: %+v", d)
	}
	c.fail(exitError, "unknown: \"maybe\" is not default", "domain", "set", dom, "--unknown", "maybe")
	c.fail(exitError, "has no settings (not_found)", "domain", "show", "other.example")
}

// Each kind of block set by traffic is listed with its end, lifted with
// tfpsctl, and the next call is approved.
func TestBlocksListedAndCleared(t *testing.T) {
	m := startGateway(t)
	c := ctl{t: t, env: map[string]string{"TFPS_API_URL": "http://" + m.HTTPAddr(), "TFPS_API_TOKEN": token}}
	cl := client(t, m)
	const dom = "pbx.example"
	c.ok("add", "3001", dom, "--quota", "50", "--quota-off", "50", "--cc", "5", "--cc-off", "5", "--source", "US", "--destination", "US")

	out := c.ok("blocks", "3001", dom)
	contains(t, "blocks of a fresh account", out, "no active block")

	// R16: six calls of one pair within the window (limit 3): the fourth
	// trips the block (R13), the next ones meet it (R16).
	codes := []string{}
	for range 6 {
		codes = append(codes, call(t, cl, "3001", dom, "+12125550100", "+12015550199").Code)
	}
	if got := strings.Join(codes, " "); got != "A00 A00 A00 R13 R16 R16" {
		t.Fatalf("six calls of one pair: %s", got)
	}
	// A second pair blocked too, to clear both at once later.
	for range 4 {
		call(t, cl, "3001", dom, "+12125550100", "+12015550198")
	}
	wantCode(t, "second pair", call(t, cl, "3001", dom, "+12125550100", "+12015550198"), "R16")

	out = c.ok("blocks", "3001", dom)
	contains(t, "blocks", out, "pair (R16)", "+12125550100 -> +12015550199", "+12125550100 -> +12015550198", "UTC")
	var b api.Blocks
	if err := json.Unmarshal([]byte(c.ok("blocks", "3001", dom, "--json")), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Pairs) != 2 || b.Pairs[0].Until.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("pairs %+v: want two, blocked for the hour", b.Pairs)
	}

	out = c.ok("clear", "3001", dom, "pairs", "--caller", "+12125550100", "--number", "+12015550199")
	contains(t, "clear one pair", out, "cleared pairs", "+12015550198")
	if strings.Contains(out, "-> +12015550199") {
		t.Fatalf("cleared pair still listed:\n%s", out)
	}
	wantCode(t, "cleared pair calls again", call(t, cl, "3001", dom, "+12125550100", "+12015550199"), "A00")
	wantCode(t, "other pair still blocked", call(t, cl, "3001", dom, "+12125550100", "+12015550198"), "R16")
	c.fail(exitError, "is not blocked", "clear", "3001", dom, "pairs", "--caller", "+12125550100", "--number", "+12015550199")
	c.fail(exitUsage, "go together", "clear", "3001", dom, "pairs", "--caller", "+12125550100")
	c.ok("clear", "3001", dom, "pairs")
	wantCode(t, "every pair cleared", call(t, cl, "3001", dom, "+12125550100", "+12015550198"), "A00")

	// R18: failed verifications as the IVR records them (three within the
	// hour block the identity, known account or not).
	ctx := context.Background()
	now := time.Now()
	for i := range 3 {
		if _, err := m.State.RecordVerifyFailure(ctx, "3001", dom, fmt.Sprintf("t%d", i), now.Add(time.Duration(i-3)*time.Second), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, "after three failed verifications", call(t, cl, "3001", dom, "+12125550100", "+12015550150"), "R18")
	out = c.ok("blocks", "3001", dom)
	contains(t, "blocks", out, "verification (R18)", "3 failed verifications")
	c.ok("clear", "3001", dom, "verification")
	wantCode(t, "verification block cleared", call(t, cl, "3001", dom, "+12125550100", "+12015550151"), "A00")

	// The operator's own block is listed too (lifted with unblock).
	c.ok("block", "3001", dom)
	contains(t, "blocks", c.ok("blocks", "3001", dom), "operator (R17)")
	c.ok("unblock", "3001", dom)
	c.fail(exitUsage, "not verification or pairs", "clear", "3001", dom, "operator")
}

// A failed notification is listed, retried and delivered to the relay; a
// dropped one is gone.
func TestOutboxRetryDelivers(t *testing.T) {
	relay := smtptest.NewServer(t)
	relay.Start()
	vars := gatewaytest.Vars(t, store.SQLite, map[string]string{
		"TFPS_API_TOKEN":          token,
		"TFPS_SMTP_HOST":          relay.Host(),
		"TFPS_SMTP_PORT":          strconv.Itoa(relay.Port()),
		"TFPS_SMTP_TLS":           "none",
		"TFPS_SMTP_FROM":          "tfps@example.net",
		"TFPS_NOTIFICATION_EMAIL": "noc@example.com",
		"TFPS_NOTIFY_POLL":        "100ms",
	})
	ctx := context.Background()
	// Two rows given up (as after a relay refused them for too long): held
	// by a worker's lease, then failed; written before the gateway starts,
	// so its own outbox worker cannot take (and deliver) them first.
	db, err := store.Open(ctx, vars["TFPS_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"n-retry", "n-drop"} {
		n := &tfps.Notification{ID: id, Kind: tfps.NotifyNewAccount, At: time.Now(), User: "4001", Domain: "pbx.example"}
		if err := db.Enqueue(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.ClaimOutbox(ctx, "test-worker", time.Now(), time.Minute, 10)
	if err != nil || len(rows) != 2 {
		t.Fatalf("claim: %d rows, %v", len(rows), err)
	}
	for i := range rows {
		rows[i].LastError = "535 authentication failed"
		if err := db.FailOutbox(ctx, &rows[i], "test-worker", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	m := gatewaytest.MustStart(t, vars)
	c := ctl{t: t, env: map[string]string{"TFPS_API_URL": "http://" + m.HTTPAddr(), "TFPS_API_TOKEN": token}}
	out := c.ok("outbox", "list", "--state", "failed")
	contains(t, "outbox list", out, "n-retry", "n-drop", "new_account", "4001@pbx.example", "535 authentication failed")

	c.ok("outbox", "retry", "n-retry")
	msgs := relay.WaitFor(1, 30*time.Second)
	if !strings.Contains(string(msgs[0].Data), "4001") {
		t.Fatalf("delivered mail does not name the account:\n%s", msgs[0].Data)
	}
	c.ok("outbox", "drop", "n-drop")
	c.fail(exitError, "not_found", "outbox", "retry", "n-drop")
	var listed []api.OutboxRow
	if err := json.Unmarshal([]byte(c.ok("outbox", "list", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(listed) != 1 || listed[0].ID != "n-retry" || listed[0].State != tfps.OutboxSent {
		if time.Now().After(deadline) {
			t.Fatalf("outbox after retry and drop: %+v", listed)
		}
		time.Sleep(100 * time.Millisecond)
		listed = nil
		json.Unmarshal([]byte(c.ok("outbox", "list", "--json")), &listed)
	}
	if len(relay.Messages()) != 1 {
		t.Errorf("%d mails, want only the retried one", len(relay.Messages()))
	}
}

// heapPeak samples the heap while fn runs.
func heapPeak(fn func()) (peak uint64) {
	done := make(chan struct{})
	var p atomic.Uint64
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > p.Load() {
				p.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	return p.Load()
}

// countingWriter counts bytes and lines and keeps the first few lines.
type countingWriter struct {
	n, lines int
	head     bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.lines += bytes.Count(p, []byte{'\n'})
	if w.head.Len() < 4096 {
		w.head.Write(p[:min(len(p), 4096)])
	}
	return len(p), nil
}

// tfpsctl decisions export streams 100,000 rows: the heap stays far below
// the size of the output, and the JSON lines are the replay's input.
func TestDecisionsExportStreams(t *testing.T) {
	m := startGateway(t)
	ctx := context.Background()
	const rows = 100_000
	t0 := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	batch := make([]tfps.DecisionRecord, 0, 5000)
	for i := range rows {
		batch = append(batch, tfps.DecisionRecord{
			At: t0.Add(time.Duration(i) * 5 * time.Second), CallID: fmt.Sprintf("call-%06d", i), SourceIP: "203.0.113.7",
			Caller: "+12125550100", Number: "+1201555" + fmt.Sprintf("%04d", i%10000), UserAgent: "Yealink SIP-T46U 66.86.0.15",
			User: fmt.Sprintf("%d", 1000+i%50), Domain: "pbx.example", Result: "approve", Code: "A00", Reason: "approved",
			ConcurrentCalls: 1 + i%3, SourceCountry: "US", DestinationCountry: "US", Transport: "sip", Enforced: true,
		})
		if len(batch) == cap(batch) {
			if err := m.Store.WriteDecisions(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// A verification whose caller passed: the export says ivr "pass".
	if err := m.Store.WriteDecisions(ctx, []tfps.DecisionRecord{{At: t0.Add(time.Hour), CallID: "verify-1", SourceIP: "203.0.113.7",
		Caller: "+12125550100", Number: "+442079460000", User: "1000", Domain: "pbx.example", Result: "verify", Code: "V03",
		Reason: "new destination country GB", Flow: "destination_country", Ticket: "4711", Transport: "http", Enforced: true}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Store.InsertVerificationEvent(ctx, &tfps.VerificationEvent{At: t0.Add(time.Hour + time.Minute), User: "1000", Domain: "pbx.example",
		Flow: "destination_country", Ticket: "4711", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}

	env := func(k string) string {
		return map[string]string{"TFPS_API_URL": "http://" + m.HTTPAddr(), "TFPS_API_TOKEN": token}[k]
	}
	var w countingWriter
	var code int
	var errb bytes.Buffer
	// Little garbage left lying around: the peak shows what is held.
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := heapPeak(func() {
		code = run(ctx, []string{"decisions", "export", "--since", "2025-03-03", "--until", "2025-03-10"}, strings.NewReader(""), &w, &errb, env)
	})
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
	if w.lines != rows+1 {
		t.Fatalf("export wrote %d lines, want %d", w.lines, rows+1)
	}
	growth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("export of %d rows: %d bytes out, heap %d MB before, peak %d MB (growth %d MB)", rows+1, w.n, before.HeapAlloc>>20, peak>>20, growth>>20)
	// Held in memory, the output alone would add its own size to the heap.
	if growth > int64(w.n)/4 {
		t.Errorf("heap grew by %d bytes while exporting %d bytes: the export is not streamed", growth, w.n)
	}

	// The lines are the replay's input: POST /v1/check fields, time, ivr.
	var full bytes.Buffer
	if code := run(ctx, []string{"decisions", "export", "--since", "2025-03-03T00:59:00Z", "--until", "2025-03-03T01:01:00Z"}, strings.NewReader(""), &full, &errb, env); code != 0 {
		t.Fatalf("export: %s", errb.String())
	}
	rd := replay.NewJSONReader("export", &full)
	var lines []*replay.Line
	for {
		l, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("replay reads the export: %v", err)
		}
		lines = append(lines, l)
	}
	// 00:59:00 .. 01:00:55 is 24 rows every 5 s, plus the verification at 01:00.
	if len(lines) != 25 {
		t.Fatalf("replay read %d lines, want 25", len(lines))
	}
	var v *replay.Line
	for _, l := range lines {
		if l.Check.CallID == "verify-1" {
			v = l
		}
	}
	// It was written after the 01:00:55 row (log order): the replay needs
	// times that never go back, so it carries that row's time.
	if v == nil || v.IVR != replay.IVRPass || v.Check.Number != "+442079460000" || v.Check.User != "1000" || !v.Time.Equal(t0.Add(time.Hour+55*time.Second)) {
		t.Fatalf("verification line %+v: want ivr pass at 01:00:55", v)
	}

	// CSV has a header and every column.
	var csvOut bytes.Buffer
	if code := run(ctx, []string{"decisions", "export", "--since", "2025-03-03T01:00:00Z", "--until", "2025-03-03T01:00:01Z", "--format", "csv"}, strings.NewReader(""), &csvOut, &errb, env); code != 0 {
		t.Fatalf("csv export: %s", errb.String())
	}
	contains(t, "csv export", csvOut.String(), "id,at,call_id,user,domain", "verify-1", "V03", "destination_country,4711,pass")
	c := ctl{t: t, env: map[string]string{"TFPS_API_URL": "http://" + m.HTTPAddr(), "TFPS_API_TOKEN": token}}
	c.fail(exitUsage, "--since is required", "decisions", "export")
	c.fail(exitUsage, "not RFC 3339", "decisions", "export", "--since", "yesterday")
}

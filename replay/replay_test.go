package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/command/commandtest"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

var madrid = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		panic(err)
	}
	return loc
}()

// in is one generated input line.
type in struct {
	Time     string `json:"time"`
	User     string `json:"user"`
	Domain   string `json:"domain"`
	SourceIP string `json:"source_ip"`
	Number   string `json:"number"`
	Caller   string `json:"caller"`
	CallID   string `json:"call_id"`
	IVR      string `json:"ivr,omitempty"`
	Label    string `json:"label,omitempty"`
	Scenario string `json:"scenario,omitempty"`

	want string // the code the line must get
}

func call(t time.Time, user, number, ivr, want string) in {
	return in{Time: t.Format(time.RFC3339), User: user, Domain: "madrid.example", SourceIP: "10.1.1.1", Number: number,
		Caller: "100", IVR: ivr, want: want}
}

func encode(tb testing.TB, lines []in) []byte {
	tb.Helper()
	var b bytes.Buffer
	for i, l := range lines {
		if l.CallID == "" {
			l.CallID = fmt.Sprintf("gen-%d", i)
		}
		if err := json.NewEncoder(&b).Encode(l); err != nil {
			tb.Fatal(err)
		}
	}
	return b.Bytes()
}

// days31 are 31 days of Madrid: 16 around the spring change (2025-03-30,
// 02:00 CET -> 03:00 CEST) and 15 around the autumn change (2025-10-26,
// 03:00 CEST -> 02:00 CET). No 31 consecutive days hold both changes.
func days31() []time.Time {
	var days []time.Time
	for d := 0; d < 16; d++ {
		days = append(days, time.Date(2025, 3, 22+d, 0, 0, 0, 0, madrid))
	}
	for d := 0; d < 15; d++ {
		days = append(days, time.Date(2025, 10, 19+d, 0, 0, 0, 0, madrid))
	}
	return days
}

// generated31 builds the month: an account with an off-hours quota of 3
// calling at 00:30 (first call of the local day), 21:00, 21:10 and 23:30
// (over the quota) every day; a caller->number burst on both DST days with
// a one-hour block that spans the change; and an account whose failed
// verifications block it for TFPS_CACHE_BLOCK_TIME (600 s) of file time.
func generated31() []in {
	var lines []in
	const quota, ab, fail = "quota", "burst", "failer"
	num := "+34911234567"
	for _, day := range days31() {
		at := func(h, m int) time.Time { return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, madrid) }
		// The V05 caller hangs up: nothing recorded, quota unchanged.
		lines = append(lines, call(at(0, 30), quota, num, IVRHangup, "A00"), call(at(21, 0), quota, num, IVRHangup, "A00"),
			call(at(21, 10), quota, num, IVRHangup, "A00"), call(at(23, 30), quota, num, IVRHangup, "V05"))
	}
	// Bursts: 6 attempts within 25 s trip the pair (R13) for one hour of
	// real time, whatever the wall clock of Madrid does meanwhile.
	burst := func(start time.Time, blockedAt, freeAt time.Time) {
		for i := 0; i < 6; i++ {
			want := "A00"
			if i == 5 {
				want = "R13"
			}
			lines = append(lines, call(start.Add(time.Duration(i)*5*time.Second), ab, "+442071234567", IVRHangup, want))
		}
		lines = append(lines, call(blockedAt, ab, "+442071234567", IVRHangup, "R16"), call(freeAt, ab, "+442071234567", IVRHangup, "A00"))
	}
	// 2025-03-30 01:30 CET = 00:30 UTC; the block ends 01:30:25 UTC =
	// 03:30:25 CEST (local clocks skipped 02:00-03:00).
	burst(time.Date(2025, 3, 30, 0, 30, 0, 0, time.UTC), time.Date(2025, 3, 30, 1, 20, 0, 0, time.UTC), time.Date(2025, 3, 30, 1, 31, 0, 0, time.UTC))
	// 2025-10-26 01:30 CEST = 23:30 UTC the day before; the block ends
	// 00:30:25 UTC = 02:30:25 CEST; at 02:20 CET (01:20 UTC, the second
	// 02:20 of the night) the pair is free again.
	burst(time.Date(2025, 10, 25, 23, 30, 0, 0, time.UTC), time.Date(2025, 10, 26, 0, 20, 0, 0, time.UTC), time.Date(2025, 10, 26, 1, 20, 0, 0, time.UTC))
	// Failed verifications: 2 tries fail in the first call (within its
	// first minute of simulated IVR time), the third in the second call
	// blocks; the block ends when the first is 600 s old, between T+600
	// and T+700.
	// The account is known (failures count from the account check on;
	// an unknown account is sent to onboarding first) and calls Japan,
	// a new destination.
	t0 := time.Date(2025, 10, 28, 10, 0, 0, 0, madrid)
	jp := "+81312345678"
	lines = append(lines,
		call(t0, fail, jp, IVRFail, "V03"),
		call(t0.Add(60*time.Second), fail, jp, IVRFail, "V03"),
		call(t0.Add(300*time.Second), fail, jp, IVRHangup, "R18"),
		call(t0.Add(600*time.Second), fail, jp, IVRHangup, "R18"),
		call(t0.Add(700*time.Second), fail, jp, IVRHangup, "V03"),
	)
	sortByTime(lines)
	return lines
}

func sortByTime(lines []in) {
	ts := func(l in) time.Time { t, _ := time.Parse(time.RFC3339, l.Time); return t }
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && ts(lines[j]).Before(ts(lines[j-1])); j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
}

// accountsFile writes the preloaded accounts: quota (3 calls a day in and
// off hours) and burst (plenty).
func accountsFile(tb testing.TB) string {
	acc := []api.Account{
		{User: "quota", Domain: "madrid.example", ConcurrentCalls: 5, ConcurrentCallsOff: 5, DailyQuota: 3, DailyQuotaOff: 3,
			SourceCountries: []string{"ES"}, DestinationCountries: []string{"ES", "GB"}, CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{User: "burst", Domain: "madrid.example", ConcurrentCalls: 5, ConcurrentCallsOff: 5, DailyQuota: 1000, DailyQuotaOff: 1000,
			SourceCountries: []string{"ES"}, DestinationCountries: []string{"ES", "GB"}, CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{User: "failer", Domain: "madrid.example", ConcurrentCalls: 5, ConcurrentCallsOff: 5, DailyQuota: 1000, DailyQuotaOff: 1000,
			SourceCountries: []string{"ES"}, DestinationCountries: []string{"ES"}, CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	b, _ := json.Marshal(acc)
	p := filepath.Join(tb.TempDir(), "accounts.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func outputs(tb testing.TB, b []byte) []Output {
	tb.Helper()
	var out []Output
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var o Output
		if err := json.Unmarshal(l, &o); err != nil {
			tb.Fatalf("output line %q: %v", l, err)
		}
		out = append(out, o)
	}
	return out
}

var monthVars = map[string]string{"TFPS_CACHE_BLOCK_TIME": "600"}

func TestReplayMonthAcrossMidnightAndDST(t *testing.T) {
	lines := generated31()
	cfg := commandtest.Config(t, testVars(t, monthVars))
	out, sum, err := replayBytes(t, cfg, Options{Accounts: accountsFile(t)}, encode(t, lines))
	if err != nil {
		t.Fatal(err)
	}
	got := outputs(t, out)
	if len(got) != len(lines) {
		t.Fatalf("%d output lines for %d input lines", len(got), len(lines))
	}
	for i, l := range lines {
		if got[i].Code != l.want {
			t.Errorf("line %d (%s %s): code %s (%s), want %s", i+1, l.User, l.Time, got[i].Code, got[i].Reason, l.want)
		}
	}
	if n := sum.Decisions["V05"]; n != 31 {
		t.Errorf("summary: %d V05 decisions, want one a day (31)", n)
	}
	if sum.Skipped != 0 || sum.Lines != int64(len(lines)) {
		t.Errorf("summary: %d lines, %d skipped", sum.Lines, sum.Skipped)
	}
}

// TestReplayMatchesLiveChecks sends the month's calls (those that no voice
// session changes) to a running gateway's POST /v1/check under a clock the
// test sets to each line's time: the codes are the replay's.
func TestReplayMatchesLiveChecks(t *testing.T) {
	var lines []in
	for _, l := range generated31() {
		if l.User != "failer" {
			lines = append(lines, l)
		}
	}
	vars := testVars(t, monthVars)
	cfg := commandtest.Config(t, vars)
	accFile := accountsFile(t)
	out, _, err := replayBytes(t, cfg, Options{Accounts: accFile}, encode(t, lines))
	if err != nil {
		t.Fatal(err)
	}
	replayed := outputs(t, out)

	live := map[string]string{}
	for k, v := range vars {
		if k != "TFPS_REDIS_PREFIX" && k != "TFPS_DATA_DIR" {
			live[k] = v
		}
	}
	var mu sync.Mutex
	var now time.Time
	m := gatewaytest.MustStart(t, gatewaytest.Vars(t, store.SQLite, live), func(m *gateway.Main) {
		m.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	ctx := context.Background()
	accs, err := readAccountsFile(accFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accs {
		if err := m.Store.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	client, err := api.NewClient("http://"+m.HTTPAddr(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		ts, _ := time.Parse(time.RFC3339, l.Time)
		mu.Lock()
		now = ts
		mu.Unlock()
		res, err := client.Check(ctx, &api.CheckRequest{User: l.User, Domain: l.Domain, SourceIP: l.SourceIP, Number: l.Number,
			Caller: l.Caller, CallID: fmt.Sprintf("gen-%d", i)})
		if err != nil {
			t.Fatalf("line %d: POST /v1/check: %v", i+1, err)
		}
		if res.Code != replayed[i].Code {
			t.Errorf("line %d (%s %s): live %s, replay %s", i+1, l.User, l.Time, res.Code, replayed[i].Code)
		}
	}
}

func TestSimulatedIVR(t *testing.T) {
	t0 := time.Date(2025, 5, 6, 11, 0, 0, 0, madrid)             // a Tuesday, business hours
	es, fr, jp := "+34911234567", "+59142345678", "+81312345678" // Spain (a default), Bolivia, Japan
	lines := []in{
		// Onboarding passed: the redial is not V01, nor is the next call.
		call(t0, "newbie", es, IVRPass, ""),
		call(t0.Add(time.Minute), "newbie", es, "", ""),
		// A new destination passed: the redial goes through.
		call(t0.Add(2*time.Minute), "newbie", fr, IVRPass, ""),
		// Silent callers stay unknown.
		call(t0.Add(3*time.Minute), "quiet", es, IVRSilent, ""),
		call(t0.Add(4*time.Minute), "quiet", es, IVRHangup, ""),
		// Wrong answers on a new destination, call after call, until R18.
		call(t0.Add(5*time.Minute), "newbie", jp, IVRFail, ""),
		call(t0.Add(6*time.Minute), "newbie", "+81398765432", IVRFail, ""),
		call(t0.Add(7*time.Minute), "newbie", "+81398765432", IVRFail, ""),
	}
	cfg := commandtest.Config(t, testVars(t, nil))
	out, sum, err := replayBytes(t, cfg, Options{}, encode(t, lines))
	if err != nil {
		t.Fatal(err)
	}
	o := outputs(t, out)
	check := func(i int, ok bool, what string) {
		t.Helper()
		if !ok {
			b, _ := json.Marshal(o[i])
			t.Errorf("line %d: %s; got %s", i+1, what, b)
		}
	}
	check(0, o[0].Code == "V01" && o[0].Outcome == "verified" && o[0].Redial != nil && o[0].Redial.Code == "A00" && o[0].Final == "approve",
		"onboarding pass: V01, verified, redial A00")
	check(1, o[1].Code == "A00", "the next call of the onboarded account is approved")
	check(2, o[2].Code == "V03" && o[2].Outcome == "verified" && o[2].Redial != nil && o[2].Redial.Code == "A00",
		"destination pass: V03, verified, redial A00")
	check(3, o[3].Code == "V01" && o[3].Outcome == "failed" && o[3].Redial == nil, "silent: V01, failed, no redial")
	check(4, o[4].Code == "V01", "after silence the account is still unknown (V01)")
	check(5, o[5].Code == "V03" && o[5].Outcome == "failed", "first wrong answers: failed")
	check(6, o[6].Code == "V03" && o[6].Outcome == "blocked", "third failure blocks")
	check(7, o[7].Code == "R18", "then R18")
	if a := sum.Accounts["newbie@madrid.example"]; a == nil || a.Onboarded == nil {
		t.Errorf("summary: newbie not onboarded: %+v", a)
	}
	if a := sum.Accounts["quiet@madrid.example"]; a == nil || a.Onboarded != nil {
		t.Errorf("summary: quiet onboarded: %+v", a)
	}
	if sum.Notifications["new_account"] != 1 || sum.Notifications["destination_country_added"] != 1 || sum.Notifications["account_blocked"] != 1 {
		t.Errorf("summary notifications: %v", sum.Notifications)
	}
}

func TestReplayTwiceIdentical(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSample(&b, SampleOptions{Lines: 3000, Accounts: 40, Span: 5 * 24 * time.Hour, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	cfg := commandtest.Config(t, testVars(t, nil))
	var outs [2][]byte
	var sums [2][]byte
	for i := range outs {
		out, sum, err := replayBytes(t, cfg, Options{Seed: 3}, b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = out
		sums[i], _ = json.Marshal(sum)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("two replays of the same input wrote different lines")
	}
	if !bytes.Equal(sums[0], sums[1]) {
		t.Errorf("two replays gave different summaries:\n%s\n%s", sums[0], sums[1])
	}
	if n := bytes.Count(outs[0], []byte("\n")); n != 3000 {
		t.Errorf("%d output lines, want 3000", n)
	}
	if !bytes.Contains(outs[0], []byte(`"ivr_outcome":"verified"`)) || !bytes.Contains(outs[0], []byte(`"code":"A00"`)) {
		t.Error("the sample exercised neither verification nor approval")
	}
}

func TestBadInput(t *testing.T) {
	cfg := commandtest.Config(t, testVars(t, nil))
	good := `{"time":"2025-05-06T11:00:00+02:00","user":"a","domain":"d","source_ip":"10.0.0.1","number":"+34911234567"}`
	for _, tc := range []struct {
		name, line, want string
	}{
		{"not JSON", `user=a`, "in.jsonl:2: bad input line: not a JSON object"},
		{"no time", `{"user":"a","domain":"d","source_ip":"10.0.0.1","number":"+34911234567"}`, "in.jsonl:2: field time: bad input line: missing"},
		{"bad time", `{"time":"yesterday","user":"a","source_ip":"10.0.0.1","number":"+34911234567"}`, `in.jsonl:2: field time: bad input line: "yesterday" is not RFC 3339`},
		{"no offset", `{"time":"2025-05-06T12:00:00","user":"a","source_ip":"10.0.0.1","number":"+34911234567"}`, `in.jsonl:2: field time:`},
		{"backwards", `{"time":"2025-05-06T10:59:59+02:00","user":"a","source_ip":"10.0.0.1","number":"+34911234567"}`, "in.jsonl:2: field time: bad input line: 2025-05-06T10:59:59+02:00 is before the previous line's"},
		{"unknown ivr", `{"time":"2025-05-06T11:00:01+02:00","user":"a","source_ip":"10.0.0.1","number":"+34911234567","ivr":"maybe"}`, `in.jsonl:2: field ivr: bad input line: "maybe" is not pass, fail, silent or hangup`},
		{"no number", `{"time":"2025-05-06T11:00:01+02:00","user":"a","source_ip":"10.0.0.1"}`, "in.jsonl:2: field number: bad input line: required"},
		{"wrong type", `{"time":"2025-05-06T11:00:01+02:00","user":"a","source_ip":"10.0.0.1","number":"1","concurrent_calls":"two"}`, "in.jsonl:2: field concurrent_calls:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := good + "\n" + tc.line + "\n" + strings.Replace(good, "11:00:00", "11:00:02", 1) + "\n"
			out, _, err := replayBytes(t, cfg, Options{}, []byte(input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if n := bytes.Count(out, []byte("\n")); n != 1 {
				t.Errorf("%d lines written before the bad one, want 1", n)
			}
			out, sum, err := replayBytes(t, cfg, Options{SkipBad: true}, []byte(input))
			if err != nil {
				t.Fatalf("--skip-bad: %v", err)
			}
			if sum.Skipped != 1 || sum.Lines != 2 || bytes.Count(out, []byte("\n")) != 2 {
				t.Errorf("--skip-bad: %d skipped, %d lines, output %q", sum.Skipped, sum.Lines, out)
			}
			if len(sum.BadLines) != 1 || !strings.Contains(sum.BadLines[0], tc.want) {
				t.Errorf("--skip-bad: bad lines %q", sum.BadLines)
			}
		})
	}
}

// TestReplayLeavesLiveDataAlone replays with a copy of a live gateway's
// accounts, under its Redis prefix: its accounts, decision log, outbox and
// Redis keys are the same afterwards.
func TestReplayLeavesLiveDataAlone(t *testing.T) {
	vars := gatewaytest.Vars(t, store.SQLite, testVars(t, nil))
	m := gatewaytest.MustStart(t, vars)
	ctx := context.Background()
	client, err := api.NewClient("http://"+m.HTTPAddr(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateAccount(ctx, &api.AccountInput{User: "live", Domain: "madrid.example"}); err != nil {
		t.Fatal(err)
	}
	// Live traffic: approvals (daily counters), a burst (block key and an
	// outbox alert), an unknown account (a ticket).
	for i := 0; i < 7; i++ {
		if _, err := client.Check(ctx, &api.CheckRequest{User: "live", Domain: "madrid.example", SourceIP: "10.0.0.1", Number: "+34911234567", Caller: "1", CallID: fmt.Sprint("l", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Check(ctx, &api.CheckRequest{User: "stranger", Domain: "madrid.example", SourceIP: "10.0.0.1", Number: "+34911234567"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil { // flushes the decision log and alerts
		t.Fatal(err)
	}
	cfg := commandtest.Config(t, vars)
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snapshot := func() string {
		var b strings.Builder
		accs, _, err := db.ListAccounts(ctx, tfps.AccountFilter{Limit: tfps.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accs {
			fmt.Fprintf(&b, "account %+v\n", *a)
		}
		n, err := db.CountDecisions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "decisions %d\n", n)
		rows, err := db.OutboxRows(ctx, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			fmt.Fprintf(&b, "outbox %+v\n", r)
		}
		st, err := state.Open(ctx, cfg.RedisURL, state.Options{Prefix: cfg.RedisPrefix})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		keys, err := st.Client().Keys(ctx, cfg.RedisPrefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v, _ := st.Client().Dump(ctx, k).Result()
			fmt.Fprintf(&b, "redis %s %x\n", k, v)
		}
		return b.String()
	}
	before := snapshot()
	for _, want := range []string{"account {", "decisions 8", "outbox {", "redis "} {
		if !strings.Contains(before, want) {
			t.Fatalf("live data lacks %q before the replay:\n%s", want, before)
		}
	}
	lines := []in{
		call(time.Date(2025, 5, 6, 11, 0, 0, 0, madrid), "live", "+34911234567", IVRPass, ""),
		call(time.Date(2025, 5, 6, 11, 1, 0, 0, madrid), "live", "+81312345678", IVRPass, ""),
		call(time.Date(2025, 5, 6, 11, 2, 0, 0, madrid), "fresh", "+34911234567", IVRPass, ""),
		call(time.Date(2025, 5, 6, 11, 3, 0, 0, madrid), "robot", "+34911234567", IVRFail, ""),
	}
	for i := 0; i < 7; i++ {
		lines = append(lines, call(time.Date(2025, 5, 6, 12, 0, i, 0, madrid), "live", "+34911234567", "", ""))
	}
	out, sum, err := replayBytes(t, cfg, Options{Accounts: AccountsLive, Live: db}, encode(t, lines))
	if err != nil {
		t.Fatal(err)
	}
	o := outputs(t, out)
	if o[0].Code != "A00" || o[1].Code != "V03" || o[1].Redial == nil || o[1].Redial.Code != "A00" || o[2].Code != "V01" {
		t.Errorf("replay on the live accounts: %s", out)
	}
	if sum.Notifications["new_account"] != 1 || sum.Notifications["ab_burst"] == 0 {
		t.Errorf("notifications %v: want a new account and a burst alert counted", sum.Notifications)
	}
	if after := snapshot(); after != before {
		t.Errorf("live data changed by the replay:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// A gateway watching in monitor mode asks the replay what enforcement
// would have done: the replay decides as enforced, with verifications.
func TestReplayEnforcesUnderMonitorMode(t *testing.T) {
	t0 := time.Date(2025, 5, 6, 11, 0, 0, 0, madrid)
	lines := []in{
		call(t0, "watched", "+34911234567", IVRPass, ""),
		call(t0.Add(time.Minute), "watched", "+81312345678", IVRFail, ""),
	}
	cfg := commandtest.Config(t, testVars(t, map[string]string{"TFPS_MODE": "monitor"}))
	out, _, err := replayBytes(t, cfg, Options{}, encode(t, lines))
	if err != nil {
		t.Fatal(err)
	}
	o := outputs(t, out)
	if o[0].Code != "V01" || o[0].Outcome != "verified" || o[0].Redial == nil || o[0].Redial.Code != "A00" {
		t.Errorf("line 1: want V01 verified then A00 as enforced, got %+v", o[0])
	}
	if o[1].Code != "V03" || o[1].Outcome != "failed" {
		t.Errorf("line 2: want V03 failed as enforced, got %+v", o[1])
	}
}

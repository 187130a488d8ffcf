package console_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/store"
)

const token = "console-test-token"

// artifactDir is where the browser tests leave their screenshots
// (testdata/artifacts, ignored by git; TFPS_ARTIFACTS overrides).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("TFPS_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless Chromium for the test; each call returns a new
// tab context with its own cookies (a fresh incognito-like user-data dir).
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := "/usr/bin/chromium"
	if _, err := exec.LookPath(exe); err != nil {
		t.Fatalf("Chromium is needed for the console tests: apt-get install chromium (scripts/test.sh does): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// askConfirm opens url and clicks the button sel (found by by): the console
// asks for confirmation, whose question it reads into what.
func askConfirm(url, sel string, by chromedp.QueryOption, what *string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(url),
		chromedp.WaitVisible(sel, by),
		chromedp.Click(sel, by),
		chromedp.WaitVisible("#confirm", chromedp.ByID),
		chromedp.Text(".what", what, chromedp.ByQuery),
	}
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	// Each step gets its own deadline, so a page that never shows what is
	// awaited fails the step with the page's text, not the whole test.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(sctx, actions...); err != nil {
		var loc, body string
		var png []byte
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		chromedp.Run(dctx, chromedp.Location(&loc), chromedp.Text("body", &body, chromedp.ByQuery), chromedp.CaptureScreenshot(&png))
		os.WriteFile(filepath.Join(artifactDir(t), "failed.png"), png, 0o644)
		t.Fatalf("%s: %v\npage %s:\n%s", what, err, loc, body)
	}
}

// shoot saves the current page at desktop (1280x800) and phone (390x844)
// size as PNG files named after the page.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := artifactDir(t)
	for _, size := range []struct {
		suffix string
		w, h   int64
		mobile bool
	}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}} {
		var png []byte
		opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
		if size.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		run(t, ctx, "screenshot "+name,
			chromedp.EmulateViewport(size.w, size.h, opts...),
			chromedp.Sleep(100*time.Millisecond), // let the layout settle after the resize
			chromedp.CaptureScreenshot(&png),
		)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s.png", name, size.suffix)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, ctx, "restore viewport", chromedp.EmulateViewport(1280, 800))
}

func check(t *testing.T, c *api.Client, callID string) *api.CheckResponse {
	t.Helper()
	one := 1
	res, err := c.Check(context.Background(), &api.CheckRequest{
		User: "1001", Domain: "pbx.example", SourceIP: "8.8.8.8", ConcurrentCalls: &one,
		Number: "+12015550123", Caller: "+12125550100", CallID: callID,
	})
	if err != nil {
		t.Fatalf("check %s: %v", callID, err)
	}
	return res
}

// TestConsoleInBrowser is what an operator does: log in, watch a rejected
// call appear live, find the account, unblock it, and the next call is
// approved. A wrong token and a form without its CSRF token are refused.
func TestConsoleInBrowser(t *testing.T) {
	vars := gatewaytest.Vars(t, store.SQLite, map[string]string{"TFPS_API_TOKEN": token, "TFPS_DECISION_LOG_FLUSH": "50ms"})
	m := gatewaytest.MustStart(t, vars)
	base := "http://" + m.HTTPAddr()
	c, err := api.NewClient(base, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	two, ten := 2, 10
	us := []string{"US"}
	if _, err := c.CreateAccount(ctx, &api.AccountInput{User: "1001", Domain: "pbx.example", ConcurrentCalls: &two, ConcurrentCallsOff: &two,
		DailyQuota: &ten, DailyQuotaOff: &ten, SourceCountries: &us, DestinationCountries: &us}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetBlocked(ctx, "1001", "pbx.example", true); err != nil {
		t.Fatal(err)
	}
	for _, e := range []api.BlacklistEntry{{Kind: "user_agent", Value: "friendly-scanner", Note: "SIPVicious"}, {Kind: "ip", Value: "203.0.113.0/24", Note: "seen scanning"}, {Kind: "number", Value: "88213", Note: "satellite"}} {
		if _, err := c.AddBlacklist(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}

	svc := &api.Local{Engine: m.Engine, Store: m.Store, State: m.State, Config: m.Config}
	b := browser(t)

	// A wrong token is refused and stays on the login page.
	var msg, loc string
	run(t, b, "wrong token",
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", "not-the-token", chromedp.ByID),
		chromedp.Click("#login", chromedp.ByID),
		chromedp.WaitVisible(".error", chromedp.ByQuery),
		chromedp.Text(".error", &msg, chromedp.ByQuery),
		chromedp.Location(&loc),
	)
	if !strings.Contains(msg, "Wrong token") || !strings.HasSuffix(loc, "/ui/login") {
		t.Fatalf("wrong token: page %s says %q, want the login page saying Wrong token", loc, msg)
	}
	shoot(t, b, "login-refused")

	// The right token logs in to the live page.
	run(t, b, "log in",
		chromedp.SendKeys("#token", token, chromedp.ByID),
		chromedp.Click("#login", chromedp.ByID),
		chromedp.WaitVisible("#decisions", chromedp.ByID),
		chromedp.WaitVisible("#live-status.on", chromedp.ByQuery), // the event stream is open
		chromedp.Location(&loc),
	)
	if !strings.HasSuffix(loc, "/ui/live") {
		t.Fatalf("after login at %s, want /ui/live", loc)
	}

	// A call checked over the API appears in the live table.
	if res := check(t, c, "live-call-1"); res.Code != "R17" {
		t.Fatalf("blocked account: %+v, want R17", res)
	}
	var row string
	run(t, b, "see the decision live",
		chromedp.WaitVisible(`tr[data-call-id="live-call-1"]`, chromedp.ByQuery),
		chromedp.Text(`tr[data-call-id="live-call-1"]`, &row, chromedp.ByQuery),
	)
	if !strings.Contains(row, "reject") || !strings.Contains(row, "R17") || !strings.Contains(row, "1001@pbx.example") {
		t.Fatalf("live row %q: want reject R17 of 1001@pbx.example", row)
	}
	// Reload: the chart counts the decision, the row comes from the log.
	run(t, b, "reload live", chromedp.Reload(), chromedp.WaitVisible(`tr[data-call-id="live-call-1"]`, chromedp.ByQuery), chromedp.WaitVisible("svg.chart rect", chromedp.ByQuery))
	shoot(t, b, "live")

	// Find the account.
	var state, accountURL string
	run(t, b, "find the account",
		chromedp.Click(`nav a[href="/ui/accounts"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#q", chromedp.ByID),
	)
	shoot(t, b, "accounts")
	run(t, b, "open the account",
		chromedp.SendKeys("#q", "1001@pbx.example", chromedp.ByID),
		chromedp.Click("#find", chromedp.ByID),
		chromedp.WaitVisible("#unblock", chromedp.ByID),
		chromedp.Text("#state", &state, chromedp.ByID),
		chromedp.Location(&accountURL),
	)
	if state != "blocked" {
		t.Fatalf("account state %q, want blocked", state)
	}
	shoot(t, b, "account-blocked")

	// A form posted without its CSRF token is refused and changes nothing.
	run(t, b, "post without CSRF",
		chromedp.Evaluate(`document.querySelector("#unblock").form.querySelector("input[name=csrf]").remove()`, nil),
		chromedp.Click("#unblock", chromedp.ByID),
		chromedp.WaitVisible(".error", chromedp.ByQuery),
		chromedp.Text(".error", &msg, chromedp.ByQuery),
	)
	if !strings.Contains(msg, "CSRF") {
		t.Fatalf("form without CSRF token: page says %q", msg)
	}
	if a, err := c.GetAccount(ctx, "1001", "pbx.example"); err != nil || !a.Blocked {
		t.Fatalf("after a forged form: %+v, %v; want still blocked", a, err)
	}
	shoot(t, b, "csrf-refused")

	// Unblock: confirm, then the account page says active.
	var what string
	run(t, b, "unblock", askConfirm(accountURL, "#unblock", chromedp.ByID, &what))
	if what != "Unblock 1001@pbx.example?" {
		t.Fatalf("confirmation asks %q", what)
	}
	shoot(t, b, "confirm")
	run(t, b, "confirm unblock",
		chromedp.Click("#confirm", chromedp.ByID),
		chromedp.WaitVisible("#block", chromedp.ByID),
		chromedp.Text("#state", &state, chromedp.ByID),
		chromedp.Text(".flash", &msg, chromedp.ByQuery),
	)
	if state != "active" || !strings.Contains(msg, "Unblock 1001@pbx.example: done") {
		t.Fatalf("after unblock: state %q, flash %q", state, msg)
	}
	if res := check(t, c, "live-call-2"); res.Result != "approve" || res.Code != "A00" {
		t.Fatalf("next check after unblock: %+v, want approve A00", res)
	}
	run(t, b, "reload account", chromedp.Reload(), chromedp.WaitVisible("#block", chromedp.ByID))
	shoot(t, b, "account")

	// The account's caller -> number blocks, trained limits and mails.
	pairBlocked := false
	for i := 3; i <= 8 && !pairBlocked; i++ {
		pairBlocked = check(t, c, fmt.Sprintf("live-call-%d", i)).Code == "R16"
	}
	if !pairBlocked {
		t.Fatal("repeated calls +12125550100 -> +12015550123 never got R16")
	}
	seedHistory(t, m.Store, 20)
	if err := m.Store.Enqueue(ctx, &tfps.Notification{Kind: tfps.NotifyQuotaRaised, At: time.Now(), User: "1001", Domain: "pbx.example", Email: "owner@pbx.example"}); err != nil {
		t.Fatal(err)
	}
	var pairs, trained, mails string
	run(t, b, "account with pair blocks, trained limits and mails",
		chromedp.Navigate(accountURL),
		chromedp.WaitVisible("#pairs tr.pair", chromedp.ByQuery),
		chromedp.Text("#pairs", &pairs, chromedp.ByQuery),
		chromedp.Text("#trained", &trained, chromedp.ByQuery),
		chromedp.Text("#mails", &mails, chromedp.ByQuery),
	)
	if !strings.Contains(pairs, "+12125550100 → +12015550123") {
		t.Errorf("pair blocks section %q: want the blocked +12125550100 → +12015550123", pairs)
	}
	// 20 days of 30 calls in hours (peak 5): the same every day, so the
	// trained in-hours limits are those figures, above the account's 2
	// concurrent calls and quota of 10.
	for _, want := range []string{"20 days of history", "concurrent calls, in hours\t2\t5",
		"daily quota, in hours\t10\t30", "differs from its trained value", "usual sources: US"} {
		if !strings.Contains(trained, want) {
			t.Errorf("trained section %q: want %q", trained, want)
		}
	}
	if !strings.Contains(mails, "quota_raised") {
		t.Errorf("mails section %q: want the quota_raised notification", mails)
	}
	shoot(t, b, "account-history")
	run(t, b, "lift the pair block",
		askConfirm(accountURL, "#pairs button.lift", chromedp.ByQuery, &what),
		chromedp.Click("#confirm", chromedp.ByID),
		chromedp.WaitVisible(".flash", chromedp.ByQuery),
		chromedp.Text(".flash", &msg, chromedp.ByQuery),
		chromedp.Text("#pairs", &pairs, chromedp.ByQuery),
	)
	if what != "Lift the block of calls +12125550100 → +12015550123 of 1001@pbx.example?" || !strings.Contains(msg, "done") || !strings.Contains(pairs, "none") {
		t.Errorf("lift pair: asked %q, flash %q, section now %q", what, msg, pairs)
	}
	if bl, err := svc.Blocks(ctx, "1001", "pbx.example"); err != nil || len(bl.Pairs) != 0 {
		t.Errorf("after lifting in the console the API shows pair blocks %+v, %v", bl, err)
	}

	// Number ranges and fraud rules.
	if _, err := c.PutRanges(ctx, []api.Range{{Prefix: "+88216", Level: "reject", Source: "carrier A", Comment: "satellite IRSF"}, {Prefix: "4420794", Level: "verify", Source: "fraud feed"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutRules(ctx, []tfps.Rule{{Profile: "night", Prefix: "44", Start: "22:00", End: "06:00", Days: "Mon-Fri", CPMWarning: 5, CPMCritical: 10, WarningAction: "verify"}}); err != nil {
		t.Fatal(err)
	}
	var ranges, rules string
	run(t, b, "ranges", chromedp.Click(`nav a[href="/ui/ranges"]`, chromedp.ByQuery), chromedp.WaitVisible("#ranges", chromedp.ByID), chromedp.Text("#ranges", &ranges, chromedp.ByID))
	if !strings.Contains(ranges, "+88216\treject\tcarrier A\tsatellite IRSF") || !strings.Contains(ranges, "+4420794\tverify\tfraud feed") {
		t.Errorf("ranges page shows %q", ranges)
	}
	shoot(t, b, "ranges")
	run(t, b, "rules", chromedp.Click(`nav a[href="/ui/rules"]`, chromedp.ByQuery), chromedp.WaitVisible("#rules", chromedp.ByID), chromedp.Text("#rules", &rules, chromedp.ByID))
	if !strings.Contains(rules, "night\t+44\t22:00–06:00 Mon-Fri\t5 / 10\t—\t—\t—\t—\tverify") {
		t.Errorf("rules page shows %q", rules)
	}
	shoot(t, b, "rules")
	run(t, b, "remove the range",
		chromedp.Navigate(base+"/ui/ranges"),
		chromedp.ScrollIntoView(`#ranges button[aria-label="remove +88216"]`, chromedp.ByQuery),
		chromedp.Click(`#ranges button[aria-label="remove +88216"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#confirm", chromedp.ByID),
		chromedp.Click("#confirm", chromedp.ByID),
		chromedp.WaitVisible(".flash", chromedp.ByQuery),
		chromedp.Text("#ranges", &ranges, chromedp.ByID),
	)
	if strings.Contains(ranges, "88216") {
		t.Errorf("after removing +88216 the ranges page shows %q", ranges)
	}
	if list, err := c.ListRanges(ctx); err != nil || len(list) != 1 {
		t.Errorf("after removing one of two ranges the API lists %+v, %v", list, err)
	}

	run(t, b, "lists", chromedp.Click(`nav a[href="/ui/lists"]`, chromedp.ByQuery), chromedp.WaitVisible("#list-number", chromedp.ByID))
	shoot(t, b, "lists")
	run(t, b, "outbox", chromedp.Click(`nav a[href="/ui/outbox"]`, chromedp.ByQuery), chromedp.WaitVisible(".tabs", chromedp.ByQuery))
	shoot(t, b, "outbox")

	// The session cookie is HttpOnly and SameSite=Strict: scripts cannot
	// read it.
	var cookies string
	run(t, b, "document.cookie", chromedp.Evaluate(`document.cookie`, &cookies))
	if strings.Contains(cookies, "tfps_session") {
		t.Fatalf("document.cookie shows the session: %q", cookies)
	}

	// Logging out ends the session.
	run(t, b, "log out", chromedp.Click(".logout button", chromedp.ByQuery), chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.Navigate(base+"/ui/accounts"), chromedp.WaitVisible("#token", chromedp.ByID))
	shoot(t, b, "login")
	resp, err := http.Get(base + "/ui/accounts")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/ui/login" {
		t.Fatalf("without a session GET /ui/accounts ends at %s, want /ui/login", resp.Request.URL.Path)
	}
}

// seedHistory writes days of approved decisions of 1001@pbx.example to the
// decision log, ending yesterday in the account's time zone: 30 calls in
// hours (peak 5 concurrent) and 12 off hours (peak 3) a day, from and to
// the US.
func seedHistory(t *testing.T, st *store.Store, days int) {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	var recs []tfps.DecisionRecord
	for d := 1; d <= days; d++ {
		day := time.Now().In(ny).AddDate(0, 0, -d)
		for i := range 42 {
			off, peak := i >= 30, 5
			if off {
				peak = 3
			}
			recs = append(recs, tfps.DecisionRecord{
				At: day, CallID: fmt.Sprintf("history-%d-%d", d, i), SourceIP: "8.8.8.8", Caller: "+12125550100", Number: "+12015550123",
				User: "1001", Domain: "pbx.example", Result: "approve", Code: "A00", Reason: "approved", Enforced: true,
				OffHours: off, ConcurrentCalls: peak, LocalDate: day.Format("2006-01-02"), SourceCountry: "US", DestinationCountry: "US",
			})
		}
	}
	if err := st.WriteDecisions(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

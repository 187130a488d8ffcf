package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/store"
)

const token = "ctl-test-token"

// startGateway runs a gateway in-process on a free loopback port with a
// temporary SQLite database and a private Redis prefix.
func startGateway(t *testing.T) *gateway.Main {
	t.Helper()
	return gatewaytest.MustStart(t, gatewaytest.Vars(t, store.SQLite, map[string]string{"TFPS_API_TOKEN": token}))
}

type ctl struct {
	t     *testing.T
	env   map[string]string
	stdin string
}

// run runs tfpsctl with args and returns its exit code, stdout and stderr.
func (c ctl) run(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := run(ctx, args, strings.NewReader(c.stdin), &out, &errb, func(k string) string { return c.env[k] })
	return code, out.String(), errb.String()
}

// ok runs tfpsctl, expects exit 0 and returns stdout.
func (c ctl) ok(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("tfpsctl %s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
	}
	return out
}

// fail runs tfpsctl and expects exit code want with msg on stderr.
func (c ctl) fail(want int, msg string, args ...string) {
	c.t.Helper()
	code, _, errs := c.run(args...)
	if code != want || !strings.Contains(errs, msg) {
		c.t.Fatalf("tfpsctl %s: exit %d stderr %q, want exit %d with %q", strings.Join(args, " "), code, errs, want, msg)
	}
}

func contains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("%s output lacks %q:\n%s", what, w, out)
		}
	}
}

func TestTfpsctl(t *testing.T) {
	m := startGateway(t)
	c := ctl{t: t, env: map[string]string{"TFPS_API_URL": "http://" + m.HTTPAddr(), "TFPS_API_TOKEN": token}}

	// Same limits in and off hours: the test passes at any time of day.
	out := c.ok("add", "1001", "pbx.example", "--quota", "4", "--quota-off", "4", "--cc-off", "2", "--source", "US,GB", "--email", "ops@example.com")
	contains(t, "add", out, "1001@pbx.example", "4 in hours", "US,GB", "ops@example.com")
	c.ok("add", "1002", "pbx.example")
	c.fail(exitError, "account 1001@pbx.example already exists (conflict)", "add", "1001", "pbx.example")

	// Table for people, JSON for scripts.
	out = c.ok("list")
	contains(t, "list", out, "USER", "DOMAIN", "1001", "1002", "US,GB")
	var page api.AccountPage
	if err := json.Unmarshal([]byte(c.ok("list", "--json", "--limit", "1")), &page); err != nil || page.Total != 2 || len(page.Accounts) != 1 {
		t.Fatalf("list --json --limit 1: %+v %v", page, err)
	}
	if err := json.Unmarshal([]byte(c.ok("list", "--json", "--limit", "1", "--all")), &page); err != nil || page.Total != 2 || len(page.Accounts) != 2 || page.Accounts[1].User != "1002" {
		t.Fatalf("list --all with pages of 1: %+v %v", page, err)
	}
	out = c.ok("--json", "show", "1001", "pbx.example")
	var a api.Account
	if err := json.Unmarshal([]byte(out), &a); err != nil || a.DailyQuota != 4 || a.Email != "ops@example.com" {
		t.Fatalf("show --json: %+v %v", a, err)
	}

	c.ok("set", "1001", "pbx.example", "--cc", "3")
	contains(t, "show", c.ok("show", "1001", "pbx.example"), "3 in hours")
	c.fail(exitUsage, "set: give at least one account flag", "set", "1001", "pbx.example")
	c.ok("set", "1001", "pbx.example", "--home", "ES", "--timezone", "Europe/Madrid", "--business-hours", "20210104T080000|21000104T150000||WEEKLY|||MO,TU,WE,TH,FR")
	contains(t, "show zone", c.ok("show", "1001", "pbx.example"), "Europe/Madrid", "20210104T080000|21000104T150000")
	c.fail(exitError, `timezone: "Mars/Olympus" is not an IANA time zone`, "set", "1001", "pbx.example", "--timezone", "Mars/Olympus")
	c.fail(exitError, "business_hours: invalid business hours", "set", "1001", "pbx.example", "--business-hours", "every day")
	c.ok("set", "1001", "pbx.example", "--home", "", "--timezone", "", "--business-hours", "")

	contains(t, "block", c.ok("block", "1001", "pbx.example"), "blocked 1001@pbx.example")
	contains(t, "show", c.ok("show", "1001", "pbx.example"), "blocked", "yes")
	c.ok("unblock", "1001", "pbx.example")
	contains(t, "allow", c.ok("allow", "1001", "pbx.example", "destination", "fr"), "destination countries of 1001@pbx.example: FR")
	c.ok("allow", "1001", "pbx.example", "destination", "US")
	contains(t, "disallow", c.ok("disallow", "1001", "pbx.example", "source", "GB"), "source countries of 1001@pbx.example: US")
	c.fail(exitError, `country: "ZZ" is not an ISO 3166`, "allow", "1001", "pbx.example", "source", "ZZ")
	c.fail(exitUsage, `"up" is not source or destination`, "allow", "1001", "pbx.example", "up", "FR")

	// Calls, then reset, decisions and tail.
	cl, _ := api.NewClient("http://"+m.HTTPAddr(), token, nil)
	for i, num := range []string{"+12015550100", "+12015550101"} {
		if res, err := cl.Check(context.Background(), &api.CheckRequest{User: "1001", Domain: "pbx.example", SourceIP: "10.0.0.1", Number: num, Caller: "100", CallID: "ctl-" + num}); err != nil || res.Code != "A00" {
			t.Fatalf("check %d: %+v %v", i, res, err)
		}
	}
	calls := func() int64 {
		var a api.Account
		if err := json.Unmarshal([]byte(c.ok("show", "--json", "1001", "pbx.example")), &a); err != nil || a.Today == nil {
			t.Fatalf("show --json: %+v %v", a, err)
		}
		return a.Today.Calls + a.Today.CallsOff
	}
	if n := calls(); n != 2 {
		t.Fatalf("%d calls today, want 2", n)
	}
	contains(t, "reset", c.ok("reset", "1001", "pbx.example"), "reset the daily counters of 1001@pbx.example")
	if n := calls(); n != 0 {
		t.Fatalf("%d calls today after reset, want 0", n)
	}

	waitLogged(t, cl, 2)
	out = c.ok("decisions", "1001", "pbx.example")
	contains(t, "decisions", out, "CODE", "A00", "+12015550101", "approved")
	var one []api.Decision
	if err := json.Unmarshal([]byte(c.ok("decisions", "--call-id", "ctl-+12015550100", "--json")), &one); err != nil || len(one) != 1 || one[0].Number != "+12015550100" {
		t.Fatalf("decisions --call-id: %+v %v", one, err)
	}

	// tail: the last decision, then the next one that arrives.
	done := make(chan string)
	tailOut := &signalWriter{first: make(chan struct{})}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		run(ctx, []string{"tail", "--last", "1", "--count", "1", "--interval", "50ms", "--json"}, strings.NewReader(""), tailOut, io.Discard, func(k string) string { return c.env[k] })
		done <- tailOut.String()
	}()
	select { // the last decision is printed: the next one is new
	case <-tailOut.first:
	case <-time.After(10 * time.Second):
		t.Fatal("tail printed nothing")
	}
	if _, err := cl.Check(context.Background(), &api.CheckRequest{User: "nobody", Domain: "pbx.example", SourceIP: "10.0.0.1", Number: "+12015550102", CallID: "ctl-tail"}); err != nil {
		t.Fatal(err)
	}
	select {
	case out := <-done:
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], "+12015550101") || !strings.Contains(lines[1], `"code":"V01"`) {
			t.Fatalf("tail printed:\n%s\nwant the last decision then the V01 of ctl-tail", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not print the new decision")
	}

	// Blacklists.
	contains(t, "blacklist add", c.ok("blacklist", "add", "ip", "192.0.2.0/24", "--note", "test net"), "added ip 192.0.2.0/24")
	c.ok("blacklist", "add", "number", "+1900")
	out = c.ok("blacklist", "list")
	contains(t, "blacklist list", out, "KIND", "192.0.2.0/24", "test net", "1900")
	out = c.ok("blacklist", "list", "number", "--json")
	var entries []api.BlacklistEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil || len(entries) != 1 || entries[0].Value != "1900" {
		t.Fatalf("blacklist list number --json: %s %v", out, err)
	}
	c.ok("blacklist", "remove", "ip", "192.0.2.0/24")
	c.fail(exitError, `ip blacklist has no "192.0.2.0/24" (not_found)`, "blacklist", "remove", "ip", "192.0.2.0/24")
	c.fail(exitError, `kind: "mac" is not one of`, "blacklist", "add", "mac", "00:11")

	contains(t, "codes", c.ok("codes"), "A00", "R17", "reserved", "V05")

	// Monitor mode for one account: its call to a blacklisted number is
	// approved, and decisions shows the would-be R03, not enforced.
	contains(t, "set --mode", c.ok("set", "1002", "pbx.example", "--mode", "monitor"), "mode", "monitor")
	contains(t, "list", c.ok("list"), "MODE", "monitor", "inherit")
	res, err := cl.Check(context.Background(), &api.CheckRequest{User: "1002", Domain: "pbx.example", SourceIP: "10.0.0.1", Number: "+19005550100", Caller: "100", CallID: "ctl-monitor"})
	if err != nil || res.Result != "approve" || res.Enforced || res.WouldBe == nil || res.WouldBe.Code != "R03" {
		t.Fatalf("check of an account in monitor mode: %+v %v, want approve, would be R03", res, err)
	}
	waitLogged(t, cl, 4)
	out = c.ok("decisions", "1002", "pbx.example")
	contains(t, "decisions", out, "ENFORCED")
	row := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "+19005550100") {
			row = l
		}
	}
	if f := strings.Fields(row); len(f) < 9 || f[7] != "R03" || f[8] != "no" {
		t.Fatalf("decisions row of the monitored call %q: want CODE R03 and ENFORCED no\n%s", row, out)
	}
	c.fail(exitError, `mode: "watch" is not enforce, monitor or empty`, "set", "1002", "pbx.example", "--mode", "watch")
	contains(t, "set --mode inherit", c.ok("set", "1002", "pbx.example", "--mode", "inherit"), "mode", "inherit")

	// Prompt languages: Asterisk's spelling pt_BR is kept as pt-BR; a
	// language without prompts is refused with the list.
	contains(t, "set --language pt_BR", c.ok("set", "1002", "pbx.example", "--language", "pt_BR"), "language", "pt-BR")
	contains(t, "set --language fr", c.ok("set", "1002", "pbx.example", "--language", "fr"), "language", "fr")
	c.fail(exitError, `language: "pt" is not one of en, es, fr, pt-BR`, "set", "1002", "pbx.example", "--language", "pt")

	// Remove, then the account is gone.
	c.ok("remove", "1002", "pbx.example")
	c.fail(exitError, "account 1002@pbx.example not found (not_found)", "show", "1002", "pbx.example")

	// Wrong token, unreachable gateway, bad usage.
	c.fail(exitError, "wrong API token (forbidden)", "--token", "nope", "list")
	bad := ctl{t: t, env: map[string]string{"TFPS_API_URL": "http://127.0.0.1:1"}}
	bad.fail(exitError, "unavailable", "list")
	c.fail(exitUsage, `unknown command "frobnicate"`, "frobnicate")
	c.fail(exitUsage, "show: expected USER DOMAIN", "show", "1001")
	if code, out, _ := c.run("help"); code != 0 || !strings.Contains(out, "tail [USER DOMAIN]") {
		t.Fatalf("help: %d %s", code, out)
	}
	if code, out, _ := c.run("version"); code != 0 || !strings.HasPrefix(out, "tfpsctl ") {
		t.Fatalf("version: %d %s", code, out)
	}
}

// signalWriter is a buffer that closes first on the first write.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.once.Do(func() { close(w.first) })
	return w.buf.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitLogged waits until the decision log holds n rows (it is written in
// batches shortly after each decision).
func waitLogged(t *testing.T, cl *api.Client, n int) {
	t.Helper()
	for range 100 {
		ds, err := cl.Decisions(context.Background(), api.DecisionQuery{})
		if err == nil && len(ds) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("decision log did not reach %d rows", n)
}

package console_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/console"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/store"
)

// clock is a settable time for sessions.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	srv   *httptest.Server
	api   *api.Client
	clock *clock
	feed  *console.Feed
}

// newEnv runs a gateway for its data and a console over it that knows two
// tokens: "admin-token" (admin) and "read-token" (read).
func newEnv(t *testing.T, dialect string) *env {
	vars := gatewaytest.Vars(t, dialect, map[string]string{"TFPS_API_TOKEN": token})
	m := gatewaytest.MustStart(t, vars)
	c, err := api.NewClient("http://"+m.HTTPAddr(), token, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)}
	feed := console.NewFeed()
	svc := &api.Local{Engine: m.Engine, Store: m.Store, State: m.State, Config: m.Config}
	h, err := console.Handler(console.Options{
		Backend: &console.Local{Service: svc, Store: m.Store, State: m.State, Window: time.Hour, MaxFailures: 3},
		Feed:    feed,
		Auth: console.Tokens([]console.HashedToken{
			{Name: "alice", Scope: console.ScopeAdmin, SHA256: sha256.Sum256([]byte("admin-token"))},
			{Name: "bob", Scope: console.ScopeRead, SHA256: sha256.Sum256([]byte("read-token"))},
			{Name: "pbx", Scope: "check", SHA256: sha256.Sum256([]byte("check-token"))},
		}),
		SessionTTL: time.Hour,
		Now:        clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{srv: srv, api: c, clock: clk, feed: feed}
}

// browserless is an HTTP client with a cookie jar, like a browser without
// JavaScript.
func (e *env) client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func get(t *testing.T, c *http.Client, u string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.Path, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.Path, string(b)
}

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on page:\n%s", page)
	}
	return m[1]
}

// login logs c in with tok and returns the session's CSRF token.
func (e *env) login(t *testing.T, c *http.Client, tok string) (status int, page, csrf string) {
	t.Helper()
	_, _, p := get(t, c, e.srv.URL+"/ui/login")
	st, _, page := post(t, c, e.srv.URL+"/ui/login", url.Values{"csrf": {csrfOf(t, p)}, "token": {tok}})
	if st == http.StatusOK {
		csrf = csrfOf(t, page)
	}
	return st, page, csrf
}

func TestLoginSessionAndScopes(t *testing.T) {
	e := newEnv(t, store.SQLite)
	ctx := context.Background()
	if _, err := e.api.CreateAccount(ctx, &api.AccountInput{User: "1001", Domain: "pbx.example"}); err != nil {
		t.Fatal(err)
	}

	// Wrong and check-only tokens are refused.
	for _, tok := range []string{"nope", "check-token", ""} {
		if st, page, _ := e.login(t, e.client(t), tok); st != http.StatusUnauthorized || !strings.Contains(page, "Wrong token") {
			t.Errorf("login with %q: %d, want 401 and Wrong token", tok, st)
		}
	}

	// A login form posted without the login cookie's token is refused.
	c := e.client(t)
	if st, _, _ := post(t, c, e.srv.URL+"/ui/login", url.Values{"token": {"admin-token"}}); st != http.StatusForbidden {
		t.Errorf("login without CSRF token: %d, want 403", st)
	}

	// The session cookie: HttpOnly, SameSite=Strict, expiring with the TTL.
	_, _, p := get(t, c, e.srv.URL+"/ui/login")
	resp, err := (&http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		PostForm(e.srv.URL+"/ui/login", url.Values{"csrf": {csrfOf(t, p)}, "token": {"admin-token"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sc *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "tfps_session" {
			sc = ck
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.MaxAge <= 0 || sc.Expires.IsZero() || sc.Path != "/ui/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, an expiry, path /ui/", sc)
	}

	// A read login sees the account but may not change it.
	rc := e.client(t)
	st, page, csrf := e.login(t, rc, "read-token")
	if st != http.StatusOK || !strings.Contains(page, "bob") {
		t.Fatalf("read login: %d", st)
	}
	if _, _, page := get(t, rc, e.srv.URL+"/ui/account?user=1001&domain=pbx.example"); strings.Contains(page, `id="block"`) || !strings.Contains(page, "1001@pbx.example") {
		t.Errorf("read login's account page offers a block button or lacks the account")
	}
	st, _, _ = post(t, rc, e.srv.URL+"/ui/account", url.Values{"csrf": {csrf}, "op": {"block"}, "user": {"1001"}, "domain": {"pbx.example"}, "confirmed": {"yes"}})
	if a, _ := e.api.GetAccount(ctx, "1001", "pbx.example"); st != http.StatusForbidden || a.Blocked {
		t.Errorf("read login blocking: %d, blocked %v; want 403 and not blocked", st, a.Blocked)
	}

	// An admin login blocks after confirming; without confirmation only
	// the confirmation page shows.
	ac := e.client(t)
	_, _, csrf = e.login(t, ac, "admin-token")
	form := url.Values{"csrf": {csrf}, "op": {"block"}, "user": {"1001"}, "domain": {"pbx.example"}}
	st, _, page = post(t, ac, e.srv.URL+"/ui/account", form)
	if a, _ := e.api.GetAccount(ctx, "1001", "pbx.example"); st != http.StatusOK || !strings.Contains(page, "Block 1001@pbx.example?") || a.Blocked {
		t.Fatalf("unconfirmed block: %d, blocked %v; want the confirmation page and no change", st, a.Blocked)
	}
	// A POST without the CSRF token is refused even when confirmed.
	st, _, _ = post(t, ac, e.srv.URL+"/ui/account", url.Values{"op": {"block"}, "user": {"1001"}, "domain": {"pbx.example"}, "confirmed": {"yes"}})
	if a, _ := e.api.GetAccount(ctx, "1001", "pbx.example"); st != http.StatusForbidden || a.Blocked {
		t.Fatalf("block without CSRF: %d, blocked %v", st, a.Blocked)
	}
	form.Set("confirmed", "yes")
	st, path, page := post(t, ac, e.srv.URL+"/ui/account", form)
	if a, _ := e.api.GetAccount(ctx, "1001", "pbx.example"); st != http.StatusOK || path != "/ui/account" || !strings.Contains(page, "Block 1001@pbx.example: done.") || !a.Blocked {
		t.Fatalf("confirmed block: %d at %s, blocked %v", st, path, a.Blocked)
	}

	// Limits: a bad number gets a precise message and changes nothing.
	st, _, page = post(t, ac, e.srv.URL+"/ui/account", url.Values{"csrf": {csrf}, "op": {"limits"}, "user": {"1001"}, "domain": {"pbx.example"}, "daily_quota": {"lots"}, "confirmed": {"yes"}})
	if st != http.StatusBadRequest || !strings.Contains(page, "daily quota: &#34;lots&#34; is not a whole number") {
		t.Errorf("bad limit: %d\n%s", st, page)
	}
	st, _, _ = post(t, ac, e.srv.URL+"/ui/account", url.Values{"csrf": {csrf}, "op": {"limits"}, "user": {"1001"}, "domain": {"pbx.example"}, "daily_quota": {"42"}, "confirmed": {"yes"}})
	if a, _ := e.api.GetAccount(ctx, "1001", "pbx.example"); st != http.StatusOK || a.DailyQuota != 42 {
		t.Errorf("set limits: %d, quota %d", st, a.DailyQuota)
	}
	// Countries.
	post(t, ac, e.srv.URL+"/ui/account", url.Values{"csrf": {csrf}, "op": {"allow_country"}, "dir": {"destination"}, "country": {"de"}, "user": {"1001"}, "domain": {"pbx.example"}, "confirmed": {"yes"}})
	if a, _ := e.api.GetAccount(ctx, "1001", "pbx.example"); !strings.Contains(strings.Join(a.DestinationCountries, ","), "DE") {
		t.Errorf("allow DE: destinations %v", a.DestinationCountries)
	}

	// Logged out, the same cookie no longer works.
	post(t, ac, e.srv.URL+"/ui/logout", url.Values{"csrf": {csrf}})
	if _, path, _ := get(t, ac, e.srv.URL+"/ui/live"); path != "/ui/login" {
		t.Errorf("after logout /ui/live ends at %s", path)
	}

	// A session ends with its TTL: time is the console's clock.
	xc := e.client(t)
	e.login(t, xc, "admin-token")
	if _, path, _ := get(t, xc, e.srv.URL+"/ui/lists"); path != "/ui/lists" {
		t.Fatalf("fresh session: at %s", path)
	}
	e.clock.add(time.Hour)
	if _, path, _ := get(t, xc, e.srv.URL+"/ui/lists"); path != "/ui/login" {
		t.Errorf("session after its hour: at %s, want /ui/login", path)
	}
}

// TestLiveEvents reads the event stream as a browser's EventSource does and
// gets only the decisions its filter selects.
func TestLiveEvents(t *testing.T) {
	e := newEnv(t, store.SQLite)
	c := e.client(t)
	e.login(t, c, "admin-token")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/ui/live/events?result=reject&account=1001@pbx.example", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	line := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		return strings.TrimRight(l, "\n")
	}
	for line() != ": connected" {
	}
	at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	e.feed.Publish([]tfps.DecisionRecord{
		{At: at, User: "1001", Domain: "pbx.example", Result: "approve", Code: "A00", CallID: "a"},
		{At: at, User: "1002", Domain: "pbx.example", Result: "reject", Code: "R05", CallID: "b"},
		{At: at, User: "1001", Domain: "pbx.example", Result: "reject", Code: "R17", CallID: "c"},
	})
	var got []string
	for len(got) < 2 {
		if l := line(); strings.HasPrefix(l, "event: ") || strings.HasPrefix(l, "data: ") {
			got = append(got, l)
		}
	}
	if got[0] != "event: decision" || !strings.Contains(got[1], `"call_id":"c"`) || !strings.Contains(got[1], `"code":"R17"`) {
		t.Fatalf("stream: %q; want only call c (reject of 1001@pbx.example)", got)
	}
}

// A subscriber that does not read loses rows; the publisher never waits.
func TestFeedDropsForSlowSubscriber(t *testing.T) {
	f := console.NewFeed()
	slow := f.Subscribe(2)
	defer slow.Close()
	at := time.Date(2026, 11, 23, 15, 30, 10, 0, time.UTC)
	rows := make([]tfps.DecisionRecord, 5)
	for i := range rows {
		rows[i] = tfps.DecisionRecord{At: at, Result: "approve"}
	}
	rows[4].Result = "reject"
	done := make(chan struct{})
	go func() { f.Publish(rows); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	if slow.Dropped() != 3 || len(slow.C) != 2 {
		t.Fatalf("dropped %d, buffered %d; want 3 and 2", slow.Dropped(), len(slow.C))
	}
	pm := f.PerMinute(at.Add(5 * time.Minute))
	if len(pm) != 60 || pm[54].Counts["approve"] != 4 || pm[54].Counts["reject"] != 1 || pm[59].Counts["approve"] != 0 {
		t.Fatalf("per minute: %+v", pm[54:])
	}
	// An hour later the minute has left the window.
	pm = f.PerMinute(at.Add(61 * time.Minute))
	for _, m := range pm {
		if len(m.Counts) != 0 {
			t.Fatalf("an hour later minute %v still counts %v", m.Minute, m.Counts)
		}
	}
}

// The number range and fraud rule pages list what the API holds; a read
// login sees them without remove buttons and cannot remove; an admin's
// removal needs the CSRF token and a confirmation, and then is gone.
func TestRangesAndRulesPages(t *testing.T) {
	e := newEnv(t, store.SQLite)
	ctx := context.Background()
	if _, err := e.api.PutRanges(ctx, []api.Range{{Prefix: "88216", Level: "reject", Source: "carrier A"}}); err != nil {
		t.Fatal(err)
	}
	rules, err := e.api.PutRules(ctx, []tfps.Rule{{Profile: "night", Prefix: "44", CPMWarning: 5, CPMCritical: 10}})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(rules[0].ID)

	rc := e.client(t)
	_, _, csrf := e.login(t, rc, "read-token")
	for _, c := range []struct{ path, want string }{{"/ui/ranges", "+88216"}, {"/ui/rules", "5 / 10"}} {
		st, _, page := get(t, rc, e.srv.URL+c.path)
		if st != http.StatusOK || !strings.Contains(page, c.want) {
			t.Fatalf("read login, GET %s: %d, want 200 showing %q:\n%s", c.path, st, c.want, page)
		}
		if strings.Contains(page, `name="op" value="remove"`) {
			t.Errorf("read login sees a remove button on %s", c.path)
		}
	}
	if st, _, _ := post(t, rc, e.srv.URL+"/ui/rules", url.Values{"csrf": {csrf}, "op": {"remove"}, "id": {id}, "confirmed": {"yes"}}); st != http.StatusForbidden {
		t.Errorf("read login removing a rule: %d, want 403", st)
	}

	ac := e.client(t)
	_, _, csrf = e.login(t, ac, "admin-token")
	if st, _, _ := post(t, ac, e.srv.URL+"/ui/ranges", url.Values{"op": {"remove"}, "prefix": {"88216"}, "confirmed": {"yes"}}); st != http.StatusForbidden {
		t.Errorf("removing a range without the CSRF token: %d, want 403", st)
	}
	st, _, page := post(t, ac, e.srv.URL+"/ui/rules", url.Values{"csrf": {csrf}, "op": {"remove"}, "id": {id}})
	if st != http.StatusOK || !strings.Contains(page, "Remove fraud rule "+id+"?") {
		t.Fatalf("first POST must ask for confirmation: %d\n%s", st, page)
	}
	if list, _ := e.api.ListRules(ctx, ""); len(list) != 1 {
		t.Fatalf("the rule went before confirmation: %+v", list)
	}
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/ui/rules", url.Values{"csrf": {csrf}, "op": {"remove"}, "id": {id}, "confirmed": {"yes"}}},
		{"/ui/ranges", url.Values{"csrf": {csrf}, "op": {"remove"}, "prefix": {"88216"}, "confirmed": {"yes"}}},
	} {
		if st, path, page := post(t, ac, e.srv.URL+c.path, c.form); st != http.StatusOK || path != c.path || !strings.Contains(page, ": done.") {
			t.Fatalf("confirmed remove on %s: %d at %s\n%s", c.path, st, path, page)
		}
	}
	if list, _ := e.api.ListRules(ctx, ""); len(list) != 0 {
		t.Errorf("rules after removal: %+v", list)
	}
	if list, _ := e.api.ListRanges(ctx); len(list) != 0 {
		t.Errorf("ranges after removal: %+v", list)
	}
}

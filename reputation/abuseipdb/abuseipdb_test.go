package abuseipdb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/reputation/abuseipdb"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
)

const testKey = "test-key-0123456789"

// Fake AbuseIPDB answers GET /api/v2/check as the public documentation
// describes: {"data": {...}} with the Key header, JSON:API errors otherwise.
type fake struct {
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	scores   map[string]answer
	handler  http.HandlerFunc // replaces the normal answer when set
}

type answer struct {
	score       int
	country     any // string or nil (JSON null)
	whitelisted any // bool or nil
}

func newFake(t *testing.T) *fake {
	f := &fake{scores: map[string]answer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.mu.Lock()
		h := f.handler
		f.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		if r.URL.Path != "/api/v2/check" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Key") != testKey {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"detail":"Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.","status":401}]}`)
			return
		}
		ip := r.URL.Query().Get("ipAddress")
		if r.URL.Query().Get("maxAgeInDays") == "" {
			t.Errorf("request without maxAgeInDays: %s", r.URL)
		}
		f.mu.Lock()
		a, ok := f.scores[ip]
		f.mu.Unlock()
		if !ok {
			a = answer{score: 0, country: nil, whitelisted: false}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-RateLimit-Limit", "1000")
		w.Header().Set("X-RateLimit-Remaining", "999")
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
			"ipAddress": ip, "isPublic": true, "ipVersion": 4, "isWhitelisted": a.whitelisted,
			"abuseConfidenceScore": a.score, "countryCode": a.country, "usageType": "Data Center/Web Hosting/Transit",
			"isp": "Example", "domain": "example.net", "hostnames": []string{}, "totalReports": a.score * 3,
			"numDistinctUsers": 1, "lastReportedAt": nil,
		}})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) set(ip string, a answer) {
	f.mu.Lock()
	f.scores[ip] = a
	f.mu.Unlock()
}

func (f *fake) setHandler(h http.HandlerFunc) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

type clock struct{ t atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	c.set(time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC))
	return c
}
func (c *clock) set(t time.Time)     { c.t.Store(&t) }
func (c *clock) now() time.Time      { return *c.t.Load() }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

type rig struct {
	f    *fake
	c    *abuseipdb.Client
	clk  *clock
	reg  *prometheus.Registry
	logw *lockedWriter
}

func newClient(t *testing.T, f *fake, cache abuseipdb.Cache, clk *clock, edit ...func(o *abuseipdb.Options)) *rig {
	t.Helper()
	reg := prometheus.NewRegistry()
	logw := &lockedWriter{w: &bytes.Buffer{}}
	o := abuseipdb.Options{
		URL: f.srv.URL + "/api/v2", Key: testKey, TTL: time.Hour, Budget: 150 * time.Millisecond,
		Cache: cache, Registerer: reg, Now: clk.now, Logger: slog.New(slog.NewTextHandler(logw, nil)),
	}
	for _, e := range edit {
		e(&o)
	}
	c, err := abuseipdb.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return &rig{f: f, c: c, clk: clk, reg: reg, logw: logw}
}

// shared waits until the shared cache holds an answer about ip (it is
// written just after the answer reaches the caller).
func shared(t *testing.T, cache abuseipdb.Cache, ip string) {
	t.Helper()
	waitFor(t, func() bool {
		_, ok, err := cache.Get(context.Background(), abuseipdb.Service, ip)
		return err == nil && ok
	})
}

func (r *rig) lookup(t *testing.T, ip string) reputation.Report {
	t.Helper()
	rep, err := r.c.Lookup(context.Background(), netip.MustParseAddr(ip))
	if err != nil {
		t.Fatalf("Lookup(%s): %v", ip, err)
	}
	return rep
}

func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestScoreCountryAndWhitelist(t *testing.T) {
	f := newFake(t)
	// 8.8.8.8 is US in the offline table; AbuseIPDB says NL: its answer wins.
	f.set("8.8.8.8", answer{score: 90, country: "NL", whitelisted: false})
	f.set("1.1.1.1", answer{score: 100, country: "AU", whitelisted: true})
	f.set("81.2.69.142", answer{score: 0, country: nil, whitelisted: nil}) // GB offline; no country from AbuseIPDB
	r := newClient(t, f, nil, newClock(), func(o *abuseipdb.Options) { o.Budget = 5 * time.Second })

	got := r.lookup(t, "8.8.8.8")
	if got.AbuseScore != 90 || got.Country != "NL" || got.Whitelisted || got.Source != "abuseipdb" {
		t.Errorf("8.8.8.8 = %+v, want score 90 from NL by abuseipdb", got)
	}
	if got := r.lookup(t, "1.1.1.1"); got.AbuseScore != 100 || !got.Whitelisted || got.Country != "AU" {
		t.Errorf("1.1.1.1 = %+v, want score 100 whitelisted AU", got)
	}
	if got := r.lookup(t, "81.2.69.142"); got.AbuseScore != 0 || got.Country != "GB" || got.Source != "abuseipdb" {
		t.Errorf("81.2.69.142 = %+v, want score 0, country GB from the offline table", got)
	}
}

func TestCacheHitsWithoutNetwork(t *testing.T) {
	f := newFake(t)
	f.set("8.8.8.8", answer{score: 42, country: "US", whitelisted: false})
	st := statetest.MustOpen(t)
	cache := state.NewReputationCache(st)
	clk := newClock()
	r := newClient(t, f, cache, clk, func(o *abuseipdb.Options) { o.Budget = 5 * time.Second })

	if got := r.lookup(t, "8.8.8.8"); got.AbuseScore != 42 {
		t.Fatalf("first lookup = %+v", got)
	}
	shared(t, cache, "8.8.8.8")
	for range 3 {
		if got := r.lookup(t, "8.8.8.8"); got.AbuseScore != 42 {
			t.Fatalf("cached lookup = %+v", got)
		}
	}
	if n := f.requests.Load(); n != 1 {
		t.Errorf("%d requests to AbuseIPDB, want 1 (later lookups from memory)", n)
	}

	// Another gateway (a fresh client, empty memory) shares the Redis copy.
	r2 := newClient(t, f, cache, clk, func(o *abuseipdb.Options) { o.Budget = 5 * time.Second })
	if got := r2.lookup(t, "8.8.8.8"); got.AbuseScore != 42 || got.Source != "abuseipdb" {
		t.Fatalf("lookup on the second gateway = %+v", got)
	}
	if n := f.requests.Load(); n != 1 {
		t.Errorf("%d requests to AbuseIPDB, want 1 (second gateway reads Redis)", n)
	}
	if v := counter(t, r2.reg, "tfps_reputation_lookups_total", "result", "shared"); v != 1 {
		t.Errorf("shared hits = %v, want 1", v)
	}

	// A negative answer is cached too.
	r.lookup(t, "9.9.9.9")
	r2b := newClient(t, f, cache, clk)
	shared(t, cache, "9.9.9.9")
	before := f.requests.Load()
	if got := r2b.lookup(t, "9.9.9.9"); got.AbuseScore != 0 || got.Source != "abuseipdb" {
		t.Errorf("negative answer from the shared cache = %+v", got)
	}
	if f.requests.Load() != before {
		t.Error("a negative answer was asked again instead of read from Redis")
	}

	// Past the TTL the answer is asked again.
	clk.add(2 * time.Hour)
	f.set("8.8.8.8", answer{score: 7, country: "US", whitelisted: false})
	r3 := newClient(t, f, cache, clk, func(o *abuseipdb.Options) { o.Budget = 5 * time.Second })
	if got := r3.lookup(t, "8.8.8.8"); got.AbuseScore != 7 {
		t.Errorf("after the TTL = %+v, want the new score 7", got)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	f := newFake(t)
	f.set("8.8.8.8", answer{score: 20, country: "US", whitelisted: false})
	clk := newClock()
	r := newClient(t, f, nil, clk, func(o *abuseipdb.Options) { o.Budget = 5 * time.Second })
	r.lookup(t, "8.8.8.8")

	// Near the end of its hour the old answer is served at once and
	// refreshed behind it.
	clk.add(55 * time.Minute)
	f.set("8.8.8.8", answer{score: 80, country: "US", whitelisted: false})
	if got := r.lookup(t, "8.8.8.8"); got.AbuseScore != 20 {
		t.Errorf("near expiry = %+v, want the cached score 20 served", got)
	}
	waitFor(t, func() bool { return f.requests.Load() == 2 })
	waitFor(t, func() bool { return r.lookup(t, "8.8.8.8").AbuseScore == 80 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Every way the service can fail gives the offline country, no score and
// no error: the call is decided as if AbuseIPDB were off.
func TestFailuresFallBackToTheOfflineTable(t *testing.T) {
	big := bytes.Repeat([]byte(" "), 1<<20)
	tests := []struct {
		name    string
		key     string
		handler http.HandlerFunc
		pause   string // pause reason counted, "" none
	}{
		{"401 bad key", "wrong-key", nil, "unauthorized"},
		{"429 with Retry-After", testKey, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"errors":[{"detail":"Daily rate limit of 1000 requests exceeded for this endpoint.","status":429}]}`)
		}, "rate_limited"},
		{"500", testKey, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}, "unavailable"},
		{"503 html", testKey, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "<html>maintenance</html>")
		}, "unavailable"},
		{"malformed JSON", testKey, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"data": {"abuseConfidenceScore": 9`)
		}, ""},
		{"score out of range", testKey, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"data": {"abuseConfidenceScore": 900}}`)
		}, ""},
		{"huge body", testKey, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"data": {"abuseConfidenceScore": 99, "pad": "`))
			for range 4 {
				w.Write(big)
			}
			w.Write([]byte(`"}}`))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.set("8.8.8.8", answer{score: 99, country: "NL", whitelisted: false})
			if tt.handler != nil {
				f.setHandler(tt.handler)
			}
			r := newClient(t, f, nil, newClock(), func(o *abuseipdb.Options) { o.Key = tt.key; o.Budget = 5 * time.Second })
			got := r.lookup(t, "8.8.8.8")
			if got.AbuseScore != 0 || got.Country != "US" || got.Source != "local" {
				t.Errorf("lookup = %+v, want the offline answer (US, score 0, local)", got)
			}
			if tt.pause != "" {
				if v := counter(t, r.reg, "tfps_reputation_pauses_total", "reason", tt.pause); v != 1 {
					t.Errorf("pauses{reason=%s} = %v, want 1", tt.pause, v)
				}
				if !r.logged("abuseipdb lookups paused") {
					t.Error("no pause warning in the log")
				}
			}
			// A failure is not cached: a new address or later call asks again
			// once any pause is over.
			if v := counter(t, r.reg, "tfps_reputation_lookups_total", "result", "fetched"); v != 0 {
				t.Errorf("fetched = %v, want 0", v)
			}
		})
	}
}

// 429 stops lookups until Retry-After has passed: no request per call.
func TestRateLimitPausesUntilRetryAfter(t *testing.T) {
	f := newFake(t)
	var limited atomic.Bool
	limited.Store(true)
	f.set("8.8.8.8", answer{score: 50, country: "US", whitelisted: false})
	normal := f.srv.Config.Handler
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if limited.Load() {
			w.Header().Set("Retry-After", "600")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"errors":[{"detail":"Daily rate limit of 1000 requests exceeded for this endpoint.","status":429}]}`)
			return
		}
		f.setHandler(nil)
		f.requests.Add(-1) // counted again by the normal handler
		normal.ServeHTTP(w, r)
	})
	clk := newClock()
	r := newClient(t, f, nil, clk, func(o *abuseipdb.Options) { o.Budget = 5 * time.Second })
	r.lookup(t, "8.8.8.8")
	for i := range 20 {
		r.lookup(t, "8.8.4."+strconv.Itoa(i))
	}
	if n := f.requests.Load(); n != 1 {
		t.Errorf("%d requests while rate limited, want 1", n)
	}
	limited.Store(false)
	clk.add(601 * time.Second)
	if got := r.lookup(t, "8.8.8.8"); got.AbuseScore != 50 {
		t.Errorf("after Retry-After = %+v, want score 50", got)
	}
}

// The last answer of the daily quota (X-RateLimit-Remaining: 0) is used,
// and no lookup is sent until X-RateLimit-Reset.
func TestQuotaExhaustedPausesUntilReset(t *testing.T) {
	f := newFake(t)
	clk := newClock()
	reset := clk.now().Add(3 * time.Hour)
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		fmt.Fprint(w, `{"data":{"ipAddress":"8.8.8.8","abuseConfidenceScore":33,"countryCode":"US","isWhitelisted":false,"totalReports":4}}`)
	})
	r := newClient(t, f, nil, clk, func(o *abuseipdb.Options) { o.Budget = 5 * time.Second })
	if got := r.lookup(t, "8.8.8.8"); got.AbuseScore != 33 {
		t.Fatalf("last answer of the quota = %+v, want score 33", got)
	}
	r.lookup(t, "8.8.4.4")
	clk.add(2 * time.Hour)
	r.lookup(t, "8.8.4.5")
	if n := f.requests.Load(); n != 1 {
		t.Errorf("%d requests with the quota used up, want 1", n)
	}
	clk.add(2 * time.Hour)
	r.lookup(t, "8.8.4.6")
	waitFor(t, func() bool { return f.requests.Load() == 2 })
}

// A server that never answers: every lookup returns with the offline answer
// instead of waiting for it, and the answer that comes later serves the next
// call. The server here answers only when released, so a lookup that ignored
// its budget would wait for the whole test; the bound below is ten budgets,
// wide enough for a loaded 2-core CI box (where goroutines run tens of
// milliseconds late) and still a hang detector. The measured waits are logged.
func TestBudgetHeldOnAHangingServer(t *testing.T) {
	f := newFake(t)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		<-release
		fmt.Fprint(w, `{"data":{"ipAddress":"8.8.8.8","abuseConfidenceScore":77,"countryCode":"FR","isWhitelisted":false}}`)
	})
	const budget = 100 * time.Millisecond
	r := newClient(t, f, nil, newClock(), func(o *abuseipdb.Options) { o.Budget = budget })
	var worst, late time.Duration
	for i := range 10 {
		// The control: how late a timer of the budget's length fires now.
		t0 := time.Now()
		time.Sleep(budget)
		late = max(late, time.Since(t0)-budget)
		ip := "8.8.8.8"
		if i%2 == 1 {
			ip = "8.8.4." + strconv.Itoa(i)
		}
		start := time.Now()
		got := r.lookup(t, ip)
		worst = max(worst, time.Since(start))
		if got.Source != "local" || got.AbuseScore != 0 {
			t.Errorf("lookup %d of %s = %+v, want the offline answer", i, ip, got)
		}
	}
	t.Logf("worst wait %s with a budget of %s (timers fired up to %s late)", worst, budget, late)
	if worst > 10*budget+late {
		t.Errorf("a lookup waited %s with a budget of %s (timers fired up to %s late): it waited for the hanging server", worst, budget, late)
	}
	if v := counter(t, r.reg, "tfps_reputation_lookups_total", "result", "over_budget"); v == 0 {
		t.Error("over_budget not counted")
	}
	once.Do(func() { close(release) })
	waitFor(t, func() bool { return r.lookup(t, "8.8.8.8").AbuseScore == 77 })
	if got := r.lookup(t, "8.8.8.8"); got.Country != "FR" {
		t.Errorf("after the late answer = %+v, want FR", got)
	}
}

func TestOptionsRefused(t *testing.T) {
	if _, err := abuseipdb.New(abuseipdb.Options{}); err == nil {
		t.Error("no key accepted")
	}
	if _, err := abuseipdb.New(abuseipdb.Options{Key: "k", URL: "ftp://x"}); err == nil {
		t.Error("ftp URL accepted")
	}
}

func (r *rig) logged(s string) bool {
	r.logw.mu.Lock()
	defer r.logw.mu.Unlock()
	return bytes.Contains(r.logw.w.Bytes(), []byte(s))
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

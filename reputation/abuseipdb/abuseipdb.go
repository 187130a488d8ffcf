// Package abuseipdb asks AbuseIPDB (API v2, GET /check) about source
// addresses, with a shared cache and a strict time budget.
//
// A decision never waits longer than Options.Budget for AbuseIPDB, whatever
// the service does: answers are kept in process memory and in Redis (shared
// by every gateway) for Options.TTL, negative answers too; an answer near the
// end of its life is served while a background lookup refreshes it (stale
// while revalidate); a miss is looked up in the background and waited for at
// most Budget, after which the call is decided with the offline country
// table and no score, and the lookup finishes for the next call. The daily
// quota headers (X-RateLimit-Remaining, Retry-After on 429) and a refused
// key pause the lookups until they can succeed again, with one warning and
// a metric, never an error per call.
package abuseipdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps/reputation"
)

// Service is the name of this source in reports, metrics and cache keys.
const Service = "abuseipdb"

// Defaults of Options.
const (
	DefaultURL     = "https://api.abuseipdb.com/api/v2"
	DefaultTTL     = 24 * time.Hour
	DefaultBudget  = 300 * time.Millisecond
	DefaultMaxAge  = 90 // days of reports the score considers
	requestTimeout = 10 * time.Second
	// maxBody bounds an answer: a check answer without "verbose" is well
	// under 1 KB; anything far larger is not AbuseIPDB speaking.
	maxBody = 64 << 10
	// maxInFlight bounds concurrent lookups: a hanging service and a flood
	// of new addresses must not pile up goroutines and sockets.
	maxInFlight = 64
	// maxMemory bounds the in-process cache; past it it starts over (the
	// Redis copy remains).
	maxMemory = 200_000
	// refreshAt: an answer older than this share of the TTL is served and
	// refreshed in the background.
	refreshAt = 0.8
	// Pauses after a failure, so a broken service is not asked per call.
	pauseUnauthorized = 10 * time.Minute
	pauseError        = 10 * time.Second
	pauseQuotaDefault = time.Hour
)

// Sentinel errors of one check; test them with errors.Is.
var (
	ErrUnauthorized = errors.New("abuseipdb refused the API key")
	ErrRateLimited  = errors.New("abuseipdb rate limit reached")
	ErrUnavailable  = errors.New("abuseipdb unavailable")
	ErrBadAnswer    = errors.New("abuseipdb answer not understood")
	errPaused       = errors.New("abuseipdb lookups paused")
)

// Cache is the shared cache (state.ReputationCache).
type Cache interface {
	Get(ctx context.Context, service, addr string) ([]byte, bool, error)
	Put(ctx context.Context, service, addr string, b []byte, ttl time.Duration) error
}

// Options configure a Client. Key is required.
type Options struct {
	URL    string        // base address of API v2; default DefaultURL
	Key    string        // API key, sent in the Key header
	TTL    time.Duration // life of a cached answer; default 24h
	Budget time.Duration // longest wait of a decision; default 300ms
	MaxAge int           // maxAgeInDays; default 90
	Cache  Cache         // nil: process memory only
	HTTP   *http.Client  // nil: a client with a 10 s timeout

	Logger     *slog.Logger          // nil: slog.Default()
	Registerer prometheus.Registerer // nil: metrics not registered
	Now        func() time.Time      // nil: time.Now; ages of cached answers
}

// Result is AbuseIPDB's answer about one address.
type Result struct {
	Score        int       `json:"s"`
	Country      string    `json:"c,omitempty"`
	Whitelisted  bool      `json:"w,omitempty"`
	UsageType    string    `json:"u,omitempty"`
	TotalReports int       `json:"n,omitempty"`
	Fetched      time.Time `json:"t"`
}

// Client looks addresses up. It is safe for concurrent use; Close waits for
// its background lookups.
type Client struct {
	o    Options
	base string
	log  *slog.Logger
	m    metrics

	mu      sync.RWMutex
	mem     map[netip.Addr]Result
	flights map[netip.Addr]*flight
	wg      sync.WaitGroup
	sem     chan struct{}

	pausedUntil atomic.Int64 // unix ns; 0 not paused
	closed      atomic.Bool
}

type flight struct {
	done chan struct{} // closed when res/err are set
	once sync.Once
	res  Result
	err  error
}

func (f *flight) finish(r Result, err error) {
	f.once.Do(func() {
		f.res, f.err = r, err
		close(f.done)
	})
}

// New returns a client.
func New(o Options) (*Client, error) {
	if o.Key == "" {
		return nil, errors.New("abuseipdb: API key required")
	}
	if o.URL == "" {
		o.URL = DefaultURL
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("abuseipdb: URL %q is not an http(s) address", o.URL)
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Budget <= 0 {
		o.Budget = DefaultBudget
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: requestTimeout}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Client{
		o: o, base: strings.TrimRight(o.URL, "/"), log: o.Logger,
		mem: map[netip.Addr]Result{}, flights: map[netip.Addr]*flight{}, sem: make(chan struct{}, maxInFlight),
	}
	if c.m, err = newMetrics(o.Registerer, c.paused); err != nil {
		return nil, fmt.Errorf("abuseipdb: register metrics: %w", err)
	}
	return c, nil
}

// Close stops new background lookups and waits for the running ones until
// ctx ends.
func (c *Client) Close(ctx context.Context) error {
	c.closed.Store(true)
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("abuseipdb: close: %w", ctx.Err())
	}
}

// Lookup implements engine.Reputation: the score and country of addr within
// the budget, else the offline country and no score. It never returns an
// error for a failing service; the failure is logged and counted.
func (c *Client) Lookup(ctx context.Context, addr netip.Addr) (reputation.Report, error) {
	addr = addr.Unmap()
	now := c.o.Now()
	c.mu.RLock()
	r, ok := c.mem[addr]
	c.mu.RUnlock()
	if ok {
		age := now.Sub(r.Fetched)
		if age < c.o.TTL {
			if age > time.Duration(float64(c.o.TTL)*refreshAt) {
				c.m.stale.Inc()
				c.start(addr, true)
			} else {
				c.m.memory.Inc()
			}
			return report(addr, r), nil
		}
	}
	f := c.start(addr, false)
	if f == nil {
		return c.fallback(ctx, addr)
	}
	t := time.NewTimer(c.o.Budget)
	defer t.Stop()
	select {
	case <-f.done:
		if f.err != nil {
			return c.fallback(ctx, addr)
		}
		return report(addr, f.res), nil
	case <-t.C:
		c.m.lookups.WithLabelValues("over_budget").Inc()
	case <-ctx.Done():
	}
	return c.fallback(ctx, addr)
}

// fallback is the answer without AbuseIPDB: the offline country, no score.
func (c *Client) fallback(ctx context.Context, addr netip.Addr) (reputation.Report, error) {
	return reputation.Local{}.Lookup(ctx, addr)
}

func report(addr netip.Addr, r Result) reputation.Report {
	rep := reputation.Report{AbuseScore: r.Score, Country: r.Country, Whitelisted: r.Whitelisted, Source: Service}
	if rep.Country == "" {
		l, _ := reputation.Local{}.Lookup(context.Background(), addr)
		rep.Country = l.Country
	}
	return rep
}

// start returns the lookup of addr in flight, starting one if none is. It
// returns nil when none can run (paused, closed, too many in flight).
// refresh skips the shared cache: the answer at hand is getting old.
func (c *Client) start(addr netip.Addr, refresh bool) *flight {
	c.mu.Lock()
	if f, ok := c.flights[addr]; ok {
		c.mu.Unlock()
		return f
	}
	if c.closed.Load() {
		c.mu.Unlock()
		return nil
	}
	select {
	case c.sem <- struct{}{}:
	default:
		c.mu.Unlock()
		c.m.lookups.WithLabelValues("busy").Inc()
		return nil
	}
	f := &flight{done: make(chan struct{})}
	c.flights[addr] = f
	c.wg.Add(1)
	c.mu.Unlock()
	go c.run(addr, f, refresh)
	return f
}

// run is one background lookup: the shared cache, then AbuseIPDB. Its
// context is its own: the call that started it may be long answered.
func (c *Client) run(addr netip.Addr, f *flight, refresh bool) {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		delete(c.flights, addr)
		c.mu.Unlock()
		<-c.sem
	}()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	key := addr.String()
	if c.o.Cache != nil && !refresh {
		if b, ok, err := c.o.Cache.Get(ctx, Service, key); err != nil {
			c.log.Warn("read reputation cache", "service", Service, "err", err)
		} else if ok {
			var r Result
			if json.Unmarshal(b, &r) == nil {
				age := c.o.Now().Sub(r.Fetched)
				if age < c.o.TTL {
					c.remember(addr, r)
					c.m.lookups.WithLabelValues("shared").Inc()
					f.finish(r, nil)
					if age <= time.Duration(float64(c.o.TTL)*refreshAt) {
						return
					}
					// Near its end: keep going and refresh it.
				}
			}
		}
	}
	if c.paused() {
		c.m.lookups.WithLabelValues("paused").Inc()
		f.finish(Result{}, errPaused)
		return
	}
	r, err := c.Check(ctx, addr)
	if err != nil {
		c.m.lookups.WithLabelValues("error").Inc()
		f.finish(Result{}, err)
		return
	}
	c.m.lookups.WithLabelValues("fetched").Inc()
	c.remember(addr, r)
	f.finish(r, nil)
	if c.o.Cache != nil {
		b, _ := json.Marshal(r)
		if err := c.o.Cache.Put(ctx, Service, key, b, c.o.TTL); err != nil {
			c.log.Warn("write reputation cache", "service", Service, "err", err)
		}
	}
}

func (c *Client) remember(addr netip.Addr, r Result) {
	c.mu.Lock()
	if len(c.mem) >= maxMemory {
		clear(c.mem)
	}
	c.mem[addr] = r
	c.mu.Unlock()
}

func (c *Client) paused() bool {
	u := c.pausedUntil.Load()
	return u != 0 && c.o.Now().UnixNano() < u
}

// pause stops lookups until until; the first pause of a series is logged.
func (c *Client) pause(until time.Time, reason string, err error) {
	prev := c.pausedUntil.Load()
	if prev >= until.UnixNano() {
		return
	}
	c.pausedUntil.Store(until.UnixNano())
	c.m.pauses.WithLabelValues(reason).Inc()
	if prev == 0 || c.o.Now().UnixNano() >= prev {
		c.log.Warn("abuseipdb lookups paused; calls are decided with the offline country table and no score",
			"reason", reason, "until", until.UTC().Format(time.RFC3339), "err", err)
	}
}

// apiAnswer is the JSON of GET /check.
type apiAnswer struct {
	Data *struct {
		IPAddress            string  `json:"ipAddress"`
		AbuseConfidenceScore *int    `json:"abuseConfidenceScore"`
		CountryCode          *string `json:"countryCode"`
		IsWhitelisted        *bool   `json:"isWhitelisted"`
		UsageType            *string `json:"usageType"`
		TotalReports         int     `json:"totalReports"`
	} `json:"data"`
	Errors []struct {
		Detail string `json:"detail"`
		Status int    `json:"status"`
	} `json:"errors"`
}

// Check asks AbuseIPDB about addr once, without cache or budget (check-config
// and the background lookups use it). Quota headers and refusals pause the
// client's lookups as a side effect.
func (c *Client) Check(ctx context.Context, addr netip.Addr) (Result, error) {
	q := url.Values{"ipAddress": {addr.Unmap().String()}, "maxAgeInDays": {strconv.Itoa(c.o.MaxAge)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/check?"+q.Encode(), nil)
	if err != nil {
		return Result{}, fmt.Errorf("abuseipdb check %s: %w", addr, err)
	}
	req.Header.Set("Key", c.o.Key)
	req.Header.Set("Accept", "application/json")
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		err = fmt.Errorf("abuseipdb check %s: %w: %w", addr, ErrUnavailable, err)
		c.pause(c.o.Now().Add(pauseError), "unavailable", err)
		return Result{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		err = fmt.Errorf("abuseipdb check %s: read answer: %w: %w", addr, ErrUnavailable, err)
		c.pause(c.o.Now().Add(pauseError), "unavailable", err)
		return Result{}, err
	}
	now := c.o.Now()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		err := fmt.Errorf("abuseipdb check %s: %w (HTTP 429)", addr, ErrRateLimited)
		c.pause(retryAfter(resp.Header, now), "rate_limited", err)
		return Result{}, err
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		err := fmt.Errorf("abuseipdb check %s: %w (HTTP %d%s)", addr, ErrUnauthorized, resp.StatusCode, detail(body))
		c.pause(now.Add(pauseUnauthorized), "unauthorized", err)
		return Result{}, err
	case resp.StatusCode != http.StatusOK:
		err := fmt.Errorf("abuseipdb check %s: %w (HTTP %d%s)", addr, ErrUnavailable, resp.StatusCode, detail(body))
		c.pause(now.Add(pauseError), "unavailable", err)
		return Result{}, err
	}
	if len(body) > maxBody {
		return Result{}, fmt.Errorf("abuseipdb check %s: %w: answer larger than %d bytes", addr, ErrBadAnswer, maxBody)
	}
	var a apiAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return Result{}, fmt.Errorf("abuseipdb check %s: %w: %w", addr, ErrBadAnswer, err)
	}
	if a.Data == nil || a.Data.AbuseConfidenceScore == nil {
		return Result{}, fmt.Errorf("abuseipdb check %s: %w: no data.abuseConfidenceScore", addr, ErrBadAnswer)
	}
	d := a.Data
	if s := *d.AbuseConfidenceScore; s < 0 || s > 100 {
		return Result{}, fmt.Errorf("abuseipdb check %s: %w: abuseConfidenceScore %d outside 0-100", addr, ErrBadAnswer, s)
	}
	r := Result{Score: *d.AbuseConfidenceScore, TotalReports: d.TotalReports, Fetched: now}
	if d.CountryCode != nil && len(*d.CountryCode) == 2 {
		r.Country = strings.ToUpper(*d.CountryCode)
	}
	if d.IsWhitelisted != nil {
		r.Whitelisted = *d.IsWhitelisted
	}
	if d.UsageType != nil {
		r.UsageType = *d.UsageType
	}
	// The last lookup of the day's quota: this answer is good, the next
	// would be refused until the reset.
	if rem := resp.Header.Get("X-RateLimit-Remaining"); rem != "" {
		if n, err := strconv.Atoi(rem); err == nil && n <= 0 {
			c.pause(resetAt(resp.Header, now), "quota", fmt.Errorf("%w: X-RateLimit-Remaining 0", ErrRateLimited))
		}
	}
	return r, nil
}

// retryAfter reads Retry-After (seconds or an HTTP date), else
// X-RateLimit-Reset, else a default pause.
func retryAfter(h http.Header, now time.Time) time.Time {
	if v := h.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return now.Add(time.Duration(n) * time.Second)
		}
		if t, err := http.ParseTime(v); err == nil {
			return t
		}
	}
	return resetAt(h, now)
}

// resetAt reads X-RateLimit-Reset (Unix seconds) or pauses for an hour.
func resetAt(h http.Header, now time.Time) time.Time {
	if v := h.Get("X-RateLimit-Reset"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > now.Unix() {
			return time.Unix(n, 0)
		}
	}
	return now.Add(pauseQuotaDefault)
}

// detail quotes AbuseIPDB's error detail, shortened, for the log.
func detail(body []byte) string {
	var a apiAnswer
	if json.Unmarshal(body, &a) != nil || len(a.Errors) == 0 {
		return ""
	}
	d := a.Errors[0].Detail
	if len(d) > 200 {
		d = d[:200]
	}
	return ": " + d
}

type metrics struct {
	lookups *prometheus.CounterVec
	pauses  *prometheus.CounterVec
	// The hot path's counters, resolved once (a label lookup per call cost
	// more than the rest of a cached lookup).
	memory, stale prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, paused func() bool) (metrics, error) {
	m := metrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_reputation_lookups_total", ConstLabels: prometheus.Labels{"service": Service},
			Help: "Reputation lookups by how they were answered: memory, shared (Redis), stale (served, refreshing), fetched, error, paused, over_budget (decided without the score), busy.",
		}, []string{"result"}),
		pauses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_reputation_pauses_total", ConstLabels: prometheus.Labels{"service": Service},
			Help: "Times the lookups were paused: quota, rate_limited, unauthorized, unavailable.",
		}, []string{"reason"}),
	}
	m.memory, m.stale = m.lookups.WithLabelValues("memory"), m.lookups.WithLabelValues("stale")
	if reg == nil {
		return m, nil
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tfps_reputation_paused", ConstLabels: prometheus.Labels{"service": Service},
		Help: "1 while lookups are paused (quota, refused key, failing service).",
	}, func() float64 {
		if paused() {
			return 1
		}
		return 0
	})
	for _, col := range []prometheus.Collector{m.lookups, m.pauses, g} {
		if err := reg.Register(col); err != nil {
			return m, err
		}
	}
	return m, nil
}

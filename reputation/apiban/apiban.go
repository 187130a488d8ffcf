// Package apiban keeps APIBAN's list of addresses sending unwanted SIP
// traffic in memory, so a decision checks it in O(1) with no network.
//
// A poller fetches the list incrementally: GET {URL}/{KEY}/banned/{ID}
// answers {"ipaddress": [...], "ID": "<next>"}; the poller follows the
// returned ID until APIBAN answers that nothing is newer (ID "none", with
// HTTP 400 or 404), then keeps that ID for the next round. Bans expire at
// APIBAN but the increments only add, so once a day the list is fetched in
// full from the first ID and replaces the set.
//
// The last complete list is written to a file (Options.File) after every
// change and read at start: a gateway restarted without internet keeps
// checking against it. A failing service keeps the last list; the failure is
// logged and counted.
package apiban

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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Service is the name of this source in reports and metrics.
const Service = "apiban"

// Defaults of Options.
const (
	DefaultURL      = "https://apiban.org/api"
	DefaultInterval = 5 * time.Minute
	// FirstID starts a full list (APIBAN's documented starting point).
	FirstID = "100"
	// fullEvery: the list is fetched in full this often, dropping expired bans.
	fullEvery      = 24 * time.Hour
	requestTimeout = 30 * time.Second
	maxPage        = 8 << 20 // bytes of one page
	maxPages       = 10_000  // pages of one round: a server that never says "none" ends
)

// Sentinel errors; test them with errors.Is.
var (
	ErrUnauthorized = errors.New("apiban refused the API key")
	ErrRateLimited  = errors.New("apiban rate limit exceeded")
	ErrUnavailable  = errors.New("apiban unavailable")
	ErrBadAnswer    = errors.New("apiban answer not understood")
)

// Options configure a List. Key is required.
type Options struct {
	URL      string        // base address; default DefaultURL
	Key      string        // API key, part of the path
	Interval time.Duration // between rounds; default 5m
	File     string        // where the last list is kept; "" keeps none
	HTTP     *http.Client  // nil: a client with a 30 s timeout

	Logger     *slog.Logger          // nil: slog.Default()
	Registerer prometheus.Registerer // nil: metrics not registered
	Now        func() time.Time      // nil: time.Now
}

// List is APIBAN's banned list. Listed is safe for concurrent use with Poll.
type List struct {
	o    Options
	base string
	log  *slog.Logger

	set atomic.Pointer[banSet]

	mu     sync.Mutex // one round at a time; guards the fields below
	nextID string
	fullAt time.Time
	failed bool // the last round failed (log the recovery)

	rounds *prometheus.CounterVec
	size   prometheus.Gauge
}

type banSet map[netip.Addr]struct{}

// saved is the file format of the kept list.
type saved struct {
	ID     string    `json:"id"`      // next ID to ask for
	FullAt time.Time `json:"full_at"` // when the list was last fetched in full
	Saved  time.Time `json:"saved"`
	IPs    []string  `json:"ipaddress"`
}

// New returns the list, loaded from Options.File when it exists. A missing
// file is an empty list; an unreadable one is an error.
func New(o Options) (*List, error) {
	if o.Key == "" {
		return nil, errors.New("apiban: API key required")
	}
	if strings.ContainsAny(o.Key, "/?#") {
		return nil, errors.New("apiban: API key must not contain /, ? or #")
	}
	if o.URL == "" {
		o.URL = DefaultURL
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("apiban: URL %q is not an http(s) address", o.URL)
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
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
	l := &List{o: o, base: strings.TrimRight(o.URL, "/"), log: o.Logger}
	l.set.Store(&banSet{})
	l.rounds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tfps_apiban_polls_total", Help: "APIBAN list rounds by result: ok, unauthorized, rate_limited, unavailable, bad_answer.",
	}, []string{"result"})
	l.size = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tfps_apiban_listed", Help: "Addresses in the APIBAN list held in memory."})
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{l.rounds, l.size} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("apiban: register metrics: %w", err)
			}
		}
	}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l, nil
}

// Name implements reputation.Blocklist.
func (l *List) Name() string { return Service }

// Listed reports whether APIBAN lists addr.
func (l *List) Listed(addr netip.Addr) bool {
	_, ok := (*l.set.Load())[addr.Unmap()]
	return ok
}

// Len is the number of listed addresses.
func (l *List) Len() int { return len(*l.set.Load()) }

// Run polls every Options.Interval until ctx ends, starting at once.
func (l *List) Run(ctx context.Context) {
	t := time.NewTicker(l.o.Interval)
	defer t.Stop()
	for {
		if err := l.Poll(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn("apiban poll failed; keeping the last list", "listed", l.Len(), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll runs one round: the increments since the last round (or the full
// list when due), merged into the set and saved. On failure the set stays
// as it was.
func (l *List) Poll(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.o.Now()
	full := l.nextID == "" || now.Sub(l.fullAt) >= fullEvery
	id := l.nextID
	if full {
		id = FirstID
	}
	var added []netip.Addr
	for range maxPages {
		ips, next, err := l.page(ctx, id)
		if err != nil {
			l.rounds.WithLabelValues(result(err)).Inc()
			l.failed = true
			return err
		}
		added = append(added, ips...)
		if next == "" {
			break
		}
		id = next
	}
	old := *l.set.Load()
	var ns banSet
	if full {
		ns = make(banSet, len(added))
	} else {
		ns = make(banSet, len(old)+len(added))
		for a := range old {
			ns[a] = struct{}{}
		}
	}
	for _, a := range added {
		ns[a] = struct{}{}
	}
	l.set.Store(&ns)
	l.size.Set(float64(len(ns)))
	l.nextID = id
	if full {
		l.fullAt = now
	}
	l.rounds.WithLabelValues("ok").Inc()
	if l.failed {
		l.log.Info("apiban poll recovered", "listed", len(ns))
		l.failed = false
	}
	if full || len(added) > 0 {
		if err := l.save(now); err != nil {
			l.log.Warn("save apiban list", "file", l.o.File, "err", err)
		}
	}
	return nil
}

func result(err error) string {
	switch {
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrBadAnswer):
		return "bad_answer"
	}
	return "unavailable"
}

// answer is one page: ipaddress is a list of addresses, or a string (a
// message such as "rate limit exceeded") in error answers.
type answer struct {
	IPs json.RawMessage `json:"ipaddress"`
	ID  string          `json:"ID"`
}

// page fetches the bans after id; next is "" when the list is complete.
func (l *List) page(ctx context.Context, id string) (ips []netip.Addr, next string, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	u := l.base + "/" + url.PathEscape(l.o.Key) + "/banned/" + url.PathEscape(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", fmt.Errorf("apiban banned/%s: %w", id, err)
	}
	resp, err := l.o.HTTP.Do(req)
	if err != nil {
		// The URL holds the key: name the page, not the URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", fmt.Errorf("apiban banned/%s: %w: %w", id, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage+1))
	if err != nil {
		return nil, "", fmt.Errorf("apiban banned/%s: read answer: %w: %w", id, ErrUnavailable, err)
	}
	if len(body) > maxPage {
		return nil, "", fmt.Errorf("apiban banned/%s: %w: answer larger than %d bytes", id, ErrBadAnswer, maxPage)
	}
	var a answer
	jsonErr := json.Unmarshal(body, &a)
	var msg string
	if jsonErr == nil && len(a.IPs) > 0 && a.IPs[0] == '"' {
		json.Unmarshal(a.IPs, &msg)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || strings.Contains(msg, "rate limit"):
		return nil, "", fmt.Errorf("apiban banned/%s: %w (HTTP %d)", id, ErrRateLimited, resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || a.ID == "unauthorized":
		return nil, "", fmt.Errorf("apiban banned/%s: %w (HTTP %d)", id, ErrUnauthorized, resp.StatusCode)
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound:
		if jsonErr == nil && a.ID == "none" {
			return nil, "", nil // nothing newer: complete
		}
		return nil, "", fmt.Errorf("apiban banned/%s: %w (HTTP %d)", id, ErrBadAnswer, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("apiban banned/%s: %w (HTTP %d)", id, ErrUnavailable, resp.StatusCode)
	case jsonErr != nil:
		return nil, "", fmt.Errorf("apiban banned/%s: %w: %w", id, ErrBadAnswer, jsonErr)
	case a.ID == "none":
		return nil, "", nil
	case a.ID == "" || a.ID == id:
		// An ID that does not move would loop for ever.
		return nil, "", fmt.Errorf("apiban banned/%s: %w: next ID %q", id, ErrBadAnswer, a.ID)
	}
	var list []string
	if err := json.Unmarshal(a.IPs, &list); err != nil {
		return nil, "", fmt.Errorf("apiban banned/%s: %w: ipaddress is not a list of addresses", id, ErrBadAnswer)
	}
	ips = make([]netip.Addr, 0, len(list))
	for _, s := range list {
		if ad, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			ips = append(ips, ad.Unmap())
		}
	}
	return ips, a.ID, nil
}

// load reads the kept list, if any.
func (l *List) load() error {
	if l.o.File == "" {
		return nil
	}
	b, err := os.ReadFile(l.o.File)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("apiban: read kept list: %w", err)
	}
	var s saved
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("apiban: read kept list %s: %w", l.o.File, err)
	}
	set := make(banSet, len(s.IPs))
	for _, v := range s.IPs {
		if a, err := netip.ParseAddr(v); err == nil {
			set[a.Unmap()] = struct{}{}
		}
	}
	l.set.Store(&set)
	l.size.Set(float64(len(set)))
	l.nextID, l.fullAt = s.ID, s.FullAt
	l.log.Info("apiban list loaded", "file", l.o.File, "listed", len(set), "saved", s.Saved)
	return nil
}

// save writes the list to a temporary file and renames it over the kept
// one, so a crash mid-write leaves the previous list.
func (l *List) save(now time.Time) error {
	if l.o.File == "" {
		return nil
	}
	set := *l.set.Load()
	s := saved{ID: l.nextID, FullAt: l.fullAt, Saved: now, IPs: make([]string, 0, len(set))}
	for a := range set {
		s.IPs = append(s.IPs, a.String())
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(l.o.File), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(l.o.File), ".apiban-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), l.o.File)
}

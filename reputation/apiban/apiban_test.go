package apiban_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps/reputation/apiban"
)

const key = "apibankey123"

// fake APIBAN: GET /api/{KEY}/banned/{ID} answers the bans added after ID,
// 2 per page, {"ipaddress": [...], "ID": "<next>"}; when nothing is newer it
// answers 400 {"ipaddress": ["no new bans"], "ID": "none"}, as the
// documentation and the official client describe.
type fake struct {
	srv *httptest.Server

	mu       sync.Mutex
	bans     []string // bans[i] has ID 1000+i
	asked    []string // IDs asked, in order
	override http.HandlerFunc
}

func newFake(t *testing.T, bans ...string) *fake {
	f := &fake{bans: bans}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		h := f.override
		f.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/"), "/")
		if len(parts) != 3 || parts[1] != "banned" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if parts[0] != key {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"ipaddress":["unauthorized"],"ID":"unauthorized"}`)
			return
		}
		id, err := strconv.Atoi(parts[2])
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"ipaddress":["bad request"],"ID":"none"}`)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.asked = append(f.asked, parts[2])
		// ID 100 is the start of the full list; ID 1000+i is "after ban i-1".
		from := 0
		if id >= 1000 {
			from = id - 1000
		}
		if from >= len(f.bans) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"ipaddress":["no new bans"],"ID":"none"}`)
			return
		}
		to := min(from+2, len(f.bans))
		json.NewEncoder(w).Encode(map[string]any{"ipaddress": f.bans[from:to], "ID": strconv.Itoa(1000 + to)})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) ban(ips ...string) {
	f.mu.Lock()
	f.bans = append(f.bans, ips...)
	f.mu.Unlock()
}

func (f *fake) takeAsked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.asked
	f.asked = nil
	return a
}

func (f *fake) setOverride(h http.HandlerFunc) {
	f.mu.Lock()
	f.override = h
	f.mu.Unlock()
}

func newList(t *testing.T, url, file string, now func() time.Time) *apiban.List {
	t.Helper()
	l, err := apiban.New(apiban.Options{URL: url + "/api", Key: key, File: file, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func listed(l *apiban.List, ip string) bool { return l.Listed(netip.MustParseAddr(ip)) }

func TestIncrementalListKeptAcrossRestart(t *testing.T) {
	f := newFake(t, "203.0.113.1", "203.0.113.2", "203.0.113.3")
	file := filepath.Join(t.TempDir(), "apiban.json")
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := newList(t, f.srv.URL, file, clock)
	ctx := context.Background()

	if err := l.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.takeAsked(); strings.Join(got, ",") != "100,1002,1003" {
		t.Errorf("first round asked %v, want 100 (full list), then the returned IDs 1002, 1003", got)
	}
	for _, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "::ffff:203.0.113.2"} {
		if !listed(l, ip) {
			t.Errorf("%s not listed", ip)
		}
	}
	if listed(l, "203.0.113.9") {
		t.Error("203.0.113.9 listed")
	}

	// The next round only asks what is newer than the last ID.
	f.ban("198.51.100.7")
	now = now.Add(5 * time.Minute)
	if err := l.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.takeAsked(); strings.Join(got, ",") != "1003,1004" {
		t.Errorf("incremental round asked %v, want 1003, 1004", got)
	}
	if !listed(l, "198.51.100.7") || !listed(l, "203.0.113.1") || l.Len() != 4 {
		t.Errorf("after the increment: %d listed", l.Len())
	}

	// Restart with APIBAN unreachable: the kept list still answers.
	f.srv.Close()
	l2 := newList(t, f.srv.URL, file, clock)
	if !listed(l2, "198.51.100.7") || !listed(l2, "203.0.113.3") || l2.Len() != 4 {
		t.Errorf("after restart: %d listed, want the 4 kept", l2.Len())
	}
	err := l2.Poll(ctx)
	if !errors.Is(err, apiban.ErrUnavailable) {
		t.Errorf("poll with the service down = %v, want ErrUnavailable", err)
	}
	if l2.Len() != 4 {
		t.Errorf("a failed poll changed the list to %d", l2.Len())
	}
}

// Once a day the list is fetched in full, so bans APIBAN dropped go.
func TestDailyFullListDropsExpiredBans(t *testing.T) {
	f := newFake(t, "203.0.113.1", "203.0.113.2")
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	l := newList(t, f.srv.URL, "", func() time.Time { return now })
	if err := l.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.bans = []string{"203.0.113.2"}
	f.mu.Unlock()
	now = now.Add(25 * time.Hour)
	f.takeAsked()
	if err := l.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.takeAsked(); len(got) == 0 || got[0] != "100" {
		t.Errorf("daily round asked %v, want to start at 100", got)
	}
	if listed(l, "203.0.113.1") || !listed(l, "203.0.113.2") {
		t.Error("the full list did not replace the set")
	}
}

// A failing service keeps the last list and says why.
func TestFailuresKeepTheList(t *testing.T) {
	huge := `{"ipaddress":["` + strings.Repeat("1", 9<<20) + `"],"ID":"2000"}`
	tests := []struct {
		name    string
		key     string
		handler http.HandlerFunc
		want    error
	}{
		{"403 bad key", "wrongkey", nil, apiban.ErrUnauthorized},
		{"401", key, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }, apiban.ErrUnauthorized},
		{"rate limited", key, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"ipaddress":"rate limit exceeded","ID":"none"}`)
		}, apiban.ErrRateLimited},
		{"429", key, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }, apiban.ErrRateLimited},
		{"500", key, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", 500) }, apiban.ErrUnavailable},
		{"malformed JSON", key, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"ipaddress":["1.2.3.4",`) }, apiban.ErrBadAnswer},
		{"ID that never moves", key, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"ipaddress":["1.2.3.4"],"ID":"100"}`)
		}, apiban.ErrBadAnswer},
		{"huge body", key, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, huge) }, apiban.ErrBadAnswer},
		{"never answers", key, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, apiban.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "203.0.113.1")
			file := filepath.Join(t.TempDir(), "apiban.json")
			l := newList(t, f.srv.URL, file, time.Now)
			if err := l.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			f.setOverride(tt.handler)
			var bad *apiban.List
			var err error
			if tt.key != key {
				bad, err = apiban.New(apiban.Options{URL: f.srv.URL + "/api", Key: tt.key, File: file})
				if err != nil {
					t.Fatal(err)
				}
			} else {
				bad = l
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			// Force the full round, as a restarted gateway would.
			err = bad.Poll(ctx)
			if !errors.Is(err, tt.want) {
				t.Errorf("poll = %v, want %v", err, tt.want)
			}
			if err != nil && bytes.Contains([]byte(err.Error()), []byte(key)) {
				t.Errorf("the error shows the API key: %v", err)
			}
			if !listed(bad, "203.0.113.1") {
				t.Error("the last list was lost")
			}
		})
	}
}

func TestOptionsRefused(t *testing.T) {
	if _, err := apiban.New(apiban.Options{}); err == nil {
		t.Error("no key accepted")
	}
	if _, err := apiban.New(apiban.Options{Key: "a/b"}); err == nil {
		t.Error("a key with / accepted")
	}
}

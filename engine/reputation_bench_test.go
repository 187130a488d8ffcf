package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/reputation/abuseipdb"
	"github.com/voipshield/tfps/reputation/apiban"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// onlineReputation is AbuseIPDB (shared Redis cache) and APIBAN (10,000
// listed addresses) against local fake services, warmed for ipUS.
func onlineReputation(b *testing.B, st *state.State) *reputation.Sources {
	b.Helper()
	abuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
			"ipAddress": r.URL.Query().Get("ipAddress"), "abuseConfidenceScore": 0, "countryCode": "US", "isWhitelisted": false,
		}})
	}))
	b.Cleanup(abuse.Close)
	ips := make([]string, 10_000)
	for i := range ips {
		ips[i] = fmt.Sprintf("203.0.%d.%d", i/250, i%250)
	}
	ban := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/k/banned/100" {
			json.NewEncoder(w).Encode(map[string]any{"ipaddress": ips, "ID": "101"})
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"ipaddress":["no new bans"],"ID":"none"}`)
	}))
	b.Cleanup(ban.Close)
	cl, err := abuseipdb.New(abuseipdb.Options{URL: abuse.URL, Key: "k", Budget: 5 * time.Second, Cache: state.NewReputationCache(st)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.Close(context.Background()) })
	l, err := apiban.New(apiban.Options{URL: ban.URL + "/api", Key: "k"})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Poll(context.Background()); err != nil || l.Len() != len(ips) {
		b.Fatalf("apiban list: %d listed, %v", l.Len(), err)
	}
	src := &reputation.Sources{Lists: []reputation.Blocklist{l}, Score: cl}
	if r, _ := src.Lookup(context.Background(), ipUS); r.Source != abuseipdb.Service {
		b.Fatalf("warm-up lookup answered by %q", r.Source)
	}
	return src
}

// BenchmarkDecideReputation is the CPU of an approving decision with
// AbuseIPDB and APIBAN on (warm cache: the usual case, a PBX's addresses
// repeat) against both off (the offline country table alone).
//
//	go test ./engine -run '^$' -bench DecideReputation -count 5
func BenchmarkDecideReputation(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "services=off"
		if on {
			name = "services=on"
		}
		b.Run(name, func(b *testing.B) {
			opts := baseOptions(b)
			opts.RetryCacheTime = -1
			opts.LogFlush = 0
			db, st := storetest.MustOpen(b, store.SQLite), statetest.MustOpen(b)
			var rep engine.Reputation = &reputation.Sources{}
			if on {
				rep = onlineReputation(b, st)
			}
			eng, err := engine.New(context.Background(), engine.Deps{
				Accounts: db, Lists: db, Changes: db, Log: db, Counters: state.NewDecideCounters(st), Reputation: rep,
			}, opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { eng.Close(context.Background()) })
			a := &tfps.Account{User: "1001", Domain: "pbx.example", ConcurrentCalls: 1000, DailyQuota: 1 << 30,
				SourceCountries: []string{"US"}, DestinationCountries: []string{"US", "GB"}, HomeCountry: "US"}
			if err := db.CreateAccount(context.Background(), a); err != nil {
				b.Fatal(err)
			}
			eng.Refresh(context.Background())
			ctx := context.Background()
			cpu0 := processCPU(b)
			b.ResetTimer()
			for i := range b.N {
				c := call(func(c *engine.Call) { c.Caller = "b" + strconv.Itoa(i) })
				if d, err := eng.Decide(ctx, c); err != nil || d.Code != engine.A00 {
					b.Fatalf("decide: %s %s %v", d.Code, d.Reason, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/1000/float64(b.N), "cpu-us/op")
		})
	}
}

// BenchmarkReputationLookup is the reputation step alone, warm: the APIBAN
// set and the AbuseIPDB memory cache against the offline table.
func BenchmarkReputationLookup(b *testing.B) {
	ctx := context.Background()
	addr := netip.MustParseAddr("8.8.8.8")
	b.Run("services=off", func(b *testing.B) {
		src := &reputation.Sources{}
		for range b.N {
			src.Lookup(ctx, addr)
		}
	})
	b.Run("services=on", func(b *testing.B) {
		src := onlineReputation(b, statetest.MustOpen(b))
		b.ResetTimer()
		for range b.N {
			src.Lookup(ctx, addr)
		}
	})
}

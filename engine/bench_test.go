package engine_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/store"
)

// BenchmarkDecide measures a full approving decision on real Redis and
// SQLite: every check runs, the Redis round trip carries the A->B,
// failures and quota steps, the decision log is written in batches. It
// reports the latency percentiles of Decide beside ns/op.
//
//	go test ./engine -run '^$' -bench Decide -benchmem
func BenchmarkDecide(b *testing.B) {
	for _, par := range []int{1, 16, 64} {
		b.Run("goroutines="+strconv.Itoa(par), func(b *testing.B) {
			opts := baseOptions(b)
			opts.RetryCacheTime = -1
			opts.LogFlush = 0 // the production default (200 ms), not the tests' 5 ms
			r := newRig(b, store.SQLite, opts)
			r.account(b, "1001", func(a *tfps.Account) { a.DailyQuota, a.ConcurrentCalls = 1<<30, 1000 })
			ctx := context.Background()
			// Warm the caches (account, number) and the script.
			r.decide(b, call())
			var seq atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			var wg sync.WaitGroup
			b.ReportAllocs()
			cpu0, rcpu0 := processCPU(b), redisCPU(b, r)
			b.ResetTimer()
			per := (b.N + par - 1) / par
			start := time.Now()
			for w := range par {
				wg.Add(1)
				go func() {
					defer wg.Done()
					mine := make([]time.Duration, 0, per)
					for range per {
						n := seq.Add(1)
						c := call(func(c *engine.Call) { c.Caller = "b" + strconv.FormatInt(n, 10); c.CallID = "bench-" + strconv.Itoa(w) })
						t0 := time.Now()
						d, err := r.eng.Decide(ctx, c)
						mine = append(mine, time.Since(t0))
						if err != nil || d.Code != engine.A00 {
							b.Errorf("decide: %s %s %v", d.Code, d.Reason, err)
							return
						}
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			// CPU per decision does not depend on what else the machine runs.
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
			b.ReportMetric(float64((redisCPU(b, r)-rcpu0).Microseconds())/float64(b.N), "redis-cpu-us/op")
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
				b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "decisions/s")
			}
		})
	}
}

// processCPU is this process's user+system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the Redis server's user+system CPU time so far (INFO cpu).
func redisCPU(b *testing.B, r *rig) time.Duration {
	info, err := r.st.Client().Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// BenchmarkDecideRules compares an approving decision of an account
// without a profile with one whose profile holds 1,000 rules (distinct
// prefixes and windows; the call matches one and trips nothing), one
// goroutine, real Redis: the rule step rides in the same script, so the
// difference is the matching and the step's Redis work.
//
//	go test ./engine -run '^$' -bench DecideRules -benchtime 20000x
func BenchmarkDecideRules(b *testing.B) {
	for _, n := range []int{0, 1000} {
		b.Run("rules="+strconv.Itoa(n), func(b *testing.B) {
			opts := baseOptions(b)
			opts.RetryCacheTime, opts.RangeDistinctLimit = -1, -1
			opts.LogFlush = 0
			r := newRig(b, store.SQLite, opts)
			r.account(b, "1001", func(a *tfps.Account) {
				a.DailyQuota, a.ConcurrentCalls = 1<<30, 1000
				if n > 0 {
					a.Profile = "big"
				}
			})
			if n > 0 {
				rules := make([]tfps.Rule, 0, n)
				for i := range n - 1 {
					start := strconv.Itoa(i%24) + ":00"
					rules = append(rules, tfps.Rule{Profile: "big", Prefix: strconv.Itoa(30+i%60) + strconv.Itoa(i), Start: start, End: start, Days: "Mon-Fri", CPMCritical: 1 << 30})
				}
				rules = append(rules, tfps.Rule{Profile: "big", Prefix: "44", CPMWarning: 1 << 30, TotalCritical: 1 << 30, ConcurrentCritical: 1 << 30, SequentialCritical: 1 << 30})
				r.rules(b, rules...)
			}
			ctx := context.Background()
			r.decide(b, call())
			b.ReportAllocs()
			cpu0, rcpu0 := processCPU(b), redisCPU(b, r)
			b.ResetTimer()
			for i := range b.N {
				c := call(func(c *engine.Call) { c.Caller = "b" + strconv.Itoa(i); c.CallID = "rb-" + strconv.Itoa(i) })
				d, err := r.eng.Decide(ctx, c)
				if err != nil || d.Code != engine.A00 {
					b.Fatalf("decide: %s %s %v", d.Code, d.Reason, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
			b.ReportMetric(float64((redisCPU(b, r)-rcpu0).Microseconds())/float64(b.N), "redis-cpu-us/op")
		})
	}
}

package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// BenchmarkWriteDecisionsByDialect writes 500-row batches of new decisions
// (each with its own key, as the engine gives them) on both dialects. It
// reports the writer's wall time per row and, on PostgreSQL, the server
// backend's CPU per row, read from /proc (one pooled connection, so one
// backend does all the work).
func BenchmarkWriteDecisionsByDialect(b *testing.B) {
	for _, dialect := range storetest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			s, pid := openOneConn(b, dialect)
			recs := make([]tfps.DecisionRecord, 500)
			for i := range recs {
				recs[i] = tfps.DecisionRecord{At: time.Now(), CallID: "c" + strconv.Itoa(i), Result: "approve", Code: "A00", User: "1001", Domain: "pbx.example"}
			}
			n := 0
			cpu0 := procCPU(b, pid)
			b.ReportAllocs()
			for b.Loop() {
				for i := range recs {
					n++
					setKey(&recs[i], n)
				}
				if err := s.WriteDecisions(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
			rows := float64(b.N * len(recs))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
			if pid != 0 {
				b.ReportMetric(float64((procCPU(b, pid)-cpu0).Nanoseconds())/rows, "server-cpu-ns/row")
			}
		})
	}
}

// openOneConn opens a fresh store whose pool keeps one connection, and
// returns the PostgreSQL backend serving it (0 on SQLite), so that one
// backend does all the work and its CPU can be read.
func openOneConn(b *testing.B, dialect string) (*store.Store, int) {
	s := storetest.MustOpen(b, dialect)
	s.DB().SetMaxOpenConns(1)
	var pid int
	if dialect == store.Postgres {
		if err := s.DB().QueryRowContext(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			b.Fatal(err)
		}
	}
	return s, pid
}

// procCPU is the user+system CPU time of process pid (0: none).
func procCPU(b *testing.B, pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	return statCPU(b, fmt.Sprintf("/proc/%d/stat", pid))
}

// selfCPU is this process's user+system CPU time.
func selfCPU(b *testing.B) time.Duration { return statCPU(b, "/proc/self/stat") }

// statCPU reads utime+stime from a /proc/.../stat file.
func statCPU(b *testing.B, path string) time.Duration {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatalf("read CPU time: %v", err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// setKey gives r the n-th key, as the engine gives each decision its own.
func setKey(r *tfps.DecisionRecord, n int) { r.Key = fmt.Sprintf("bench-%016x", n) }

// BenchmarkWriteDecisionsIntoALargeLog writes 500-row batches into a log
// that already holds TFPS_BENCH_LOG_ROWS rows (default 300,000), every row
// with its own random Call-ID as PBXs and phones make them, so each index on
// call_id is written at random places, as in production. It reports the
// writer's wall time and this process's CPU per row (SQLite runs in the
// process; PostgreSQL's backend CPU is reported apart).
func BenchmarkWriteDecisionsIntoALargeLog(b *testing.B) {
	prefill := 300_000
	if v := os.Getenv("TFPS_BENCH_LOG_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("TFPS_BENCH_LOG_ROWS=%q: %v", v, err)
		}
		prefill = n
	}
	batch := 500
	if v := os.Getenv("TFPS_BENCH_LOG_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("TFPS_BENCH_LOG_BATCH=%q: want a number of rows", v)
		}
		batch = n
	}
	for _, dialect := range storetest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			s, pid := openOneConn(b, dialect)
			recs := make([]tfps.DecisionRecord, batch)
			n := 0
			next := func() {
				for i := range recs {
					n++
					recs[i] = tfps.DecisionRecord{At: time.Now(), CallID: randomCallID(n), Result: "approve", Code: "A00",
						User: "10" + strconv.Itoa(n%50), Domain: "pbx.example", Caller: "+12125550100", Number: "+442071234567",
						SourceIP: "192.0.2.10", UserAgent: "Asterisk PBX 20.5.0", Transport: "UDP", Enforced: true}
					setKey(&recs[i], n)
				}
			}
			for n < prefill {
				next()
				if err := s.WriteDecisions(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
			cpu0, self0 := procCPU(b, pid), selfCPU(b)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				next()
				b.StartTimer()
				if err := s.WriteDecisions(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
			rows := float64(b.N * len(recs))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
			b.ReportMetric(float64((selfCPU(b)-self0).Nanoseconds())/rows, "cpu-ns/row")
			if pid != 0 {
				b.ReportMetric(float64((procCPU(b, pid)-cpu0).Nanoseconds())/rows, "server-cpu-ns/row")
			}
		})
	}
}

// randomCallID is a Call-ID shaped as Asterisk's (32 hex digits and a host),
// different for every n and spread over the whole key space.
func randomCallID(n int) string {
	h := uint64(n) * 0x9E3779B97F4A7C15
	h ^= h >> 29
	return fmt.Sprintf("%016x%016x@192.0.2.10:5060", h, h*0xBF58476D1CE4E5B9)
}

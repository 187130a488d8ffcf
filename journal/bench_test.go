package journal_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/journal"
)

// BenchmarkWrite is the journal's cost per decision: one typical row
// encoded and written with write(2), an fsync every 1,000 rows (200 ms at
// 5,000 decisions/s), the writer's commit every 1,000 rows.
//
//	go test ./journal -run '^$' -bench Write -benchtime 200000x
func BenchmarkWrite(b *testing.B) {
	j, err := journal.Open(b.TempDir(), 1<<30)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	r := tfps.DecisionRecord{Key: "6b1c0e5f2d8a4c3b9e7f1a2b3c4d5e6f", At: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC),
		CallID: "a84b4c76e66710@pc33.atlanta.example.com", SourceIP: "192.0.2.10", Caller: "+12025550100", Number: "+442079460000",
		UserAgent: "Yealink SIP-T46S 66.86.0.15", User: "1001", Domain: "pbx.example", Result: "approve", Code: "A00",
		Reason: "approved", SourceCountry: "US", DestinationCountry: "GB", Transport: "sip", LatencyMicros: 412, Enforced: true, LocalDate: "2026-12-04"}
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ReportAllocs()
	b.ResetTimer()
	var end int64
	for i := range b.N {
		if _, end, err = j.Write(&r); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			if err := j.Sync(); err != nil {
				b.Fatal(err)
			}
			if err := j.Commit(end); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(end)/float64(b.N), "bytes/row")
}

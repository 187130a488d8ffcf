package engine

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/journal"
)

// Writing a decision's row to the journal reuses the line, encoder and
// group buffers of earlier rows: the bytes allocated per row stay under the
// row's own length (what is left is the group of one that each row opens
// when it writes alone), where fresh ones cost 3.6 times it.
func TestJournalWritesReuseTheirBuffers(t *testing.T) {
	if raceDetector {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	jnl, err := journal.Open(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jnl.Close() })
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	const rows = 2000
	w := newLogWriter(nil, 100, time.Second, rows, slog.New(slog.DiscardHandler), m)
	w.journal = jnl
	recs := make([]*logRow, rows)
	for i := range recs {
		recs[i] = &logRow{DecisionRecord: tfps.DecisionRecord{Key: "k" + strconv.Itoa(i), At: time.Now(), CallID: "3c26700d5b1d4c6e8a9f0b7e2d1c4a55@192.0.2.10:5060",
			Result: "approve", Code: "A00", User: "1001", Domain: "pbx.example", Caller: "+12125550100", Number: "+442071234567",
			SourceIP: "192.0.2.10", UserAgent: "Asterisk PBX 20.5.0", Transport: "UDP", Reason: "every check passed", Enforced: true}}
	}
	ctx := context.Background()
	if err := w.journalRecord(ctx, recs[0]); err != nil { // warms the buffers
		t.Fatal(err)
	}
	line, err := jnl.Encode(nil, &recs[0].DecisionRecord)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, r := range recs[1:] {
		if err := w.journalRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perRow := float64(after.TotalAlloc-before.TotalAlloc) / float64(rows-1)
	t.Logf("%.0f bytes allocated per row of %d bytes", perRow, len(line))
	if perRow > float64(len(line)) {
		t.Errorf("%.0f bytes allocated per journal row of %d bytes, want under the row's length", perRow, len(line))
	}
}

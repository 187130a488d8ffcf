package replay

import (
	"bytes"
	"testing"

	"github.com/voipshield/tfps/command/commandtest"
)

// BenchmarkReplay replays a generated sample (1000 accounts over 30 days)
// against real Redis and reports lines/s.
func BenchmarkReplay(b *testing.B) {
	cfg := commandtest.Config(b, testVars(b, nil))
	var in bytes.Buffer
	if err := WriteSample(&in, SampleOptions{Lines: b.N, Accounts: 1000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	_, sum, err := replayBytes(b, cfg, Options{}, in.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(sum.Lines)/b.Elapsed().Seconds(), "lines/s")
}

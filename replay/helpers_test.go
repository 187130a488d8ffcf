package replay

import (
	"bytes"
	"context"
	"maps"
	"testing"
	"time"

	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/state/statetest"
)

// madridHours are business hours in a zone with DST: weekdays 09:00-18:00
// Europe/Madrid.
const madridHours = "Europe/Madrid|20210104T090000|21000104T180000||WEEKLY|||MO,TU,WE,TH,FR"

// testVars are the settings of a replay test: real Redis under a private
// prefix (its keys deleted at cleanup), a private data directory, Madrid
// business hours and defaults that let an onboarded account call Spain, the
// UK, France, Germany and the US.
func testVars(tb testing.TB, extra map[string]string) map[string]string {
	v := map[string]string{
		"TFPS_REDIS_URL":                     statetest.RedisURL(),
		"TFPS_REDIS_PREFIX":                  statetest.MustOpen(tb).Keys().Prefix(),
		"TFPS_DATA_DIR":                      tb.TempDir(),
		"TFPS_LOG_LEVEL":                     "warn",
		"TFPS_BUSINESS_HOURS":                madridHours,
		"TFPS_DEFAULT_CONCURRENT_CALLS":      "5",
		"TFPS_DEFAULT_CONCURRENT_CALLS_OFF":  "5",
		"TFPS_DEFAULT_QUOTA":                 "1000",
		"TFPS_DEFAULT_QUOTA_OFF":             "1000",
		"TFPS_DEFAULT_SOURCE_COUNTRIES":      "ES,US",
		"TFPS_DEFAULT_DESTINATION_COUNTRIES": "ES,GB,FR,DE,US",
		// The bursts of the generated month trip the pair on the 6th attempt.
		"TFPS_AB_REPEAT_LIMIT": "5",
	}
	maps.Copy(v, extra)
	return v
}

// replayBytes replays input with cfg and returns the output lines and the
// summary.
func replayBytes(tb testing.TB, cfg *config.Config, o Options, input []byte) ([]byte, *Summary, error) {
	tb.Helper()
	o.Config = cfg
	ctx := context.Background()
	r, err := New(ctx, o)
	if err != nil {
		tb.Fatalf("new replay: %v", err)
	}
	var out bytes.Buffer
	sum, runErr := r.Run(ctx, NewJSONReader("in.jsonl", bytes.NewReader(input)), &out)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.Close(cctx); err != nil {
		tb.Fatalf("close replay: %v", err)
	}
	return out.Bytes(), sum, runErr
}

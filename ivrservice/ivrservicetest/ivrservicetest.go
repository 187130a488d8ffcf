// Package ivrservicetest runs the IVR in-process for end-to-end tests
// against a private Asterisk (asterisktest), the test Redis and a private
// PostgreSQL schema.
package ivrservicetest

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/voipshield/tfps/asterisktest"
	"github.com/voipshield/tfps/command/commandtest"
	"github.com/voipshield/tfps/ivrservice"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store/storetest"
)

// SoundsDir is the repository's pre-rendered prompts.
func SoundsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "sounds")
}

// Vars returns the settings of an IVR for a test against ast: HTTP on a
// free loopback port, a private PostgreSQL schema, a private Redis key
// prefix whose keys are deleted at cleanup, the repository's prompts and
// short answer timeouts. extra overrides or adds settings. Starting
// several IVRs on the same vars shares the data, as a restart does.
func Vars(tb testing.TB, ast *asterisktest.Asterisk, extra map[string]string) map[string]string {
	tb.Helper()
	st := statetest.MustOpen(tb) // its cleanup deletes the prefix's keys
	vars := map[string]string{
		"TFPS_ARI_URL":                       ast.URL,
		"TFPS_ARI_USER":                      asterisktest.User,
		"TFPS_ARI_PASSWORD":                  asterisktest.Password,
		"TFPS_ARI_APP":                       "tfps",
		"TFPS_DATABASE_URL":                  storetest.SchemaURL(tb),
		"TFPS_REDIS_URL":                     statetest.RedisURL(),
		"TFPS_REDIS_CLUSTER":                 map[bool]string{true: "on", false: "off"}[statetest.RedisCluster()],
		"TFPS_REDIS_PREFIX":                  st.Keys().Prefix(),
		"TFPS_IVR_LISTEN":                    "127.0.0.1:0",
		"TFPS_IVR_SOUNDS_DIR":                SoundsDir(),
		"TFPS_DATA_DIR":                      tb.TempDir(),
		"TFPS_IVR_FIRST_DIGIT_TIMEOUT":       "3s",
		"TFPS_IVR_INTER_DIGIT_TIMEOUT":       "2s",
		"TFPS_IVR_DRAIN_TIMEOUT":             "30s",
		"TFPS_DEFAULT_DESTINATION_COUNTRIES": "US",
		"TFPS_LOG_LEVEL":                     "info",
	}
	maps.Copy(vars, extra)
	return vars
}

// MustStart loads vars as the configuration, lets edit adjust the Main
// (clock, logger) and starts it; it returns once /healthz says ok. The IVR
// is closed at cleanup (Close may be called earlier). Logs go to the test
// log with -v, else nowhere (LogTo keeps them for assertions).
func MustStart(tb testing.TB, vars map[string]string, edit ...func(m *ivrservice.Main)) *ivrservice.Main {
	tb.Helper()
	cfg := commandtest.Config(tb, vars)
	m := ivrservice.New(cfg, commandtest.Logger(tb, cfg))
	for _, fn := range edit {
		fn(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.Start(ctx); err != nil {
		tb.Fatalf("start ivr: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			tb.Errorf("close ivr: %v", err)
		}
	})
	WaitHealthy(tb, m, 30*time.Second)
	return m
}

// LogTo sends the IVR's log (at the configured level) to w as well.
func LogTo(w io.Writer) func(m *ivrservice.Main) {
	return func(m *ivrservice.Main) {
		m.Logger = slog.New(slog.NewMultiHandler(m.Logger.Handler(), m.Config.Logger(w).Handler()))
	}
}

// WaitHealthy polls /healthz until Redis, SQL and ARI are ok.
func WaitHealthy(tb testing.TB, m *ivrservice.Main, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + m.HTTPAddr() + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = string(b)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("ivr not healthy within %s: %s", within, last)
}

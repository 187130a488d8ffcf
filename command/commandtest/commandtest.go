// Package commandtest holds what the tests of the services' Mains share:
// a configuration from a map of settings, a logger on the test log and a
// log buffer safe for concurrent writers.
package commandtest

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/voipshield/tfps/config"
)

// Config loads vars (TFPS_* settings) as the configuration, as a service
// would from its environment; the test fails when they are invalid.
func Config(tb testing.TB, vars map[string]string) *config.Config {
	tb.Helper()
	cfg, _, err := config.Load(config.Options{Lookup: func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}})
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	return cfg
}

// Logger is a service's logger for a test: at cfg's level and format to the
// test log with -v, else nowhere.
func Logger(tb testing.TB, cfg *config.Config) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return cfg.Logger(testLog{tb})
}

type testLog struct{ tb testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Buffer collects a service's log lines; it is safe for concurrent writers.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

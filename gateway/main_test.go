package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

// testEnv is one gateway's configuration in a test: a private SQL database
// (SQLite file or PostgreSQL schema) and a private Redis prefix, HTTP on a
// free loopback port. Restarting on the same env keeps the data.
type testEnv struct {
	vars map[string]string
}

func newTestEnv(tb testing.TB, dialect string, extra map[string]string) *testEnv {
	tb.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "tfpstest:gw" + hex.EncodeToString(b) + ":"
	vars := map[string]string{
		"TFPS_HTTP_LISTEN":  "127.0.0.1:0",
		"TFPS_SIP_LISTEN":   "127.0.0.1:0",
		"TFPS_REDIS_URL":    state.TestRedisURL(),
		"TFPS_REDIS_PREFIX": prefix,
		"TFPS_DATA_DIR":     tb.TempDir(),
		"TFPS_LOG_LEVEL":    "warn",
	}
	switch dialect {
	case store.SQLite:
		vars["TFPS_DATABASE_URL"] = "sqlite://" + filepath.Join(tb.TempDir(), "tfps.db")
	case store.Postgres:
		vars["TFPS_DATABASE_URL"] = store.TestSchemaURL(tb)
	default:
		tb.Fatalf("unknown dialect %q", dialect)
	}
	for k, v := range extra {
		vars[k] = v
	}
	tb.Cleanup(func() { cleanRedis(tb, prefix) })
	return &testEnv{vars: vars}
}

func cleanRedis(tb testing.TB, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := state.Open(ctx, state.TestRedisURL(), state.Options{Prefix: prefix})
	if err != nil {
		tb.Errorf("clean redis: %v", err)
		return
	}
	defer s.Close()
	iter := s.Client().Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		s.Client().Del(ctx, keys...)
	}
}

// start runs a gateway on env and closes it at cleanup (Close is idempotent,
// so tests may close it earlier).
func (e *testEnv) start(tb testing.TB, edit ...func(m *gateway.Main)) *gateway.Main {
	tb.Helper()
	cfg, _, err := config.Load(config.Options{Lookup: func(k string) (string, bool) {
		v, ok := e.vars[k]
		return v, ok
	}})
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	logger := discardLogger()
	if testing.Verbose() {
		logger = cfg.Logger(testWriter{tb})
	}
	m := gateway.New(cfg, logger)
	for _, fn := range edit {
		fn(m)
	}
	if err := m.Start(context.Background()); err != nil {
		tb.Fatalf("start gateway: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			tb.Errorf("close gateway: %v", err)
		}
	})
	return m
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}

// client returns an API client of m with the env's token.
func (e *testEnv) client(tb testing.TB, m *gateway.Main) *api.Client {
	tb.Helper()
	c, err := api.NewClient("http://"+m.HTTPAddr(), e.vars["TFPS_API_TOKEN"], nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

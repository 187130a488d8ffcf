// Package gatewaytest runs whole gateways in-process for tests, on free
// loopback ports with a private database and Redis key prefix.
package gatewaytest

import (
	"context"
	"errors"
	"maps"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/voipshield/tfps/command/commandtest"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// Vars returns the settings of a gateway for a test: HTTP on a free
// loopback port, a private SQL database (a SQLite file in a temporary
// directory, or a PostgreSQL schema dropped at cleanup) and a private Redis
// key prefix whose keys are deleted at cleanup. extra overrides or adds
// settings. Starting several gateways on the same vars shares the data, as a
// restart does.
func Vars(tb testing.TB, dialect string, extra map[string]string) map[string]string {
	tb.Helper()
	prefix := statetest.MustOpen(tb).Keys().Prefix() // its cleanup deletes the prefix's keys
	vars := map[string]string{
		"TFPS_HTTP_LISTEN":   "127.0.0.1:0",
		"TFPS_SIP_LISTEN":    "127.0.0.1:0",
		"TFPS_REDIS_URL":     statetest.RedisURL(),
		"TFPS_REDIS_PREFIX":  prefix,
		"TFPS_REDIS_CLUSTER": map[bool]string{true: "on", false: "off"}[statetest.RedisCluster()],
		"TFPS_DATA_DIR":      tb.TempDir(),
		"TFPS_LOG_LEVEL":     "warn",
	}
	switch dialect {
	case store.SQLite:
		vars["TFPS_DATABASE_URL"] = "sqlite://" + filepath.Join(tb.TempDir(), "tfps.db")
	case store.Postgres:
		vars["TFPS_DATABASE_URL"] = storetest.SchemaURL(tb)
	default:
		tb.Fatalf("unknown dialect %q", dialect)
	}
	maps.Copy(vars, extra)
	return vars
}

// MustStart loads vars as the configuration, lets edit adjust the Main
// (clock, reputation) and starts it; the gateway is closed at cleanup (Close
// may be called earlier). Logs go to the test log with -v, else nowhere.
func MustStart(tb testing.TB, vars map[string]string, edit ...func(m *gateway.Main)) *gateway.Main {
	tb.Helper()
	cfg := commandtest.Config(tb, vars)
	logger := commandtest.Logger(tb, cfg)
	var m *gateway.Main
	for try := 1; ; try++ {
		m = gateway.New(cfg, logger)
		for _, fn := range edit {
			fn(m)
		}
		err := m.Start(context.Background())
		// Port 0 gives the SIP front a free UDP port, and TCP the same
		// number, which a client connection may hold: pick again.
		if err != nil && try < 5 && errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err != nil {
			tb.Fatalf("start gateway: %v", err)
		}
		break
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

// Binary builds the gateway command into the test's temporary directory
// (removed with it; the build cache makes later builds quick) and returns
// its path.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "gateway")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/voipshield/tfps/cmd/gateway").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

package gateway_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/gateway/gatewaytest"
)

// testEnv is one gateway's configuration in a test (see gatewaytest.Vars);
// restarting on the same env keeps the data.
type testEnv struct {
	vars map[string]string
}

func newTestEnv(tb testing.TB, dialect string, extra map[string]string) *testEnv {
	tb.Helper()
	return &testEnv{vars: gatewaytest.Vars(tb, dialect, extra)}
}

// start runs a gateway on env, closed at cleanup.
func (e *testEnv) start(tb testing.TB, edit ...func(m *gateway.Main)) *gateway.Main {
	tb.Helper()
	return gatewaytest.MustStart(tb, e.vars, edit...)
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

package gateway_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/store/storetest"
)

// The engine Main creates decides calls and its decision log survives Close.
func TestMainEngineFlushesOnClose(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newTestEnv(t, dialect, map[string]string{"TFPS_MAX_OPEN_TICKETS": "0"}) // 50 verifications nobody answers
			m := env.start(t)
			ctx := context.Background()
			const n = 50
			for i := range n {
				d, err := m.Engine.Decide(ctx, engine.Call{
					User: "nobody", Domain: "pbx.example.com", SourceIP: netip.MustParseAddr("10.0.0.1"),
					Number: fmt.Sprintf("+1212555%04d", i), Caller: "+12125550199", CallID: fmt.Sprintf("close-%d", i),
					Time: time.Now(), Transport: "http",
				})
				if err != nil {
					t.Fatalf("decide: %v", err)
				}
				if d.Code != engine.V01 {
					t.Fatalf("unknown account decided %s (%s), want V01", d.Code, d.Reason)
				}
			}
			if err := m.Close(ctx); err != nil {
				t.Fatalf("close: %v", err)
			}
			m2 := env.start(t)
			got, err := m2.Store.CountDecisions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != n {
				t.Fatalf("decision log has %d rows after restart, want %d", got, n)
			}
		})
	}
}

package engine_test

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// pacedProbe writes to the real store and watches the writer's pauses
// between statements: at the first it sends a datagram to a socket read by
// another goroutine, and it notes at which pause that goroutine had read
// it (0: never during the batch).
type pacedProbe struct {
	*store.Store
	send   func()
	read   *atomic.Bool
	pauses atomic.Int32
	seenAt atomic.Int32
}

func (p *pacedProbe) WriteDecisionsPaced(ctx context.Context, rows []tfps.DecisionRecord, pause func(context.Context)) error {
	return p.Store.WriteDecisionsPaced(ctx, rows, func(ctx context.Context) {
		n := p.pauses.Add(1)
		if n == 1 {
			p.send()
		}
		pause(ctx)
		if p.read.Load() && p.seenAt.Load() == 0 {
			p.seenAt.Store(n)
		}
	})
}

// On one P (a gateway limited to one CPU), the decision-log writer steps
// aside between the statements of a long batch, and what waits on the
// network (a Redis reply, the next INVITE) runs in the middle of the batch
// instead of after it. With more Ps it writes straight through.
func TestDecisionLogWriterLetsTheNetworkInDuringABatch(t *testing.T) {
	for _, procs := range []int{1, 2} {
		t.Run(map[int]string{1: "one P", 2: "two Ps"}[procs], func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			ctx := context.Background()
			ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var read atomic.Bool
			go func() {
				buf := make([]byte, 64)
				if _, _, err := ln.ReadFrom(buf); err == nil {
					read.Store(true)
				}
			}()
			out, err := net.DialUDP("udp", nil, ln.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()

			db := storetest.MustOpen(t, store.SQLite)
			probe := &pacedProbe{Store: db, read: &read, send: func() { out.Write([]byte("INVITE")) }}
			opts := baseOptions(t)
			opts.ABRepeatLimit = 1000
			opts.LogBatch = 300 // six 50-row statements in one transaction
			opts.LogFlush = 2 * time.Second
			eng, err := engine.New(ctx, engine.Deps{Accounts: db, Lists: db, Changes: db, Log: probe,
				Counters: state.NewDecideCounters(statetest.MustOpen(t)), Reputation: &testReputation{}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			busyAccount(t, db, 1000, 10000)
			if err := eng.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for range 300 {
				if _, err := eng.Decide(ctx, call()); err != nil {
					t.Fatal(err)
				}
			}
			closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := eng.Close(closeCtx); err != nil {
				t.Fatal(err)
			}
			if n, err := db.CountDecisions(ctx); err != nil || n != 300 {
				t.Fatalf("%d decisions logged (%v), want 300", n, err)
			}
			pauses, seen := probe.pauses.Load(), probe.seenAt.Load()
			switch {
			case procs > 1 && pauses != 0:
				t.Errorf("the writer paused %d times with %d Ps, want none", pauses, procs)
			case procs == 1 && pauses != 5:
				t.Errorf("the writer paused %d times in a 300-row batch, want 5 (between its six statements)", pauses)
			case procs == 1 && (seen == 0 || seen > 2):
				t.Errorf("a datagram sent at the first pause was read at pause %d of %d (0: not during the batch), want at the first or second", seen, pauses)
			}
		})
	}
}

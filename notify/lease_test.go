package notify

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
)

// Two workers share the outbox behind a slow relay (each message takes
// longer than a third of the lease): a row is leased when its turn comes and
// the lease is renewed while it is sent, so no row's lease runs out in one
// worker's hands and every mail goes out exactly once.
func TestSlowRelayTwoWorkersEveryMailOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		r := newRig(t, dialect, time.Now)
		r.srv.Stop()
		r.srv.DataDelay = 250 * time.Millisecond
		r.srv.Start()
		const n = 10
		for i := range n {
			r.enqueue(t, quotaAlert(fmt.Sprintf("slow-%02d", i), fmt.Sprint(2000+i), time.Now(), 11))
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		for i := range 2 {
			w := r.worker(t, WorkerConfig{Owner: fmt.Sprintf("slow%d", i), PollInterval: 20 * time.Millisecond,
				Lease: 600 * time.Millisecond, Batch: 20, AlertInterval: -1, Registerer: prometheus.NewRegistry()})
			wg.Add(1)
			go func() { defer wg.Done(); w.Run(ctx) }()
		}
		r.srv.WaitFor(n, 20*time.Second)
		deadline := time.Now().Add(20 * time.Second)
		for len(r.rows(t, tfps.OutboxPending)) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(700 * time.Millisecond) // a lease's length: room for a duplicate to show up
		cancel()
		wg.Wait()
		msgs := r.srv.Messages()
		ids := messageIDs(t, msgs)
		for id, c := range ids {
			if c != 1 {
				t.Errorf("%s sent %d times", id, c)
			}
		}
		if len(msgs) != n || len(ids) != n {
			t.Errorf("%d messages with %d distinct ids, want %d each", len(msgs), len(ids), n)
		}
	})
}

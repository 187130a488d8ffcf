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

// The SMTP relay is down for a simulated hour while two workers share the
// outbox (the outbox and the workers read the same injected clock, moved
// 10 s every 5 ms), then comes back: every mail is delivered exactly once,
// after retries that back off as configured.
func TestRelayDownAnHourTwoWorkersEveryMailOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		clk := &clock{t: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
		r := newRig(t, dialect, clk.Now)
		r.srv.Stop()
		const n = 20
		for i := range n {
			r.enqueue(t, quotaAlert(fmt.Sprintf("down-%02d", i), fmt.Sprint(3000+i), clk.Now(), 11))
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		for i := range 2 {
			w := r.worker(t, WorkerConfig{Owner: fmt.Sprintf("down%d", i), PollInterval: 5 * time.Millisecond, Now: clk.Now,
				AlertInterval: -1, Registerer: prometheus.NewRegistry()})
			wg.Add(1)
			go func() { defer wg.Done(); w.Run(ctx) }()
		}
		start := clk.Now()
		for clk.Now().Sub(start) < time.Hour {
			clk.Add(10 * time.Second)
			time.Sleep(5 * time.Millisecond)
		}
		if got := len(r.srv.Messages()); got != 0 {
			t.Fatalf("%d mails through a relay that is down", got)
		}
		attempts := 0
		for _, row := range r.rows(t, tfps.OutboxPending) {
			attempts += row.Attempts
		}
		r.srv.Start()
		back := clk.Now()
		for len(r.rows(t, tfps.OutboxPending)) > 0 && clk.Now().Sub(back) < 2*time.Hour {
			clk.Add(10 * time.Second)
			time.Sleep(5 * time.Millisecond)
		}
		delivered := clk.Now().Sub(back)
		// Room for a duplicate to show up: past every lease.
		for range 20 {
			clk.Add(10 * time.Second)
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		msgs := r.srv.Messages()
		ids := messageIDs(t, msgs)
		twice := 0
		for id, c := range ids {
			if c != 1 {
				twice++
				t.Errorf("%s sent %d times", id, c)
			}
		}
		t.Logf("FIGURES smtp relay down (%s): 1h simulated, %d mails, %d failed tries in all while down (%.1f a mail), all delivered %v (simulated) after the relay returned, %d messages received, %d sent more than once",
			dialect, n, attempts, float64(attempts)/n, delivered, len(msgs), twice)
		if len(msgs) != n || len(ids) != n {
			t.Errorf("%d messages with %d distinct ids, want %d each", len(msgs), len(ids), n)
		}
	})
}

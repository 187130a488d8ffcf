package gateway

import (
	"context"
	"time"
)

// every runs round in the background, first after first and then every
// every after the end of the previous round, until the gateway closes; Close
// waits for a round in progress. The gateway's periodic jobs (decision-log
// retention, learning) share it.
func (m *Main) every(first, every time.Duration, round func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			round(ctx)
			t.Reset(every)
		}
	}()
	m.closers.Push(func(context.Context) error {
		cancel()
		<-done
		return nil
	})
}

package gateway

import (
	"fmt"
	"time"

	"github.com/voipshield/tfps/notify"
)

// startNotify runs the outbox delivery worker: mails (and the webhook) for
// rows the engine, the IVR or an admin change wrote to the outbox. Delivery
// is leased per row, so gateways and IVRs sharing one database can all run
// it without sending a mail twice. It stops before the store closes, handing
// back rows it claimed but did not try.
func (m *Main) startNotify() error {
	w, err := notify.FromConfig(m.Config, m.Store, m.Registry, m.Logger, m.clock)
	if err != nil {
		return fmt.Errorf("start notifications: %w", err)
	}
	m.Notifier = w
	m.closers.Push(w.Start())
	return nil
}

// clock is the gateway's time source: Main.Now when set, else time.Now.
func (m *Main) clock() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

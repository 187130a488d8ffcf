package gateway

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/reputation/abuseipdb"
	"github.com/voipshield/tfps/reputation/apiban"
	"github.com/voipshield/tfps/state"
)

// startReputation builds the source reputation the configuration asks for:
// APIBAN's list (TFPS_APIBAN_KEY) and AbuseIPDB (TFPS_ABUSE_DB_KEY) in front
// of the offline country table. A service that cannot be reached at start
// is a warning: calls go on with what is known (the kept APIBAN list, the
// offline table) and the service is used once it answers.
func (m *Main) startReputation() (engine.Reputation, error) {
	c := m.Config
	src := &reputation.Sources{}
	if c.APIBanKey != "" {
		l, err := apiban.New(apiban.Options{
			URL: c.Reputation.APIBanURL, Key: c.APIBanKey, Interval: c.Reputation.APIBanInterval,
			File: c.APIBanFile(), Logger: m.Logger, Registerer: m.Registry, Now: m.clock,
		})
		if err != nil {
			return nil, fmt.Errorf("start apiban: %w", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); l.Run(ctx) }()
		m.closers.Push(func(context.Context) error { cancel(); <-done; return nil })
		src.Lists = append(src.Lists, l)
		m.apiban = l
	}
	if c.AbuseDBKey != "" {
		cl, err := abuseipdb.New(abuseipdb.Options{
			URL: c.Reputation.AbuseIPDBURL, Key: c.AbuseDBKey, TTL: c.Reputation.TTL, Budget: c.Reputation.Timeout,
			Cache: state.NewReputationCache(m.State), Logger: m.Logger, Registerer: m.Registry, Now: m.clock,
		})
		if err != nil {
			return nil, fmt.Errorf("start abuseipdb: %w", err)
		}
		m.closers.Push(cl.Close)
		src.Score = cl
		// One lookup says whether the service and the key work, without
		// delaying the start.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := cl.Check(ctx, netip.MustParseAddr("127.0.0.1")); err != nil {
				m.Logger.Warn("abuseipdb not usable at start; calls are decided with the offline country table until it answers", "err", err)
			}
		}()
	}
	for _, line := range c.ReputationServices() {
		m.Logger.Info("reputation", "service", line)
	}
	return src, nil
}

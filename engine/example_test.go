package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/engine/engineconfig"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

// The wiring of cmd/gateway: the store serves accounts, lists, the change
// version and the decision log; state runs the Redis round trip.
func Example() {
	ctx := context.Background()
	cfg, _, err := config.Load(config.Options{})
	if err != nil {
		panic(err)
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		panic(err)
	}
	rdb, err := state.Open(ctx, cfg.RedisURL, state.Options{Prefix: cfg.RedisPrefix, Timeout: cfg.RedisTimeout})
	if err != nil {
		panic(err)
	}
	opts := engineconfig.Options(cfg)
	opts.Registerer, opts.Logger = prometheus.NewRegistry(), slog.Default()
	eng, err := engine.New(ctx, engine.Deps{
		Accounts: db, Lists: db, Changes: db, Log: db, Alerts: db,
		Counters:   state.NewDecideCounters(rdb),
		Reputation: reputation.Local{},
	}, opts)
	if err != nil {
		panic(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Close(sctx) // writes every queued decision-log row
	}()

	d, err := eng.Decide(ctx, engine.Call{
		User: "1001", Domain: "pbx.example.com", SourceIP: netip.MustParseAddr("8.8.8.8"),
		UserAgent: "Yealink SIP-T46U", ConcurrentCalls: 1, Number: "+442079460000", Caller: "+12125550100",
		CallID: "a84b4c76e66710", FromTag: "1928301774", Time: time.Now(), Transport: "sip",
	})
	switch {
	case err != nil:
		// tfps.ErrorCode(err) == tfps.EINVALID: a bad call; errors.Is(err,
		// engine.ErrDependency): Redis/SQL down under the "error" policy.
	case d.Result == engine.Approve:
		fmt.Println("302 A00 or 503")
	case d.Result == engine.Reject:
		fmt.Println("302 " + d.Code.String() + " or 603")
	case d.Result == engine.Verify:
		fmt.Println("to the IVR with ticket", d.Ticket, d.Flow.TFPSPrefix(d.Country))
	}
}

// Package engine decides call attempts: a Call in, a Decision out (approve,
// reject with a stable Code, or verify with a voice flow and a single-use
// ticket for the IVR).
//
// The policy is one ordered list of small checks (see policy in checks.go):
// injection, user agent, operator IP blacklist, source reputation, number
// blacklist, A->B repeat, failed verifications (of the identity, known
// account or not), account, account blocked, source country, destination
// country, business hours, concurrent calls, daily quota. The first check
// that does not pass decides; a verify decision still gets no ticket (R22)
// while the account or the source address has Options.MaxOpenTickets
// unclaimed ones. The reason codes
// are published in code.go (Codes) and docs/engine.md and never change
// meaning.
//
// The engine imports no transport and no driver. It reads accounts and
// blacklists through small interfaces (Accounts, Lists, Changes), caching
// them in memory until the change version moves; it does all Redis work of
// one decision in one round trip through Counters (the stateful steps in
// order, then the verify ticket); it asks Reputation about public sources;
// and it queues decision-log rows for a batch writer (DecisionLog) that
// Close flushes. A retried request (same Call-ID, From-tag and number within
// Options.RetryCacheTime) gets the earlier decision and is not counted again.
//
// Monitor (detection-only) mode is decided per call: Call.Monitor, else the
// account's Mode, else Options.Mode. The checks run as usual, the Decision
// approves (A00, no ticket) with Enforced() false and WouldBe holding what
// enforcement would have answered; the log and metrics record the would-be
// code with enforced=false.
//
// Wiring, as cmd/gateway does it (Example in example_test.go compiles it):
//
//	db, _ := store.Open(ctx, cfg.DatabaseURL) // Accounts, Lists, Changes, DecisionLog
//	rdb, _ := state.Open(ctx, cfg.RedisURL, state.Options{Prefix: cfg.RedisPrefix, Timeout: cfg.RedisTimeout})
//	opts := engineconfig.Options(cfg)
//	opts.Registerer, opts.Logger = registry, logger
//	eng, err := engine.New(ctx, engine.Deps{
//		Accounts: db, Lists: db, Changes: db, Log: db, Alerts: db,
//		Counters:   state.NewDecideCounters(rdb), // one Lua round trip per decision
//		Reputation: reputation.Local{},
//	}, opts)
//	defer eng.Close(shutdownCtx) // writes every queued decision-log row
//
//	d, err := eng.Decide(ctx, engine.Call{
//		User: "1001", Domain: "pbx.example.com",
//		SourceIP: netip.MustParseAddr("8.8.8.8"), UserAgent: "Yealink SIP-T46U",
//		ConcurrentCalls: 1, Number: "+442079460000", Caller: "+12125550100",
//		CallID: callID, FromTag: fromTag, Time: now(), Transport: "sip",
//	})
//	switch {
//	case err != nil: // invalid call (tfps.EINVALID), ErrClosed, or ErrDependency under the "error" policy
//	case d.Result == engine.Approve: // 302 A00<number> or 503 (A01 too: unchecked, policy approve; monitor mode: X-Tfps-Code d.WouldBe.Code)
//	case d.Result == engine.Reject: // 302 <d.Code><number> or 603
//	case d.Result == engine.Verify: // to the IVR with d.Ticket; d.Flow, d.Country (d.Flow.TFPSPrefix)
//	}
//
// Metrics (registered on Options.Registerer): tfps_decisions_total{result,code,enforced},
// tfps_decide_seconds, tfps_dependency_errors_total{dependency},
// tfps_decisions_replayed_total, tfps_decision_log_rows_total{outcome},
// tfps_decision_log_queue_full_total, tfps_engine_cache_loads_total,
// tfps_engine_alerts_total{outcome}.
//
// After an admin change made in this process, call eng.Refresh(ctx) so it
// applies at once; other processes see it within Options.CacheRefresh.
package engine

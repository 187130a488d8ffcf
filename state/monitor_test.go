package state_test

import (
	"context"
	"testing"
	"time"

	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
)

// A pair tripped in monitor mode answers its would-be R16 to monitor-mode
// requests only: enforcement finds it unblocked.
func TestDecideMonitorPairBlockStaysInMonitorMode(t *testing.T) {
	s := statetest.MustOpen(t)
	c := state.NewDecideCounters(s)
	ctx := context.Background()
	monitor := func(now time.Time, member string) *engine.CountRequest {
		r := abReq(now, member)
		r.Monitor = true
		return r
	}
	for i := range 6 {
		res, err := c.Count(ctx, monitor(d0.Add(time.Duration(i)*time.Second), string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		if i == 5 && (res.Failed != 0 || res.Steps[0].Blocked) {
			t.Fatalf("6th monitored attempt: %+v, want tripped", res)
		}
	}
	res, _ := c.Count(ctx, monitor(d0.Add(10*time.Second), "m"))
	if res.Failed != 0 || !res.Steps[0].Blocked {
		t.Fatalf("monitored attempt within the block: %+v, want blocked (would-be R16)", res)
	}
	res, _ = c.Count(ctx, abReq(d0.Add(11*time.Second), "e1"))
	if res.Failed != -1 {
		t.Fatalf("enforced attempt after a monitor-mode trip: %+v, want pass", res)
	}
}

// A monitor-mode request writes no ticket, even when one is attached (a
// would-be verify must leave nothing for the IVR to claim).
func TestDecideMonitorWritesNoTicket(t *testing.T) {
	s := statetest.MustOpen(t)
	c := state.NewDecideCounters(s)
	ctx := context.Background()
	now := d0
	req := &engine.CountRequest{Now: now, User: "1001", Domain: "pbx.example", Member: "q1", Monitor: true,
		Steps: []engine.Step{{Kind: engine.StepQuota, Limit: 0, Day: "2026-11-23",
			Ticket: &engine.Ticket{Code: engine.V04, Flow: engine.FlowQuota, User: "1001", Domain: "pbx.example", Created: now, Expires: now.Add(time.Minute)}}}}
	res, err := c.Count(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 {
		t.Fatalf("quota 0: %+v, want the step to fail", res)
	}
	keys, err := s.Client().Keys(ctx, s.Keys().Prefix()+"ticket*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("monitor-mode request wrote tickets %v", keys)
	}
}

package state_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
)

// TestTicketIDSource: with state.Options.TicketIDs, tickets take their ids from
// it, so a replay repeats them.
func TestTicketIDSource(t *testing.T) {
	base := statetest.MustOpen(t)
	n := 0
	s := state.New(base.Client(), state.Options{Prefix: base.Keys().Prefix(), TicketIDs: func() (string, error) {
		n++
		return fmt.Sprintf("%016d", n), nil
	}})
	ctx := context.Background()
	req := &engine.CountRequest{Now: t0, User: "u", Domain: "d", Member: "m", Ticket: &engine.Ticket{
		Code: engine.V01, Flow: engine.FlowOnboarding, User: "u", Domain: "d", Created: t0, Expires: t0.Add(time.Minute),
	}}
	if _, err := state.NewDecideCounters(s).Count(ctx, req); err != nil {
		t.Fatal(err)
	}
	// The decision's id is the source's, moved into the account's slot.
	want := state.TicketIDInSlot("0000000000000001", s.Keys().AccountSlot("u", "d"))
	if req.Ticket.ID != want {
		t.Fatalf("decision ticket %q, want the source's first id in the account's slot (%s)", req.Ticket.ID, want)
	}
	if tk, err := s.ClaimTicket(ctx, want, t0.Add(time.Second)); err != nil || tk.User != "u" {
		t.Errorf("claim the decision's ticket: %+v, %v", tk, err)
	}
}

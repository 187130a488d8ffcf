package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state/statetest"
)

// A ticket given back after a call lost to an ARI outage can be claimed
// again, once, with the life it had left, and counts as open again; a second
// release, or one of a ticket nobody claimed, gives nothing back.
func TestReleasedTicketCanBeClaimedAgain(t *testing.T) {
	s := statetest.MustOpen(t)
	ctx := context.Background()
	id := issue(t, s, engine.Ticket{Flow: engine.FlowOnboarding, User: "u1", Domain: "pbx.example.com", SourceIP: "192.0.2.7", Created: t0}, 120*time.Second)
	if err := s.ReleaseTicket(ctx, id, t0.Add(time.Second)); !errors.Is(err, engine.ErrTicketUnknown) {
		t.Errorf("release of an unclaimed ticket: %v, want ErrTicketUnknown", err)
	}
	if _, err := s.ClaimTicket(ctx, id, t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseTicket(ctx, id, t0.Add(20*time.Second)); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := s.ReleaseTicket(ctx, id, t0.Add(21*time.Second)); !errors.Is(err, engine.ErrTicketUnknown) {
		t.Errorf("second release: %v, want ErrTicketUnknown", err)
	}
	rdb, keys := s.Client(), s.Keys()
	if n, err := rdb.ZCard(ctx, keys.OpenTickets("u1", "pbx.example.com")).Result(); err != nil || n != 1 {
		t.Errorf("open tickets of the account after the release: %d (%v), want 1", n, err)
	}
	if n, err := rdb.ZCard(ctx, keys.SourceOpenTickets("192.0.2.7")).Result(); err != nil || n != 1 {
		t.Errorf("open tickets of the source after the release: %d (%v), want 1", n, err)
	}
	// Given back with the life it had left on Redis's clock (its TTL and
	// the grace, less the moments this test took), not a fresh one.
	full := 120*time.Second + 10*time.Minute
	if left, err := rdb.PTTL(ctx, keys.Ticket(id)).Result(); err != nil || left > full || left < full-30*time.Second {
		t.Errorf("released ticket's key lives %s (%v), want a little under %s", left, err, full)
	}
	got, err := s.ClaimTicket(ctx, id, t0.Add(30*time.Second))
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	if got.User != "u1" || !got.Expires.Equal(t0.Add(120*time.Second)) {
		t.Errorf("claimed again %+v", got)
	}
	if _, err := s.ClaimTicket(ctx, id, t0.Add(31*time.Second)); !errors.Is(err, engine.ErrTicketUsed) {
		t.Errorf("third claim: %v, want ErrTicketUsed", err)
	}
}

// On the callers' clock (the replay), a ticket past its expiry and grace has
// nothing left to give back.
func TestReleaseAfterExpiryGivesNothingBack(t *testing.T) {
	s := onCallerTime(statetest.MustOpen(t))
	ctx := context.Background()
	id := issue(t, s, engine.Ticket{Flow: engine.FlowOnboarding, User: "u2", Domain: "pbx.example.com", Created: t0}, 120*time.Second)
	if _, err := s.ClaimTicket(ctx, id, t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseTicket(ctx, id, t0.Add(120*time.Second+10*time.Minute)); !errors.Is(err, engine.ErrTicketUnknown) {
		t.Errorf("release after expiry: %v, want ErrTicketUnknown", err)
	}
	if err := s.ReleaseTicket(ctx, id, t0.Add(60*time.Second)); err != nil {
		t.Errorf("release within its life: %v", err)
	}
}

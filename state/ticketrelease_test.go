package state

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A ticket given back after a call lost to an ARI outage can be claimed
// again, once, and counts as open again; a second release, or one of a
// ticket nobody claimed, gives nothing back.
func TestReleasedTicketCanBeClaimedAgain(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	id, err := s.CreateTicket(ctx, Ticket{Flow: "onboarding", User: "u1", Domain: "pbx.example.com", SourceIP: "192.0.2.7", CreatedAt: t0}, 120*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseTicket(ctx, id, t0.Add(time.Second)); !errors.Is(err, ErrTicketUnknown) {
		t.Errorf("release of an unclaimed ticket: %v, want ErrTicketUnknown", err)
	}
	if _, err := s.ClaimTicket(ctx, id, t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseTicket(ctx, id, t0.Add(20*time.Second)); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := s.ReleaseTicket(ctx, id, t0.Add(21*time.Second)); !errors.Is(err, ErrTicketUnknown) {
		t.Errorf("second release: %v, want ErrTicketUnknown", err)
	}
	if n, err := s.rdb.ZCard(ctx, s.keys.OpenTickets("u1", "pbx.example.com")).Result(); err != nil || n != 1 {
		t.Errorf("open tickets of the account after the release: %d (%v), want 1", n, err)
	}
	if n, err := s.rdb.ZCard(ctx, s.keys.SourceOpenTickets("192.0.2.7")).Result(); err != nil || n != 1 {
		t.Errorf("open tickets of the source after the release: %d (%v), want 1", n, err)
	}
	got, err := s.ClaimTicket(ctx, id, t0.Add(30*time.Second))
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	if got.User != "u1" || !got.ExpiresAt.Equal(t0.Add(120*time.Second)) {
		t.Errorf("claimed again %+v", got)
	}
	if _, err := s.ClaimTicket(ctx, id, t0.Add(31*time.Second)); !errors.Is(err, ErrTicketUsed) {
		t.Errorf("third claim: %v, want ErrTicketUsed", err)
	}
	// Past its expiry and grace there is nothing left to give back.
	if err := s.ReleaseTicket(ctx, id, t0.Add(120*time.Second+ticketGrace)); !errors.Is(err, ErrTicketUnknown) {
		t.Errorf("release after expiry: %v, want ErrTicketUnknown", err)
	}
}

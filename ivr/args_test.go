package ivr_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
)

// countingTickets counts how often the IVR asks Redis for a ticket.
type countingTickets struct {
	ivr.Tickets
	claims atomic.Int64
}

func (c *countingTickets) ClaimTicket(ctx context.Context, id string, now time.Time) (engine.Ticket, error) {
	c.claims.Add(1)
	return c.Tickets.ClaimTicket(ctx, id, now)
}

// Dialplan argument injection: Stasis() splits on commas, so a call to
// sip:Vchange,1001,pbx.example.com@box would start the change flow for any
// account, and its wrong PINs would get that account blocked (R18). The
// shipped dialplan lets only V and 16 digits through; the IVR refuses any
// other argument list before reading Redis, and the change flow from any
// context but tfps-change.
func TestDialplanArgumentInjection(t *testing.T) {
	t.Parallel()
	var tickets *countingTickets
	r := newRig(t, func(_ *ivr.Options, f *ivr.Flows) {
		tickets = &countingTickets{Tickets: f.Tickets}
		f.Tickets = tickets
	})
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 1, DailyQuota: 5})
	const injected = "Vchange," + testUser + "," + testDomain

	// The shipped tfps-verify context: the call never reaches the app.
	c := r.phone.Dial("tfps-verify", injected, nil, "")
	c.WaitEnd(30 * time.Second)
	if c.PlayedAny("pin-ask") || c.PlayedAny("ticket-invalid") {
		t.Errorf("tfps-verify handed %q to the IVR (played %q), want it refused by the dialplan", injected, c.Played)
	}

	// A box still on the loose _V. pattern: the IVR refuses the change
	// flow (not its context) and a ticket that is not 16 digits, without
	// asking Redis.
	for _, exten := range []string{injected, "V1234", "V1234567890123456,x", "V123456789012345a"} {
		c = r.phone.Dial("tfps-test-loose", exten, nil, "")
		c.WaitPlay("ticket-invalid", 20*time.Second)
		c.WaitEnd(20 * time.Second)
		if c.PlayedAny("pin-ask") {
			t.Errorf("%s: the PIN was asked", exten)
		}
	}
	if n := tickets.claims.Load(); n != 0 {
		t.Errorf("%d ticket claims in Redis for malformed tickets, want none", n)
	}
	if ev, n := r.events(testUser), r.failures(testUser); len(ev) != 0 || n != 0 {
		t.Errorf("account %s has %d verification events and %d failures, want none", testUser, len(ev), n)
	}

	// The change flow still starts from its own context.
	c = r.phone.Dial("tfps-change", "877", map[string]string{"TFPS_DOMAIN": testDomain}, testUser)
	c.WaitPlay("pin-ask", 20*time.Second)
	c.Hangup()
	c.WaitEnd(20 * time.Second)
}

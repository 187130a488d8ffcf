package state

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voipshield/tfps/engine"
)

// ticketGrace keeps an expired ticket readable for a while, so claiming it
// says "expired" rather than "unknown".
const ticketGrace = 10 * time.Minute

// usedMarkerTTL is how long a claimed ticket answers "already used".
const usedMarkerTTL = time.Hour

// claimScript takes the ticket and leaves a "used" marker in one step, so
// two IVR sessions racing for one ticket cannot both win. A taken ticket
// comes with its key's remaining life in ms: stored for its TTL plus
// ticketGrace, it has expired on Redis's clock once no more than the grace
// is left.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local left = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
  return {2, v, left}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {1, '', 0}
end
return {0, '', 0}
`)

// ClaimTicket consumes the ticket id. It returns errors wrapping
// engine.ErrTicketUnknown, ErrTicketUsed or ErrTicketExpired (the ticket is
// returned and consumed in that case too). A ticket lives its TTL on Redis's
// clock from the moment the decision stored it, whatever the clocks of the
// gateway and the IVR say; with Options.CallerTime it expires when now
// reaches its Expires. Ticket.Claimed is the claim's time on the clock of
// Created: its decision's time plus its age on Redis's clock (now with
// Options.CallerTime).
func (s *State) ClaimTicket(ctx context.Context, id string, now time.Time) (engine.Ticket, error) {
	if !engine.ValidTicketID(id) {
		return engine.Ticket{}, fmt.Errorf("claim ticket %q: not %d digits: %w", id, engine.TicketIDDigits, engine.ErrTicketUnknown)
	}
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	res, err := claimScript.Run(ctx, s.rdb, []string{s.keys.Ticket(id), s.keys.TicketUsed(id)}, usedMarkerTTL.Milliseconds()).Slice()
	if err != nil {
		return engine.Ticket{}, Wrap("claim ticket", err)
	}
	if len(res) != 3 {
		return engine.Ticket{}, fmt.Errorf("claim ticket %s: unexpected reply %v", id, res)
	}
	switch res[0].(int64) {
	case 0:
		return engine.Ticket{}, fmt.Errorf("claim ticket %s: %w", id, engine.ErrTicketUnknown)
	case 1:
		return engine.Ticket{}, fmt.Errorf("claim ticket %s: %w", id, engine.ErrTicketUsed)
	}
	t, err := decodeTicket([]byte(res[1].(string)))
	if err != nil {
		return engine.Ticket{}, fmt.Errorf("decode ticket %s: %w", id, err)
	}
	// A claimed ticket is answered: it leaves the open-ticket counts of its
	// account and source address. Should this fail, the entry still leaves
	// the count when its window ends, so the claim stands.
	p := s.rdb.Pipeline()
	p.ZRem(ctx, s.keys.OpenTickets(t.User, t.Domain), id)
	if t.SourceIP != "" {
		p.ZRem(ctx, s.keys.SourceOpenTickets(t.SourceIP), id)
	}
	_, _ = p.Exec(ctx)
	expired := !now.Before(t.Expires)
	t.Claimed = now
	if left, _ := res[2].(int64); !s.callerTime && left >= 0 {
		// The key was stored for the TTL plus the grace: what it lost
		// since is the ticket's age on Redis's clock.
		age := t.Expires.Sub(t.Created) + ticketGrace - time.Duration(left)*time.Millisecond
		expired = left <= ticketGrace.Milliseconds()
		t.Claimed = t.Created.Add(age)
	}
	if expired {
		return t, fmt.Errorf("claim ticket %s (expired %s): %w", id, t.Expires.Format(time.RFC3339), engine.ErrTicketExpired)
	}
	return t, nil
}

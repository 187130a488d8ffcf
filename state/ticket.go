package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
// is left. The marker keeps the ticket and the time (Redis's, in ms) its key
// would have ended, "deadline|ticket", so that ReleaseTicket can give it
// back with the life it had left.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local left = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  local t = redis.call('TIME')
  local deadline = 0
  if left > 0 then
    deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + left
  end
  redis.call('SET', KEYS[2], deadline .. '|' .. v, 'PX', ARGV[1])
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

// releaseScript puts a claimed ticket back under its key with the life it had
// left when claimed (on Redis's clock; ARGV[1] > 0 gives the life instead,
// on the callers' clock) and removes the "used" marker, unless the ticket was
// claimed again meanwhile or the marker is not the one read (ARGV[2], when
// given).
var releaseScript = redis.NewScript(`
local m = redis.call('GET', KEYS[2])
if not m or redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
if ARGV[2] ~= '' and m ~= ARGV[2] then
  return 0
end
local sep = string.find(m, '|', 1, true)
if not sep then
  return 0
end
local ttl = tonumber(ARGV[1])
if ttl <= 0 then
  local t = redis.call('TIME')
  ttl = tonumber(string.sub(m, 1, sep - 1)) - (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
if ttl <= 0 then
  return 0
end
redis.call('SET', KEYS[1], string.sub(m, sep + 1), 'PX', ttl)
redis.call('DEL', KEYS[2])
return 1
`)

// ReleaseTicket gives back a ticket claimed at a call that ended without an
// outcome because the IVR lost Asterisk (the call's events stopped): the
// caller may call again with the same ticket until it expires, as if it had
// never been claimed. It returns an error wrapping engine.ErrTicketUnknown
// when there is no claimed ticket id to give back (never claimed, already
// released, or gone with its expiry).
func (s *State) ReleaseTicket(ctx context.Context, id string, now time.Time) error {
	if !engine.ValidTicketID(id) {
		return fmt.Errorf("release ticket %q: not %d digits: %w", id, engine.TicketIDDigits, engine.ErrTicketUnknown)
	}
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	m, err := s.rdb.Get(ctx, s.keys.TicketUsed(id)).Result()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("release ticket %s: %w", id, engine.ErrTicketUnknown)
	}
	if err != nil {
		return Wrap("release ticket", err)
	}
	sep := strings.IndexByte(m, '|')
	if sep < 0 {
		// A marker written before markers kept the ticket.
		return fmt.Errorf("release ticket %s: %w", id, engine.ErrTicketUnknown)
	}
	t, err := decodeTicket([]byte(m[sep+1:]))
	if err != nil {
		return fmt.Errorf("release ticket %s: decode: %w", id, err)
	}
	var life time.Duration // 0: the script measures it on Redis's clock
	if s.callerTime {
		if life = t.Expires.Add(ticketGrace).Sub(now); life <= 0 {
			return fmt.Errorf("release ticket %s: %w", id, engine.ErrTicketUnknown)
		}
	}
	n, err := releaseScript.Run(ctx, s.rdb, []string{s.keys.Ticket(id), s.keys.TicketUsed(id)}, life.Milliseconds(), m).Int()
	if err != nil {
		return Wrap("release ticket", err)
	}
	if n == 0 {
		return fmt.Errorf("release ticket %s: %w", id, engine.ErrTicketUnknown)
	}
	// Open again: it counts in the open-ticket caps, as at its creation.
	p := s.rdb.Pipeline()
	z := redis.Z{Score: float64(t.Created.UnixMilli()), Member: id}
	p.ZAddNX(ctx, s.keys.OpenTickets(t.User, t.Domain), z)
	if t.SourceIP != "" {
		p.ZAddNX(ctx, s.keys.SourceOpenTickets(t.SourceIP), z)
	}
	_, _ = p.Exec(ctx)
	return nil
}

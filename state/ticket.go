package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Ticket hands a verify decision from the gateway to the IVR. It is single
// use and ends at ExpiresAt.
type Ticket struct {
	ID      string `json:"id"`
	Flow    string `json:"flow"` // onboarding, source_country, destination_country, quota, quota_off
	Code    string `json:"code,omitempty"`
	User    string `json:"user"`
	Domain  string `json:"domain"`
	Country string `json:"country,omitempty"`
	Range   string `json:"range,omitempty"` // risky_range, range_hopping: the number range
	// DefaultOf is the domain's default user whose account decided for a
	// user without one (engine.Ticket.DefaultOf).
	DefaultOf string `json:"default_of,omitempty"`
	Number    string `json:"number,omitempty"`
	Caller    string `json:"caller,omitempty"`
	SourceIP  string `json:"source_ip,omitempty"`
	// SourceCountry is the source address's country, "" when private.
	SourceCountry string `json:"source_country,omitempty"`
	UserAgent     string `json:"user_agent,omitempty"`
	CallID        string `json:"call_id,omitempty"`
	// Observed is what a limit flow must cover: concurrent calls, or the
	// day's calls with this one.
	Observed int `json:"observed,omitempty"`
	// Rule and RuleStat (rule_warning): the fraud rule whose warning asked
	// for the verification and the statistic that reached it (Observed is
	// its value).
	Rule      int64     `json:"rule,omitempty"`
	RuleStat  string    `json:"rule_stat,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// TicketIDDigits is the length of a ticket id. Ids are decimal so they pass
// through any PBX dial plan or SIP proxy that only routes digits.
const TicketIDDigits = 16

// ValidTicketID reports whether id has the form every ticket id is issued
// in (newTicketID, fastTicketID): exactly TicketIDDigits decimal digits.
// Anything else can not name a ticket and is refused without asking Redis;
// the dialplan and the IVR check it before a caller's text goes further.
func ValidTicketID(id string) bool {
	if len(id) != TicketIDDigits {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

// ticketGrace keeps an expired ticket readable for a while, so claiming it
// says "expired" rather than "unknown".
const ticketGrace = 10 * time.Minute

// usedMarkerTTL is how long a claimed ticket answers "already used".
const usedMarkerTTL = time.Hour

// CreateTicket stores t with a fresh id, valid for ttl from t.CreatedAt (set
// it to the decision time), and returns the id.
func (s *State) CreateTicket(ctx context.Context, t Ticket, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("create ticket: ttl must be positive, got %s", ttl)
	}
	id, err := s.ticketID()
	if err != nil {
		return "", err
	}
	t.ID = id
	if t.CreatedAt.IsZero() {
		return "", errors.New("create ticket: CreatedAt (the decision time) is required")
	}
	t.ExpiresAt = t.CreatedAt.Add(ttl)
	b, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("encode ticket: %w", err)
	}
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	if err := s.rdb.Set(ctx, s.keys.Ticket(id), b, ttl+ticketGrace).Err(); err != nil {
		return "", Wrap("create ticket", err)
	}
	return id, nil
}

// claimScript takes the ticket and leaves a "used" marker in one step, so
// two IVR sessions racing for one ticket cannot both win. The marker keeps
// the ticket, so that ReleaseTicket can give it back.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], v, 'PX', ARGV[1])
  return {2, v}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {1, ''}
end
return {0, ''}
`)

// ClaimTicket consumes the ticket id at time now. It returns ErrTicketUnknown,
// ErrTicketUsed or ErrTicketExpired (the ticket is consumed in that case too).
func (s *State) ClaimTicket(ctx context.Context, id string, now time.Time) (Ticket, error) {
	if !ValidTicketID(id) {
		return Ticket{}, fmt.Errorf("claim ticket %q: not %d digits: %w", id, TicketIDDigits, ErrTicketUnknown)
	}
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	res, err := claimScript.Run(ctx, s.rdb, []string{s.keys.Ticket(id), s.keys.TicketUsed(id)}, usedMarkerTTL.Milliseconds()).Slice()
	if err != nil {
		return Ticket{}, Wrap("claim ticket", err)
	}
	if len(res) != 2 {
		return Ticket{}, fmt.Errorf("claim ticket %s: unexpected reply %v", id, res)
	}
	switch res[0].(int64) {
	case 0:
		return Ticket{}, fmt.Errorf("claim ticket %s: %w", id, ErrTicketUnknown)
	case 1:
		return Ticket{}, fmt.Errorf("claim ticket %s: %w", id, ErrTicketUsed)
	}
	var t Ticket
	if err := json.Unmarshal([]byte(res[1].(string)), &t); err != nil {
		return Ticket{}, fmt.Errorf("decode ticket %s: %w", id, err)
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
	if !now.Before(t.ExpiresAt) {
		return t, fmt.Errorf("claim ticket %s (expired %s): %w", id, t.ExpiresAt.Format(time.RFC3339), ErrTicketExpired)
	}
	return t, nil
}

// releaseScript puts a claimed ticket back under its key and removes the
// "used" marker, unless the ticket was claimed again meanwhile (the marker
// no longer holds the value read).
var releaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[2])
if not v or v ~= ARGV[2] or redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], v, 'PX', ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`)

// ReleaseTicket gives back a ticket claimed at a call that ended without an
// outcome because the IVR lost Asterisk (the call's events stopped): the
// caller may call again with the same ticket until it expires. It returns
// ErrTicketUnknown when there is no claimed ticket id to give back (never
// claimed, already released, or gone with its expiry).
func (s *State) ReleaseTicket(ctx context.Context, id string, now time.Time) error {
	if !ValidTicketID(id) {
		return fmt.Errorf("release ticket %q: not %d digits: %w", id, TicketIDDigits, ErrTicketUnknown)
	}
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	v, err := s.rdb.Get(ctx, s.keys.TicketUsed(id)).Result()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("release ticket %s: %w", id, ErrTicketUnknown)
	}
	if err != nil {
		return Wrap("release ticket", err)
	}
	var t Ticket
	if err := json.Unmarshal([]byte(v), &t); err != nil {
		// A marker written before markers kept the ticket.
		return fmt.Errorf("release ticket %s: %w", id, ErrTicketUnknown)
	}
	ttl := t.ExpiresAt.Add(ticketGrace).Sub(now)
	if ttl <= 0 {
		return fmt.Errorf("release ticket %s: %w", id, ErrTicketUnknown)
	}
	n, err := releaseScript.Run(ctx, s.rdb, []string{s.keys.Ticket(id), s.keys.TicketUsed(id)}, ttl.Milliseconds(), v).Int()
	if err != nil {
		return Wrap("release ticket", err)
	}
	if n == 0 {
		return fmt.Errorf("release ticket %s: %w", id, ErrTicketUnknown)
	}
	// Open again: it counts in the open-ticket caps, as at its creation.
	p := s.rdb.Pipeline()
	z := redis.Z{Score: float64(t.CreatedAt.UnixMilli()), Member: id}
	p.ZAddNX(ctx, s.keys.OpenTickets(t.User, t.Domain), z)
	if t.SourceIP != "" {
		p.ZAddNX(ctx, s.keys.SourceOpenTickets(t.SourceIP), z)
	}
	_, _ = p.Exec(ctx)
	return nil
}

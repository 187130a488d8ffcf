package state

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Failed voice verifications, counted per account across calls.
//
// The rule, shared by the IVR (which records failures) and the engine
// (which rejects calls): an account is blocked while at least max failures
// lie in the window (now-window, now]. The block therefore ends when the
// oldest of the latest max failures is window old. Every failure counts,
// whichever call it happened in.

// The windows of failures are shared by hosts: the IVR writes them, the
// gateway reads them. They run on Redis's clock unless Options.CallerTime
// (see sharedNow), so the times passed below are then not used.

// recordFailureScript: KEYS[1] the failures; ARGV now ms (-1: Redis's
// clock), window ms, failure id, gc ms. Returns the failures in the window.
var recordFailureScript = redis.NewScript(luaClock + `
local now, window = clock(ARGV[1]), tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
local n = redis.call('ZCOUNT', KEYS[1], '(' .. (now - window), '+inf')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return n
`)

// windowScript: KEYS[1] a set of failures; ARGV now ms (-1: Redis's
// clock), window ms, limit (0: none). Returns the failures in
// (now-window, now] and, when they reach the limit, when the limit-th
// newest leaves the window (ms; else 0).
var windowScript = redis.NewScript(luaClock + `
local now, window, limit = clock(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local n = redis.call('ZCOUNT', KEYS[1], '(' .. (now - window), now)
local untilv = 0
if limit > 0 and n >= limit then
  local nth = redis.call('ZREVRANGEBYSCORE', KEYS[1], now, '(' .. (now - window), 'WITHSCORES', 'LIMIT', limit - 1, 1)
  untilv = tonumber(nth[2]) + window
end
return {n, untilv}
`)

// RecordVerifyFailure adds the failure id at time at and returns how many
// failures now lie in the window ending at at. id names the failure (the
// verification's ticket or channel and the try number): writing the same id
// again, e.g. after a write that timed out but landed, replaces the entry
// instead of adding one, so a retried write counts once.
func (s *State) RecordVerifyFailure(ctx context.Context, user, domain, id string, at time.Time, window time.Duration) (int, error) {
	return s.RecordVerifyFailureIn(ctx, user, domain, "", id, at, window)
}

// RecordVerifyFailureIn is RecordVerifyFailure for the failures of one
// situation of the account (engine.FailureScope; "" is the account).
func (s *State) RecordVerifyFailureIn(ctx context.Context, user, domain, scope, id string, at time.Time, window time.Duration) (int, error) {
	if id == "" {
		return 0, fmt.Errorf("record verify failure of %s@%s: empty failure id", user, domain)
	}
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	n, err := recordFailureScript.Run(ctx, s.rdb, []string{s.keys.VerifyFailuresIn(user, domain, scope)},
		s.sharedNow(at), window.Milliseconds(), id, (window + time.Minute).Milliseconds()).Int()
	if err != nil {
		return 0, Wrap("record verify failure", err)
	}
	return n, nil
}

// VerifyBlock reports whether the account is blocked at now, until when,
// and how many failures lie in the window.
func (s *State) VerifyBlock(ctx context.Context, user, domain string, now time.Time, window time.Duration, max int) (blocked bool, until time.Time, failures int, err error) {
	return s.VerifyBlockIn(ctx, user, domain, "", now, window, max)
}

// VerifyBlockIn is VerifyBlock for one situation of the account
// (engine.FailureScope; "" is the account).
func (s *State) VerifyBlockIn(ctx context.Context, user, domain, scope string, now time.Time, window time.Duration, max int) (blocked bool, until time.Time, failures int, err error) {
	n, end, err := s.window(ctx, s.keys.VerifyFailuresIn(user, domain, scope), now, window, max)
	if err != nil {
		return false, time.Time{}, 0, Wrap("verify block", err)
	}
	if end == 0 {
		return false, time.Time{}, n, nil
	}
	// The max-th newest failure ends the block.
	return true, time.UnixMilli(end), n, nil
}

// window runs windowScript on key.
func (s *State) window(ctx context.Context, key string, now time.Time, window time.Duration, max int) (n int, until int64, err error) {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	v, err := windowScript.Run(ctx, s.rdb, []string{key}, s.sharedNow(now), window.Milliseconds(), max).Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	if len(v) != 2 {
		return 0, 0, fmt.Errorf("unexpected reply %v", v)
	}
	return int(v[0]), v[1], nil
}

// ClearVerifyFailures forgets an account's failures (an admin unblock).
func (s *State) ClearVerifyFailures(ctx context.Context, user, domain string) error {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	if err := s.rdb.Del(ctx, s.keys.VerifyFailures(user, domain)).Err(); err != nil {
		return Wrap(fmt.Sprintf("clear verify failures of %s@%s", user, domain), err)
	}
	return nil
}

package state

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voipshield/tfps/pin"
)

// PIN attempts are reserved before the digits are checked: the attempt is
// counted as a failure first, in one script, and only a PIN that matches
// takes it back (ReleasePINAttempt). Whatever happens between (the caller
// hangs up, the IVR dies, two sessions of one account ask at once) the
// attempt stays counted, and no session gets a guess once a limit is
// reached.
//
// An attempt counts in three windows, each with the same limit: the
// account's verification failures (the set the gateway reads for R18), the
// caller number's PIN failures and the source address's PIN failures. The
// last two span accounts, so guessing the one global PIN across N accounts
// gives no more tries than guessing it for one.
//
// On a Redis Cluster the caller and source sets (hash tag {pin}) and the
// account's set live in two slots: reservePINCluster reserves on one, then
// the other, and takes the first back when the second refuses.

// reservePIN: KEYS[1] account failures, KEYS[2] caller (optional), KEYS[3]
// source (optional, KEYS[2] then present, maybe unused); ARGV[1] attempt
// id, ARGV[2] now ms, ARGV[3] window ms, ARGV[4] max (0: no limit), ARGV[5]
// 1 when KEYS[2] is used, ARGV[6] 1 when KEYS[3] is used, ARGV[7] gc ms.
// "now" is -1 on Redis's clock (sharedNow).
// Returns {reserved, blocked key index, until ms, account, caller, source}.
var reservePIN = redis.NewScript(luaClock + `
local now, window, limit = clock(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lo = now - window
local used = {true, ARGV[5] == '1', ARGV[6] == '1'}
local counts = {0, 0, 0}
local again = redis.call('ZSCORE', KEYS[1], ARGV[1])
for i = 1, 3 do
  if used[i] then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', lo)
    counts[i] = redis.call('ZCOUNT', KEYS[i], '(' .. lo, '+inf')
  end
end
if again then
  return {1, 0, 0, counts[1], counts[2], counts[3]}
end
if limit > 0 then
  for i = 1, 3 do
    if used[i] and counts[i] >= limit then
      local nth = redis.call('ZREVRANGEBYSCORE', KEYS[i], '+inf', '(' .. lo, 'WITHSCORES', 'LIMIT', limit - 1, 1)
      return {0, i, tonumber(nth[2]) + window, counts[1], counts[2], counts[3]}
    end
  end
end
for i = 1, 3 do
  if used[i] then
    redis.call('ZADD', KEYS[i], now, ARGV[1])
    redis.call('PEXPIRE', KEYS[i], ARGV[7])
    counts[i] = counts[i] + 1
  end
end
return {1, 0, 0, counts[1], counts[2], counts[3]}
`)

var pinBlockedBy = []string{"", pin.BlockedAccount, pin.BlockedCaller, pin.BlockedSource}

// ReservePINAttempt counts attempt a as a failure in the account's, the
// caller number's and the source's windows, all or none: when any of them
// already holds max failures in (at-window, at] nothing is counted and the
// answer says which limit refused it. A retry of the same id (a write that
// timed out but landed) is reserved once.
func (s *State) ReservePINAttempt(ctx context.Context, a pin.Attempt, window time.Duration, max int) (pin.Reservation, error) {
	if a.ID == "" {
		return pin.Reservation{}, fmt.Errorf("reserve PIN attempt of %s@%s: empty attempt id", a.User, a.Domain)
	}
	keys := s.pinKeys(a)
	args := []any{a.ID, s.sharedNow(a.At), window.Milliseconds(), max, flag(a.Caller != ""), flag(a.Source != ""), (window + time.Minute).Milliseconds()}
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	var v []int64
	var err error
	if s.keys.Cluster() {
		v, err = s.reservePINCluster(ctx, a, keys, args)
	} else {
		v, err = reservePIN.Run(ctx, s.rdb, keys, args...).Int64Slice()
	}
	if err != nil {
		return pin.Reservation{}, Wrap("reserve PIN attempt", err)
	}
	if len(v) != 6 || v[1] < 0 || int(v[1]) >= len(pinBlockedBy) {
		return pin.Reservation{}, fmt.Errorf("reserve PIN attempt: unexpected answer %v", v)
	}
	r := pin.Reservation{Reserved: v[0] == 1, BlockedBy: pinBlockedBy[v[1]], Account: int(v[3]), Caller: int(v[4]), Source: int(v[5])}
	if !r.Reserved {
		r.Until = time.UnixMilli(v[2])
	}
	return r, nil
}

// reservePINCluster is the reservation on a Redis Cluster, where the
// account's set and the caller and source sets (hash tag {pin}) live in two
// slots: the same script runs on the caller and source first, then on the
// account, and a refusal by the account takes the first reservation back.
// Each limit is still checked and counted atomically; a parallel session
// can only see the caller or source count one higher for a moment.
func (s *State) reservePINCluster(ctx context.Context, a pin.Attempt, keys []string, args []any) ([]int64, error) {
	out := []int64{1, 0, 0, 0, 0, 0}
	shared := a.Caller != "" || a.Source != ""
	if shared {
		// KEYS[1] is always counted by the script: the caller's set, or
		// the source's when there is no caller number.
		first, second, useSecond := keys[1], keys[2], a.Source != ""
		if a.Caller == "" {
			first, useSecond = keys[2], false
		}
		sargs := append([]any{}, args...)
		sargs[4], sargs[5] = flag(useSecond), 0
		v, err := reservePIN.Run(ctx, s.rdb, []string{first, second, second}, sargs...).Int64Slice()
		if err != nil || len(v) != 6 {
			return v, err
		}
		callerN, sourceN := v[3], v[4]
		by := map[int64]int64{0: 0, 1: 2, 2: 3} // script index -> pinBlockedBy index
		if a.Caller == "" {
			callerN, sourceN = 0, v[3]
			by = map[int64]int64{0: 0, 1: 3}
		}
		out[4], out[5] = callerN, sourceN
		if v[0] != 1 {
			out[0], out[1], out[2] = 0, by[v[1]], v[2]
			return out, nil
		}
	}
	aargs := append([]any{}, args...)
	aargs[4], aargs[5] = 0, 0
	v, err := reservePIN.Run(ctx, s.rdb, []string{keys[0], keys[0], keys[0]}, aargs...).Int64Slice()
	if err != nil || len(v) != 6 {
		return v, err
	}
	out[3] = v[3]
	if v[0] != 1 {
		out[0], out[1], out[2] = 0, 1, v[2]
		if shared {
			if err := s.releaseShared(ctx, a); err != nil {
				return nil, err
			}
			// The caller and source counts no longer hold this attempt.
			out[4], out[5] = max(out[4]-flag64(a.Caller != ""), 0), max(out[5]-flag64(a.Source != ""), 0)
		}
	}
	return out, nil
}

// releaseShared takes attempt a out of the caller's and the source's sets.
func (s *State) releaseShared(ctx context.Context, a pin.Attempt) error {
	keys := s.pinKeys(a)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if a.Caller != "" {
			p.ZRem(ctx, keys[1], a.ID)
		}
		if a.Source != "" {
			p.ZRem(ctx, keys[2], a.ID)
		}
		return nil
	})
	return err
}

func flag64(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// ReleasePINAttempt takes a reserved attempt back: the PIN matched. It is
// idempotent.
func (s *State) ReleasePINAttempt(ctx context.Context, a pin.Attempt) error {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	pipe := s.rdb.TxPipelined
	if s.keys.Cluster() {
		pipe = s.rdb.Pipelined // the account's and the {pin} sets are in two slots
	}
	_, err := pipe(ctx, func(p redis.Pipeliner) error {
		keys := s.pinKeys(a)
		p.ZRem(ctx, keys[0], a.ID)
		if a.Caller != "" {
			p.ZRem(ctx, keys[1], a.ID)
		}
		if a.Source != "" {
			p.ZRem(ctx, keys[2], a.ID)
		}
		return nil
	})
	if err != nil {
		return Wrap("release PIN attempt", err)
	}
	return nil
}

// PINFailures returns the PIN attempts that did not succeed from a caller
// number (or, with source set, from a source address) in (now-window, now].
func (s *State) PINFailures(ctx context.Context, caller, source string, now time.Time, window time.Duration) (int, error) {
	key := s.keys.PINFailuresCaller(caller)
	if source != "" {
		key = s.keys.PINFailuresSource(source)
	}
	n, _, err := s.window(ctx, key, now, window, 0)
	if err != nil {
		return 0, Wrap("PIN failures", err)
	}
	return n, nil
}

// pinKeys are the keys of a: the account's, then the caller's and the
// source's (a placeholder name when unused, never touched).
func (s *State) pinKeys(a pin.Attempt) []string {
	keys := []string{s.keys.VerifyFailures(a.User, a.Domain), s.keys.PINFailuresCaller(""), s.keys.PINFailuresSource("")}
	if a.Caller != "" {
		keys[1] = s.keys.PINFailuresCaller(a.Caller)
	}
	if a.Source != "" {
		keys[2] = s.keys.PINFailuresSource(a.Source)
	}
	return keys
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

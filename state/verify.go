package state

import (
	"context"
	"fmt"
	"strconv"
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
	key := s.keys.VerifyFailuresIn(user, domain, scope)
	member := id
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	var count *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(at.UnixMilli()), Member: member})
		p.ZRemRangeByScore(ctx, key, "-inf", "("+strconv.FormatInt(at.Add(-window).UnixMilli(), 10))
		count = p.ZCount(ctx, key, "("+strconv.FormatInt(at.Add(-window).UnixMilli(), 10), "+inf")
		p.PExpire(ctx, key, window+time.Minute)
		return nil
	})
	if err != nil {
		return 0, Wrap("record verify failure", err)
	}
	return int(count.Val()), nil
}

// VerifyBlock reports whether the account is blocked at now, until when,
// and how many failures lie in the window.
func (s *State) VerifyBlock(ctx context.Context, user, domain string, now time.Time, window time.Duration, max int) (blocked bool, until time.Time, failures int, err error) {
	return s.VerifyBlockIn(ctx, user, domain, "", now, window, max)
}

// VerifyBlockIn is VerifyBlock for one situation of the account
// (engine.FailureScope; "" is the account).
func (s *State) VerifyBlockIn(ctx context.Context, user, domain, scope string, now time.Time, window time.Duration, max int) (blocked bool, until time.Time, failures int, err error) {
	key := s.keys.VerifyFailuresIn(user, domain, scope)
	lo := "(" + strconv.FormatInt(now.Add(-window).UnixMilli(), 10)
	hi := strconv.FormatInt(now.UnixMilli(), 10)
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	scores, err := s.rdb.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Min: lo, Max: hi}).Result()
	if err != nil {
		return false, time.Time{}, 0, Wrap("verify block", err)
	}
	failures = len(scores)
	if max <= 0 || failures < max {
		return false, time.Time{}, failures, nil
	}
	// scores are newest first: the max-th newest failure ends the block.
	until = time.UnixMilli(int64(scores[max-1].Score)).Add(window)
	return true, until, failures, nil
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

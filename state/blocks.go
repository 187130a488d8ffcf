package state

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Blocks an operator can see and lift: the verification-failure block
// (VerifyBlock, ClearVerifyFailures in verify.go) and the A->B pair blocks
// below. Both carry their end in the data; the lists never wait for a TTL.

// PairBlock is one blocked caller->number pair of an account.
type PairBlock struct {
	Caller, Number string
	Until          time.Time
}

var keyUnescaper = strings.NewReplacer("%25", "%", "%3A", ":", "%7B", "{", "%7D", "}", "%2F", "/", "%20", " ")

// pairMember names a pair in the ABBlocks index: both parts escaped (esc
// escapes ':'), so the one ':' between them splits it back.
func pairMember(caller, number string) string { return esc(caller) + ":" + esc(number) }

func splitPair(m string) (caller, number string, ok bool) {
	c, n, ok := strings.Cut(m, ":")
	return keyUnescaper.Replace(c), keyUnescaper.Replace(n), ok
}

// PairBlocks returns the account's pairs blocked at now, soonest end first.
// A pair whose block key was removed (cleared) is not listed, even if the
// index still names it.
func (s *State) PairBlocks(ctx context.Context, user, domain string, now time.Time) ([]PairBlock, error) {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	idx := s.keys.ABBlocks(user, domain)
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, idx, &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, Wrap("pair blocks", err)
	}
	out := make([]PairBlock, 0, len(zs))
	if len(zs) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(zs))
	pairs := make([]PairBlock, len(zs))
	for i, z := range zs {
		m, _ := z.Member.(string)
		c, n, ok := splitPair(m)
		if !ok {
			continue
		}
		pairs[i] = PairBlock{Caller: c, Number: n}
		gets[i] = pipe.Get(ctx, s.keys.ABBlock(user, domain, c, n))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, Wrap("pair blocks", err)
	}
	for i, g := range gets {
		if g == nil {
			continue
		}
		until, err := g.Int64()
		if err != nil || until <= now.UnixMilli() {
			continue // cleared, or a later block key replaced it and ended
		}
		pairs[i].Until = time.UnixMilli(until)
		out = append(out, pairs[i])
	}
	return out, nil
}

// ClearPairBlock lifts the block of caller->number and forgets its recent
// attempts, so the next call starts a fresh window. It reports whether the
// pair was blocked.
func (s *State) ClearPairBlock(ctx context.Context, user, domain, caller, number string, now time.Time) (bool, error) {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	var get *redis.StringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, s.keys.ABBlock(user, domain, caller, number))
		p.Del(ctx, s.keys.ABBlock(user, domain, caller, number), s.keys.ABAttempts(user, domain, caller, number))
		p.ZRem(ctx, s.keys.ABBlocks(user, domain), pairMember(caller, number))
		return nil
	})
	if err != nil && err != redis.Nil {
		return false, Wrap(fmt.Sprintf("clear pair block %s->%s of %s@%s", caller, number, user, domain), err)
	}
	until, _ := get.Int64()
	return until > now.UnixMilli(), nil
}

// PairAttempts returns how many attempts from caller to number the burst
// check holds (those of its current window, kept until the next call of the
// pair drops the older ones or the key expires).
func (s *State) PairAttempts(ctx context.Context, user, domain, caller, number string) (int, error) {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	v, err := s.rdb.Get(ctx, s.keys.ABAttempts(user, domain, caller, number)).Result()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, Wrap(fmt.Sprintf("attempts %s->%s of %s@%s", caller, number, user, domain), err)
	}
	n := 0
	for v != "" { // "<ms> <length>:<member>" per attempt
		sp := strings.IndexByte(v, ' ')
		colon := strings.IndexByte(v, ':')
		if sp < 0 || colon < sp {
			return 0, fmt.Errorf("attempts %s->%s of %s@%s: malformed value", caller, number, user, domain)
		}
		l, err := strconv.Atoi(v[sp+1 : colon])
		if err != nil || colon+1+l > len(v) {
			return 0, fmt.Errorf("attempts %s->%s of %s@%s: malformed value", caller, number, user, domain)
		}
		v = v[colon+1+l:]
		n++
	}
	return n, nil
}

// ClearPairBlocks lifts every listed pair block of the account and returns
// how many were active at now.
func (s *State) ClearPairBlocks(ctx context.Context, user, domain string, now time.Time) (int, error) {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	idx := s.keys.ABBlocks(user, domain)
	members, err := s.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return 0, Wrap("clear pair blocks", err)
	}
	n := 0
	for _, m := range members {
		c, num, ok := splitPair(m)
		if !ok {
			continue
		}
		was, err := s.ClearPairBlock(ctx, user, domain, c, num, now)
		if err != nil {
			return n, err
		}
		if was {
			n++
		}
	}
	if err := s.rdb.Del(ctx, idx).Err(); err != nil {
		return n, Wrap("clear pair blocks", err)
	}
	return n, nil
}

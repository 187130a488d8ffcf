package state

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// ReputationCache stores reputation answers (opaque bytes the reputation
// clients encode) per service and address, shared by every gateway so one
// address costs one lookup per TTL for the whole installation.
type ReputationCache struct{ s *State }

// NewReputationCache returns the reputation cache on s.
func NewReputationCache(s *State) ReputationCache { return ReputationCache{s: s} }

// Get returns the cached answer; ok is false when there is none.
func (c ReputationCache) Get(ctx context.Context, service, addr string) (b []byte, ok bool, err error) {
	ctx, cancel := c.s.WithDeadline(ctx)
	defer cancel()
	b, err = c.s.rdb.Get(ctx, c.s.keys.Reputation(service, addr)).Bytes()
	if err == redis.Nil {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, Wrap("get reputation", err)
	}
	return b, true, nil
}

// Put stores an answer for ttl.
func (c ReputationCache) Put(ctx context.Context, service, addr string, b []byte, ttl time.Duration) error {
	ctx, cancel := c.s.WithDeadline(ctx)
	defer cancel()
	return Wrap("put reputation", c.s.rdb.Set(ctx, c.s.keys.Reputation(service, addr), b, ttl).Err())
}

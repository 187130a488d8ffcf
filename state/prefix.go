package state

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// KeysMatching lists the keys under the State's prefix that match pattern
// (a SCAN pattern after the prefix), on every master of a Redis Cluster.
func (s *State) KeysMatching(ctx context.Context, pattern string) ([]string, error) {
	var mu sync.Mutex
	var out []string
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, s.keys.prefix+pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = fmt.Errorf("client %T", s.rdb)
	}
	if err != nil {
		return nil, fmt.Errorf("list keys %s: %w", pattern, err)
	}
	return out, nil
}

// DeletePrefix deletes every key under the State's prefix, on every master
// of a Redis Cluster; tests clean up with it.
func (s *State) DeletePrefix(ctx context.Context) error {
	keys, err := s.KeysMatching(ctx, "*")
	if err != nil || len(keys) == 0 {
		return err
	}
	p := s.rdb.Pipeline()
	for _, k := range keys {
		p.Del(ctx, k) // one by one: the keys span many slots
	}
	_, err = p.Exec(ctx)
	return err
}

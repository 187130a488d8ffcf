package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisURL is the Redis tests use: TFPS_TEST_REDIS_URL or the local one.
func TestRedisURL() string {
	if v := os.Getenv("TFPS_TEST_REDIS_URL"); v != "" {
		return v
	}
	return "redis://127.0.0.1:6379/0"
}

// MustOpen connects a test to the real test Redis under a private key
// prefix, and deletes that prefix's keys at cleanup. An unreachable Redis
// fails the test.
func MustOpen(tb testing.TB) *State {
	tb.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "tfpstest:" + hex.EncodeToString(b) + ":"
	s, err := Open(context.Background(), TestRedisURL(), Options{Prefix: prefix, Timeout: 2 * time.Second, Cluster: TestRedisCluster()})
	if err != nil {
		tb.Fatalf("Redis for tests at %s: %v (start redis-server, or set TFPS_TEST_REDIS_URL)", TestRedisURL(), err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.DeletePrefix(ctx)
		s.Close()
	})
	return s
}

// TestRedisCluster reports whether TFPS_TEST_REDIS_CLUSTER=on: tests then
// read TestRedisURL as a Redis Cluster's (scripts/redis-cluster.sh starts
// one and prints the variables).
func TestRedisCluster() bool { return os.Getenv("TFPS_TEST_REDIS_CLUSTER") == "on" }

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

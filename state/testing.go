package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"
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
	s, err := Open(context.Background(), TestRedisURL(), Options{Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		tb.Fatalf("Redis for tests at %s: %v (start redis-server, or set TFPS_TEST_REDIS_URL)", TestRedisURL(), err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := s.rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			s.rdb.Del(ctx, keys...)
		}
		s.Close()
	})
	return s
}

// Package statetest connects tests to the real test Redis: each test gets a
// private key prefix whose keys are deleted at cleanup.
package statetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/voipshield/tfps/state"
)

// RedisURL is the Redis tests use: TFPS_TEST_REDIS_URL or the local one.
func RedisURL() string {
	if v := os.Getenv("TFPS_TEST_REDIS_URL"); v != "" {
		return v
	}
	return "redis://127.0.0.1:6379/0"
}

// RedisCluster reports whether TFPS_TEST_REDIS_CLUSTER=on: tests then read
// RedisURL as a Redis Cluster's (scripts/redis-cluster.sh starts one and
// prints the variables).
func RedisCluster() bool { return os.Getenv("TFPS_TEST_REDIS_CLUSTER") == "on" }

// MustOpen connects a test to the real test Redis under a private key
// prefix, and deletes that prefix's keys at cleanup. An unreachable Redis
// fails the test.
func MustOpen(tb testing.TB) *state.State {
	tb.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "tfpstest:" + hex.EncodeToString(b) + ":"
	s, err := state.Open(context.Background(), RedisURL(), state.Options{Prefix: prefix, Timeout: 2 * time.Second, Cluster: RedisCluster()})
	if err != nil {
		tb.Fatalf("Redis for tests at %s: %v (start redis-server, or set TFPS_TEST_REDIS_URL)", RedisURL(), err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.DeletePrefix(ctx)
		s.Close()
	})
	return s
}

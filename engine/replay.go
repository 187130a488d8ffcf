package engine

import (
	"sync"
	"time"
)

// replayCache remembers recent decisions by Call-ID + From-tag (+ number),
// so a retried INVITE or POST gets the same answer without being counted a
// second time (livekit/sip keeps such an expiring cache for the same
// reason). Two generations bound the memory: entries live between ttl and
// 2*ttl, and a generation never holds more than maxEntries.
type replayCache struct {
	ttl        time.Duration
	maxEntries int

	mu       sync.Mutex
	young    map[replayKey]replayEntry
	old      map[replayKey]replayEntry
	youngAt  time.Time // when young started
	disabled bool
}

// monitor keeps the answers of a monitor listener apart from the
// enforcing one's when a proxy sends the same call to both.
type replayKey struct {
	callID, fromTag, number string
	monitor                 bool
}

type replayEntry struct {
	at time.Time
	d  Decision
}

func newReplayCache(ttl time.Duration, maxEntries int) *replayCache {
	return &replayCache{ttl: ttl, maxEntries: maxEntries, disabled: ttl <= 0, young: map[replayKey]replayEntry{}}
}

func (c *replayCache) get(k replayKey, now time.Time) (Decision, bool) {
	if c.disabled || k.callID == "" {
		return Decision{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.young[k]
	if !ok {
		e, ok = c.old[k]
	}
	if !ok || now.Sub(e.at) > c.ttl || now.Before(e.at.Add(-c.ttl)) {
		return Decision{}, false
	}
	return e.d, true
}

func (c *replayCache) put(k replayKey, now time.Time, d Decision) {
	if c.disabled || k.callID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Calls arrive slightly out of time order; only a jump back of more
	// than ttl (a clock step, a replayed day) starts a generation.
	if now.Sub(c.youngAt) > c.ttl || now.Before(c.youngAt.Add(-c.ttl)) || len(c.young) >= c.maxEntries {
		c.old, c.young, c.youngAt = c.young, make(map[replayKey]replayEntry, len(c.young)), now
	}
	c.young[k] = replayEntry{now, d}
}

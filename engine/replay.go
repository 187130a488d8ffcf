package engine

import (
	"net/netip"
	"sync"
	"time"
)

// replayCache remembers recent decisions by Call-ID + From-tag (+ number),
// so a retried INVITE or POST gets the same answer without being counted a
// second time. The key also holds the account, the source address and the
// transport: the Call-ID and From-tag are chosen by the caller, so without
// them one approval could be replayed for another account or source, or
// from HTTP to SIP, without counting anything (livekit/sip keeps such an expiring cache for the same
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

// replayKey is everything a retry repeats unchanged. A field the caller can
// not choose freely (account, source, transport) keeps a forged Call-ID from
// borrowing another request's decision.
type replayKey struct {
	callID, fromTag, number string
	user, domain            string
	source                  netip.Addr
	transport               string
	// monitor keeps the answers of a monitor listener apart from the
	// enforcing one's when a proxy sends the same call to both.
	monitor bool
}

func replayKeyOf(c *Call) replayKey {
	return replayKey{callID: c.CallID, fromTag: c.FromTag, number: c.Number, user: c.User, domain: c.Domain, source: c.SourceIP, transport: c.Transport, monitor: c.Monitor}
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

package engine

import (
	"hash/maphash"
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
	seeds      [2]maphash.Seed

	mu       sync.Mutex
	young    replayGen
	old      replayGen
	youngAt  time.Time // when young started
	disabled bool
}

// replayGen is one generation: decisions in a slice, found through a map
// from the key's 128-bit hash to their index. The map holds no pointer and
// its slots are small enough to be stored inline (a map of keys and
// decisions allocated an object per entry); a dropped generation's map and
// slice are reused by the next one.
type replayGen struct {
	index   map[replayHash]int32
	entries []replayEntry
}

// replayHash is a replayKey's identity in the cache: two 64-bit hashes
// with seeds drawn at start, so no caller can aim at a collision (one in
// 2^128 by chance).
type replayHash [2]uint64

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
	return &replayCache{ttl: ttl, maxEntries: maxEntries, disabled: ttl <= 0,
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, young: replayGen{index: map[replayHash]int32{}}}
}

func (c *replayCache) hash(k *replayKey) replayHash {
	var out replayHash
	for i := range out {
		var h maphash.Hash
		h.SetSeed(c.seeds[i])
		for _, s := range [...]string{k.callID, k.fromTag, k.number, k.user, k.domain, k.transport, k.source.Zone()} {
			h.WriteString(s)
			h.WriteByte(0)
		}
		a := k.source.As16()
		h.Write(a[:])
		h.WriteByte(byte(k.source.BitLen()))
		if k.monitor {
			h.WriteByte(1)
		}
		out[i] = h.Sum64()
	}
	return out
}

func (g *replayGen) lookup(h replayHash) (replayEntry, bool) {
	i, ok := g.index[h]
	if !ok {
		return replayEntry{}, false
	}
	return g.entries[i], true
}

// reset empties g, keeping its memory; the decisions' strings are let go.
func (g *replayGen) reset() {
	if g.index == nil {
		g.index = map[replayHash]int32{}
	}
	clear(g.index)
	clear(g.entries)
	g.entries = g.entries[:0]
}

// id returns k's identity in the cache, ok false when the cache is off or
// k has no Call-ID (such a call is never replayed). Decide computes it once
// for its get and its put.
func (c *replayCache) id(k *replayKey) (replayHash, bool) {
	if c.disabled || k.callID == "" {
		return replayHash{}, false
	}
	return c.hash(k), true
}

func (c *replayCache) get(h replayHash, now time.Time) (Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.young.lookup(h)
	if !ok {
		e, ok = c.old.lookup(h)
	}
	if !ok || now.Sub(e.at) > c.ttl || now.Before(e.at.Add(-c.ttl)) {
		return Decision{}, false
	}
	return e.d, true
}

func (c *replayCache) put(h replayHash, now time.Time, d Decision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Calls arrive slightly out of time order; only a jump back of more
	// than ttl (a clock step, a replayed day) starts a generation.
	if now.Sub(c.youngAt) > c.ttl || now.Before(c.youngAt.Add(-c.ttl)) || len(c.young.entries) >= c.maxEntries {
		// The dropped generation's memory becomes the new young one's.
		next := c.old
		next.reset()
		c.old, c.young, c.youngAt = c.young, next, now
	}
	if i, ok := c.young.index[h]; ok {
		c.young.entries[i] = replayEntry{now, d}
		return
	}
	c.young.index[h] = int32(len(c.young.entries))
	c.young.entries = append(c.young.entries, replayEntry{now, d})
}

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

// replayGen is one generation: decisions in chunks of replayChunk, found
// through a map from the key's 128-bit hash to their index. The map holds
// no pointer and its slots are small enough to be stored inline (a map of
// keys and decisions allocated an object per entry); a generation grows by
// adding chunks, never by copying what it holds (one growing slice copied
// and zeroed tens of megabytes as a gateway warmed up: 6 % of its CPU in
// its first seconds at 6,000 calls/s); a dropped generation's map and
// chunks are reused by the next one.
type replayGen struct {
	index  map[replayHash]int32
	chunks [][]replayEntry
	n      int // entries in use
}

// replayChunk is the entries of one chunk (about 350 bytes each).
const replayChunk = 1024

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
	return *g.at(i), true
}

func (g *replayGen) at(i int32) *replayEntry {
	return &g.chunks[i/replayChunk][i%replayChunk]
}

// add stores e and returns its index.
func (g *replayGen) add(e replayEntry) int32 {
	c := g.n / replayChunk
	if c == len(g.chunks) {
		g.chunks = append(g.chunks, make([]replayEntry, replayChunk))
	}
	g.chunks[c][g.n%replayChunk] = e
	g.n++
	return int32(g.n - 1)
}

// reset empties g, keeping its memory; the decisions' strings are let go.
func (g *replayGen) reset() {
	if g.index == nil {
		g.index = map[replayHash]int32{}
	}
	clear(g.index)
	for c := range g.chunks {
		if c*replayChunk >= g.n {
			break
		}
		clear(g.chunks[c])
	}
	g.n = 0
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
	if now.Sub(c.youngAt) > c.ttl || now.Before(c.youngAt.Add(-c.ttl)) || c.young.n >= c.maxEntries {
		// The dropped generation's memory becomes the new young one's.
		next := c.old
		next.reset()
		c.old, c.young, c.youngAt = c.young, next, now
	}
	if i, ok := c.young.index[h]; ok {
		*c.young.at(i) = replayEntry{now, d}
		return
	}
	c.young.index[h] = c.young.add(replayEntry{now, d})
}

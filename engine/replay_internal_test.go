package engine

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// A generation swap reuses the dropped generation's memory, and what that
// generation held is gone: a retry of a call two generations back is
// decided again, never answered from a stale entry.
func TestReplayCacheSwapReusesMemory(t *testing.T) {
	const n = 20_000
	c := newReplayCache(time.Minute, n)
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	keys := make([]replayKey, 4*n)
	for i := range keys {
		keys[i] = replayKey{callID: fmt.Sprintf("call-%d", i), fromTag: "f", number: "+15551230000", user: "u", domain: "d", transport: "UDP"}
	}
	id := func(k replayKey) replayHash {
		h, ok := c.id(&k)
		if !ok {
			t.Fatalf("%+v not replayable", k)
		}
		return h
	}
	fill := func(gen int) {
		for _, k := range keys[gen*n : (gen+1)*n] {
			c.put(id(k), t0, Decision{Result: Approve, Code: A00})
		}
	}
	fill(0)
	fill(1)
	fill(2) // generation 0 dropped, its map now the young one
	if _, ok := c.get(id(keys[0]), t0); ok {
		t.Error("a call two generations back was answered from the cache")
	}
	if _, ok := c.get(id(keys[n]), t0); !ok {
		t.Error("a call of the previous generation was not answered from the cache")
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	fill(3) // swaps in generation 1's map
	runtime.ReadMemStats(&m1)
	if per := (m1.TotalAlloc - m0.TotalAlloc) / n; per > 64 {
		t.Errorf("a warm generation allocated %d bytes per decision", per)
	}
	if _, ok := c.get(id(keys[n]), t0); ok {
		t.Error("a call of a dropped generation was answered from the cache")
	}
}

// A generation filling up for the first time (a gateway starting under
// load) allocates its entries once: growing never copies the decisions it
// holds, so it allocates little more than the entries themselves.
func TestReplayCacheGrowsWithoutCopying(t *testing.T) {
	const n = 20_000
	c := newReplayCache(time.Minute, n)
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	hashes := make([]replayHash, n)
	for i := range hashes {
		k := replayKey{callID: fmt.Sprintf("call-%d", i), fromTag: "f", user: "u", domain: "d", transport: "UDP"}
		hashes[i], _ = c.id(&k)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for _, h := range hashes {
		c.put(h, t0, Decision{Result: Approve, Code: A00})
	}
	runtime.ReadMemStats(&m1)
	entry := uint64(unsafe.Sizeof(replayEntry{}))
	// The map's own growth (its slots are 24 bytes) comes on top.
	if per := (m1.TotalAlloc - m0.TotalAlloc) / n; per > entry+100 {
		t.Errorf("filling a generation allocated %d bytes per decision; an entry is %d bytes", per, entry)
	}
	for i, h := range hashes {
		if d, ok := c.get(h, t0); !ok || d.Code != A00 {
			t.Fatalf("decision %d not found after the generation grew", i)
		}
	}
}

package sipfront

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"
)

var cacheT0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

// An idle front lets go of its answers: aged with no INVITE arriving, the
// cache still answers a retransmission within the lifetime, then holds
// nothing once the last answer is past it.
func TestAnswerCacheEmptiesWhenIdle(t *testing.T) {
	const ttl = 32 * time.Second
	c := newAnswerCache(ttl, 1000)
	k := txKey{callID: "c1", branch: "z9hG4bK-1"}
	e, fresh := c.begin(k, cacheT0)
	if !fresh {
		t.Fatal("first INVITE not fresh")
	}
	answer := []byte("SIP/2.0 302 Moved Temporarily\r\n\r\n")
	c.finish(k, e, answer)
	c.expire(cacheT0.Add(ttl / 2))
	if e2, fresh := c.begin(k, cacheT0.Add(ttl/2)); fresh || !bytes.Equal(e2.answer(), answer) {
		t.Fatalf("retransmission within the lifetime after aging: fresh=%v answer %q", fresh, e2.answer())
	}
	c.expire(cacheT0.Add(ttl + time.Second))
	if n := c.stored(); n != 0 {
		t.Errorf("%d answers held a lifetime after the last INVITE, want 0", n)
	}
	if c.spare != nil || c.old != nil || len(c.young.chunks) != 0 {
		t.Error("an idle cache still holds memory for answers")
	}
}

// A retransmission gets the bytes of the first answer even when the buffer
// the answer was written in has been reused since; another transaction's
// key never gets it; a CANCEL of an answered INVITE is known but cancels
// nothing.
func TestAnswerCacheKeepsItsOwnCopy(t *testing.T) {
	c := newAnswerCache(32*time.Second, 1000)
	k := txKey{callID: "a84b4c76e66710", branch: "z9hG4bK776asdhds"}
	e, _ := c.begin(k, cacheT0)
	buf := []byte("SIP/2.0 302 Moved Temporarily\r\nX-Tfps-Code: A00\r\n\r\n")
	want := string(buf)
	c.finish(k, e, buf)
	copy(buf, "SIP/2.0 500 Server Internal Error")
	got, fresh := c.begin(k, cacheT0.Add(time.Second))
	if fresh || string(got.answer()) != want {
		t.Fatalf("retransmission: fresh=%v %q, want %q", fresh, got.answer(), want)
	}
	for _, other := range []txKey{
		{callID: k.callID, branch: k.branch + "x"},
		{callID: k.callID + "x", branch: k.branch},
		{callID: k.callID, branch: k.branch, monitor: true},
		{callID: k.callID[:5], branch: k.callID[5:] + "\x00" + k.branch},
	} {
		if _, fresh := c.begin(other, cacheT0.Add(time.Second)); !fresh {
			t.Errorf("%+v got the answer of %+v", other, k)
		}
	}
	if !c.cancel(k) || e.canceled() {
		t.Errorf("CANCEL of an answered INVITE: known=%v, cancelled=%v; want known, not cancelled", c.cancel(k), e.canceled())
	}
}

// Two keys with the same hash: the second is a miss, never the first
// one's answer.
func TestAnswerStoreComparesKeys(t *testing.T) {
	g := newAnswerGen()
	a := txKey{callID: "one", branch: "z9hG4bK-1"}
	b := txKey{callID: "two", branch: "z9hG4bK-1"}
	g.put(42, &a, cacheT0, []byte("answer of one"))
	if _, _, ok := g.get(42, &b); ok {
		t.Error("a key sharing another's hash got its answer")
	}
	if _, got, ok := g.get(42, &a); !ok || string(got) != "answer of one" {
		t.Errorf("own answer: %q %v", got, ok)
	}
}

// An answer from the old generation older than the lifetime is not sent
// again: the INVITE is new.
func TestAnswerCacheOldGenerationHonoursLifetime(t *testing.T) {
	const ttl = 10 * time.Second
	c := newAnswerCache(ttl, 1000)
	k := txKey{callID: "c1", branch: "b1"}
	e, _ := c.begin(k, cacheT0)
	c.finish(k, e, []byte("first"))
	// A later INVITE swaps generations: k is in the old one.
	k2 := txKey{callID: "c2", branch: "b2"}
	e2, _ := c.begin(k2, cacheT0.Add(ttl+time.Second))
	c.finish(k2, e2, []byte("second"))
	if _, fresh := c.begin(k, cacheT0.Add(ttl+2*time.Second)); !fresh {
		t.Error("an answer past its lifetime was sent again")
	}
}

// The answers held are not objects for the garbage collector to visit,
// and a warm cache swapping generations reuses the memory it has: at
// thousands of calls a second, one object per answer made the cache most
// of the gateway's heap and its GC work.
func TestAnswerCacheHoldsNoObjectPerAnswer(t *testing.T) {
	const n = 50_000
	c := newAnswerCache(32*time.Second, n)
	answer := bytes.Repeat([]byte("x"), 380)
	keys := make([]txKey, 3*n)
	for i := range keys {
		keys[i] = txKey{callID: fmt.Sprintf("%08d@pbx.example.com", i), branch: fmt.Sprintf("z9hG4bK%016d", i)}
	}
	fill := func(from, to int, at time.Time) {
		for _, k := range keys[from:to] {
			e, _ := c.begin(k, at)
			c.finish(k, e, answer)
		}
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	fill(0, n, cacheT0) // one full generation
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if objs := int64(m1.HeapObjects) - int64(m0.HeapObjects); objs > n/100 {
		t.Errorf("%d answers held as %d heap objects", n, objs)
	}
	// Two more generations: the first gets new memory, the next reuses
	// the dropped one's.
	fill(n, 2*n, cacheT0.Add(time.Second))
	fill(2*n, 3*n, cacheT0.Add(2*time.Second))
	for i := range keys[:n] {
		keys[i].branch += "-again"
	}
	runtime.ReadMemStats(&m0)
	fill(0, n, cacheT0.Add(3*time.Second)) // reuses the generation dropped by this swap
	runtime.ReadMemStats(&m1)
	// Each INVITE's deciding entry is an object; the store's bytes are not.
	grew := (m1.TotalAlloc - m0.TotalAlloc) / n
	t.Logf("warm cache: %d bytes allocated per answer", grew)
	if grew > 200 {
		t.Errorf("a warm cache allocated %d bytes per answer, want the deciding entry's only", grew)
	}
	if got := c.stored(); got != 2*n {
		t.Errorf("stored %d answers, want %d (two generations)", got, 2*n)
	}
}

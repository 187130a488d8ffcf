package sipfront

import (
	"bytes"
	"testing"
	"time"
)

// An idle front lets go of its answers: aged with no INVITE arriving, the
// cache still answers a retransmission within the lifetime, then holds
// nothing once the last answer is past it.
func TestAnswerCacheEmptiesWhenIdle(t *testing.T) {
	const ttl = 32 * time.Second
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	c := newAnswerCache(ttl, 1000)
	k := txKey{callID: "c1", branch: "z9hG4bK-1"}
	e, fresh := c.begin(k, t0)
	if !fresh {
		t.Fatal("first INVITE not fresh")
	}
	e.finish([]byte("SIP/2.0 302 Moved Temporarily\r\n\r\n"))
	c.expire(t0.Add(ttl / 2))
	if e2, fresh := c.begin(k, t0.Add(ttl/2)); fresh || !bytes.Equal(e2.answer(), e.answer()) {
		t.Fatalf("retransmission within the lifetime after aging: fresh=%v answer %q", fresh, e2.answer())
	}
	c.expire(t0.Add(ttl + time.Second))
	c.mu.Lock()
	n := len(c.young) + len(c.old)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d answers held a lifetime after the last INVITE, want 0", n)
	}
}

// A stored answer keeps its bytes, not the room the encoder grew.
func TestStoredAnswerIsTrimmed(t *testing.T) {
	var b bytes.Buffer
	b.Grow(4096)
	b.WriteString("SIP/2.0 302 Moved Temporarily\r\nContent-Length: 0\r\n\r\n")
	e := &answerEntry{}
	e.finish(b.Bytes())
	if got := e.answer(); string(got) != b.String() || cap(got) > len(got)+128 {
		t.Errorf("stored %q with capacity %d for %d bytes", got, cap(got), len(got))
	}
}

package sipfront

import (
	"bytes"
	"context"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// txKey identifies an INVITE transaction (RFC 3261 17.2.3: the top Via
// branch; Call-ID added so a careless client reusing branches can not get
// another call's answer). A CANCEL carries the same key as its INVITE.
// monitor keeps a monitor listener's answers apart from the enforcing
// listener's when a proxy forks the same INVITE to both.
type txKey struct {
	callID, branch string
	monitor        bool
}

func txKeyOf(req *sip.Request, monitor bool) txKey {
	k := txKey{callID: req.CallID().Value(), monitor: monitor}
	if b, ok := req.Via().Params.Get("branch"); ok && b != "" {
		k.branch = b
	} else {
		// RFC 2543 client: no branch; CSeq number stands in.
		k.branch = "cseq:" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)
	}
	return k
}

// answerEntry is one INVITE: deciding, then answered.
type answerEntry struct {
	mu        sync.Mutex
	at        time.Time
	resp      []byte
	cancelFn  context.CancelFunc
	cancelled bool
}

func (e *answerEntry) answer() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resp
}

func (e *answerEntry) finish(b []byte) {
	if cap(b)-len(b) > 128 {
		// Kept for up to two answer lifetimes: not with the room the
		// encoder grew (a stored answer in a buffer twice its size
		// doubled the cache's memory at thousands of calls a second).
		b = bytes.Clone(b)
	}
	e.mu.Lock()
	e.resp = b
	e.cancelFn = nil
	e.mu.Unlock()
}

func (e *answerEntry) setCancel(f context.CancelFunc) {
	e.mu.Lock()
	e.cancelFn = f
	e.mu.Unlock()
}

func (e *answerEntry) canceled() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cancelled
}

// answerCache keeps INVITE answers for retransmissions for ttl to 2*ttl:
// two generations, swapped when the young one is ttl old or full.
type answerCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	young   map[txKey]*answerEntry
	old     map[txKey]*answerEntry
	youngAt time.Time
	// the newest entry of each generation: once it is past the lifetime,
	// so is the whole generation
	youngLast, oldLast time.Time
}

func newAnswerCache(ttl time.Duration, max int) *answerCache {
	return &answerCache{ttl: ttl, max: max, young: map[txKey]*answerEntry{}}
}

// begin returns the entry of k; fresh is true when it was just created.
func (c *answerCache) begin(k txKey, now time.Time) (e *answerEntry, fresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.young[k]; ok {
		return e, false
	}
	if e, ok := c.old[k]; ok && now.Sub(e.at) <= c.ttl {
		return e, false
	}
	if now.Sub(c.youngAt) > c.ttl || now.Before(c.youngAt) || len(c.young) >= c.max {
		c.old, c.young, c.youngAt = c.young, make(map[txKey]*answerEntry, len(c.young)), now
		c.oldLast = c.youngLast
	}
	if now.After(c.youngLast) {
		c.youngLast = now
	}
	e = &answerEntry{at: now}
	c.young[k] = e
	return e, true
}

// expire drops the generations whose every answer is past its lifetime,
// which no INVITE does when none comes. Called every quarter lifetime, an
// idle front holds no answer 1.25 lifetimes after its last INVITE.
func (c *answerCache) expire(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.youngLast) > c.ttl && len(c.young)+len(c.old) > 0 {
		c.old, c.young, c.youngAt = nil, map[txKey]*answerEntry{}, now
		return
	}
	if now.Sub(c.oldLast) > c.ttl {
		c.old = nil
	}
}

// cancel marks the INVITE of k cancelled when it is still deciding. It
// reports whether the INVITE is known (then the CANCEL gets 200).
func (c *answerCache) cancel(k txKey) bool {
	c.mu.Lock()
	e, ok := c.young[k]
	if !ok {
		e, ok = c.old[k]
	}
	c.mu.Unlock()
	if !ok {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.resp == nil {
		e.cancelled = true
		if e.cancelFn != nil {
			e.cancelFn()
		}
	}
	return true
}

// floodLimit counts requests per source address in the current second.
type floodLimit struct {
	limit int
	max   int

	mu     sync.Mutex
	second int64
	counts map[netip.Addr]int
}

func newFloodLimit(limit, max int) *floodLimit {
	return &floodLimit{limit: limit, max: max, counts: map[netip.Addr]int{}}
}

func (f *floodLimit) allow(a netip.Addr, now time.Time) bool {
	if f.limit <= 0 {
		return true
	}
	sec := now.Unix()
	f.mu.Lock()
	defer f.mu.Unlock()
	if sec != f.second {
		f.second = sec
		clear(f.counts)
	}
	n, ok := f.counts[a]
	if !ok && len(f.counts) >= f.max {
		return false
	}
	n++
	f.counts[a] = n
	return n <= f.limit
}

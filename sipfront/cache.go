package sipfront

import (
	"context"
	"encoding/binary"
	"hash/maphash"
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

// answerEntry is one INVITE while it is being decided: a CANCEL arriving
// then stops the decision. Once answered, the INVITE lives on as bytes in
// the cache's store, not as an entry.
type answerEntry struct {
	mu        sync.Mutex
	at        time.Time
	hash      uint64 // of the INVITE's key, for finish
	resp      []byte
	cancelFn  context.CancelFunc
	cancelled bool
}

func (e *answerEntry) answer() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resp
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
//
// INVITEs being decided are entries in a small map. Answered ones are
// bytes in a generation's store (answerGen), which holds no pointer: at
// thousands of calls a second the cache holds hundreds of thousands of
// answers, and as objects they were most of the gateway's heap and of the
// garbage collector's marking work. A dropped generation's memory is
// reused by the next one while INVITEs keep coming, so a busy gateway's
// cache allocates nothing once warm; an idle one lets it all go.
type answerCache struct {
	ttl  time.Duration
	max  int
	seed maphash.Seed

	mu      sync.Mutex
	pending map[txKey]*answerEntry
	young   *answerGen
	old     *answerGen
	spare   *answerGen // the last dropped generation, kept for reuse
	youngAt time.Time
	// the newest entry of each generation: once it is past the lifetime,
	// so is the whole generation
	youngLast, oldLast time.Time
}

func newAnswerCache(ttl time.Duration, max int) *answerCache {
	return &answerCache{ttl: ttl, max: max, seed: maphash.MakeSeed(), pending: map[txKey]*answerEntry{}, young: newAnswerGen()}
}

func (c *answerCache) hash(k *txKey) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(k.callID)
	h.WriteByte(0)
	h.WriteString(k.branch)
	if k.monitor {
		h.WriteByte(1)
	}
	return h.Sum64()
}

// begin returns the entry of k; fresh is true when it was just created.
// For an INVITE already answered it returns an entry holding a copy of
// the answer.
func (c *answerCache) begin(k txKey, now time.Time) (e *answerEntry, fresh bool) {
	h := c.hash(&k)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.pending[k]; ok {
		return e, false
	}
	if at, resp, ok := c.young.get(h, &k); ok {
		return &answerEntry{at: at, resp: resp}, false
	}
	if c.old != nil {
		if at, resp, ok := c.old.get(h, &k); ok && now.Sub(at) <= c.ttl {
			return &answerEntry{at: at, resp: resp}, false
		}
	}
	if now.Sub(c.youngAt) > c.ttl || now.Before(c.youngAt) || c.young.len() >= c.max {
		c.rotate(now)
	}
	if now.After(c.youngLast) {
		c.youngLast = now
	}
	e = &answerEntry{at: now, hash: h}
	c.pending[k] = e
	return e, true
}

// rotate makes the young generation the old one and starts a new young
// one, in the dropped old generation's memory when there is one.
func (c *answerCache) rotate(now time.Time) {
	next := c.old
	if next == nil {
		next, c.spare = c.spare, nil
	}
	if next == nil {
		next = newAnswerGen()
	}
	next.reset()
	c.old, c.young, c.youngAt = c.young, next, now
	c.oldLast = c.youngLast
}

// finish stores e's answer b under k (copied: the caller may reuse b) and
// ends e's deciding.
func (c *answerCache) finish(k txKey, e *answerEntry, b []byte) {
	c.mu.Lock()
	if c.pending[k] == e {
		delete(c.pending, k)
	}
	c.young.put(e.hash, &k, e.at, b)
	c.mu.Unlock()
	e.mu.Lock()
	e.cancelFn = nil
	e.mu.Unlock()
}

// expire drops the generations whose every answer is past its lifetime,
// which no INVITE does when none comes. Called every quarter lifetime, an
// idle front holds no answer 1.25 lifetimes after its last INVITE, and no
// memory for answers either.
func (c *answerCache) expire(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.youngLast) > c.ttl && c.young.len()+c.old.len() > 0 {
		c.old, c.spare, c.young, c.youngAt = nil, nil, newAnswerGen(), now
		return
	}
	if now.Sub(c.oldLast) > c.ttl && c.old != nil {
		// Kept for reuse only while INVITEs come: the young generation
		// will need it at its next swap.
		c.spare, c.old = c.old, nil
		c.spare.reset()
	}
}

// stored counts the answers held (tests).
func (c *answerCache) stored() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.young.len() + c.old.len()
}

// cancel marks the INVITE of k cancelled when it is still deciding. It
// reports whether the INVITE is known (then the CANCEL gets 200).
func (c *answerCache) cancel(k txKey) bool {
	h := c.hash(&k)
	c.mu.Lock()
	e, deciding := c.pending[k]
	known := deciding || c.young.has(h, &k) || c.old.has(h, &k)
	c.mu.Unlock()
	if !deciding {
		return known
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

// answerGen is one generation of answers: records appended to chunks of
// bytes, found through a map from the key's hash to the record's place.
// Neither the map nor the chunks' contents hold pointers, so the garbage
// collector does not look inside. A record is
//
//	at (8 bytes, Unix ns) | key length (2) | answer length (4) | key | answer
//
// and the key is compared on every hit, so a hash collision is a miss
// (the INVITE is decided again), never another call's answer.
type answerGen struct {
	index  map[uint64]uint64 // hash -> chunk<<32 | offset
	chunks [][]byte
	cur    int // the chunk being filled
	n      int
}

// answerChunk is the size of a store chunk: a few hundred answers.
const answerChunk = 256 << 10

const recordHead = 8 + 2 + 4

func newAnswerGen() *answerGen { return &answerGen{index: map[uint64]uint64{}} }

func (g *answerGen) len() int {
	if g == nil {
		return 0
	}
	return g.n
}

// reset empties g, keeping its map's and chunks' memory.
func (g *answerGen) reset() {
	clear(g.index)
	for i := range g.chunks {
		g.chunks[i] = g.chunks[i][:0]
	}
	g.cur, g.n = 0, 0
}

func keyLen(k *txKey) int { return len(k.callID) + 1 + len(k.branch) + 1 }

func (g *answerGen) put(h uint64, k *txKey, at time.Time, answer []byte) {
	kl := keyLen(k)
	if kl > 0xffff {
		return // a key this long is no SIP transaction worth remembering
	}
	size := recordHead + kl + len(answer)
	for g.cur < len(g.chunks) && cap(g.chunks[g.cur])-len(g.chunks[g.cur]) < size {
		g.cur++
	}
	if g.cur == len(g.chunks) {
		g.chunks = append(g.chunks, make([]byte, 0, max(answerChunk, size)))
	}
	ci := g.cur
	c := g.chunks[ci]
	off := len(c)
	c = binary.LittleEndian.AppendUint64(c, uint64(at.UnixNano()))
	c = binary.LittleEndian.AppendUint16(c, uint16(kl))
	c = binary.LittleEndian.AppendUint32(c, uint32(len(answer)))
	c = append(c, k.callID...)
	c = append(c, 0)
	c = append(c, k.branch...)
	if k.monitor {
		c = append(c, 1)
	} else {
		c = append(c, 0)
	}
	c = append(c, answer...)
	g.chunks[ci] = c
	if _, dup := g.index[h]; !dup {
		g.n++
	}
	g.index[h] = uint64(ci)<<32 | uint64(off)
}

// record returns the record of k, nil when g does not hold k.
func (g *answerGen) record(h uint64, k *txKey) []byte {
	if g == nil {
		return nil
	}
	pos, ok := g.index[h]
	if !ok {
		return nil
	}
	c := g.chunks[pos>>32]
	r := c[uint32(pos):]
	kl := int(binary.LittleEndian.Uint16(r[8:]))
	key := r[recordHead : recordHead+kl]
	if kl != keyLen(k) || string(key[:len(k.callID)]) != k.callID || key[len(k.callID)] != 0 ||
		string(key[len(k.callID)+1:kl-1]) != k.branch || (key[kl-1] == 1) != k.monitor {
		return nil
	}
	return r
}

func (g *answerGen) has(h uint64, k *txKey) bool { return g.record(h, k) != nil }

// get returns k's answer time and a copy of its answer (the chunk is
// reused once the generation is dropped).
func (g *answerGen) get(h uint64, k *txKey) (time.Time, []byte, bool) {
	r := g.record(h, k)
	if r == nil {
		return time.Time{}, nil, false
	}
	at := time.Unix(0, int64(binary.LittleEndian.Uint64(r)))
	kl := int(binary.LittleEndian.Uint16(r[8:]))
	n := int(binary.LittleEndian.Uint32(r[10:]))
	start := recordHead + kl
	return at, append([]byte(nil), r[start:start+n]...), true
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

package sipfront

import (
	"net"
	"runtime"
	"sync"

	"golang.org/x/net/ipv4"
)

// udpSender writes the answers of one UDP socket, several a system call
// (sendmmsg). Under load the answers of one Redis pipeline's decisions are
// ready together: the first to send opens a group and yields once, the
// others copy their answer into it and return, and the opener writes them
// all. sendto was the largest single cost of a decision on one core (14 %
// of the gateway's CPU at 6,000 calls/s); alone, an answer leaves at once.
type udpSender struct {
	pc      *ipv4.PacketConn
	onError func(error) // a datagram the kernel refused

	mu    sync.Mutex
	group *sendGroup
	pool  sync.Pool // *sendGroup
}

// sendGroup is the answers waiting for one sendmmsg: their bytes one after
// the other in buf, each one's end and destination.
type sendGroup struct {
	buf   []byte
	ends  []int
	addrs []net.Addr
	bufs  [][1][]byte
	msgs  []ipv4.Message
}

func newUDPSender(c *net.UDPConn, onError func(error)) *udpSender {
	return &udpSender{pc: ipv4.NewPacketConn(c), onError: onError}
}

// send queues b (copied: the caller may reuse it on return) for to.
func (u *udpSender) send(b []byte, to net.Addr) {
	u.mu.Lock()
	g, opener := u.group, false
	if g == nil {
		g, _ = u.pool.Get().(*sendGroup)
		if g == nil {
			g = &sendGroup{}
		}
		u.group, opener = g, true
	}
	g.buf = append(g.buf, b...)
	g.ends = append(g.ends, len(g.buf))
	g.addrs = append(g.addrs, to)
	u.mu.Unlock()
	if !opener {
		return
	}
	// Let the decisions ready to run add their answers first.
	runtime.Gosched()
	u.mu.Lock()
	u.group = nil
	u.mu.Unlock()
	u.write(g)
	g.buf, g.ends = g.buf[:0], g.ends[:0]
	clear(g.addrs)
	g.addrs = g.addrs[:0]
	if cap(g.buf) <= 256<<10 {
		u.pool.Put(g)
	}
}

// write sends g's answers; a datagram the kernel refuses is reported and
// skipped, the others still go.
func (u *udpSender) write(g *sendGroup) {
	g.msgs, g.bufs = g.msgs[:0], g.bufs[:0]
	start := 0
	for _, end := range g.ends {
		g.bufs = append(g.bufs, [1][]byte{g.buf[start:end]})
		start = end
	}
	// Each message's Buffers is a slice of its element of bufs, taken
	// once bufs has stopped growing.
	for i := range g.bufs {
		g.msgs = append(g.msgs, ipv4.Message{Buffers: g.bufs[i][:], Addr: g.addrs[i]})
	}
	msgs := g.msgs
	for len(msgs) > 0 {
		n, err := u.pc.WriteBatch(msgs, 0)
		if err != nil && n <= 0 {
			// The first datagram failed: report it and go on after it.
			u.onError(err)
			n = 1
		}
		msgs = msgs[n:]
	}
	for i := range g.msgs {
		g.msgs[i] = ipv4.Message{}
	}
}

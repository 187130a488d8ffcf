package sipfront

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// Answers sent together go in one batch; one the kernel refuses (here an
// IPv6 destination on an IPv4 socket) is reported once, and the answers
// after it in the same batch still arrive, each to its own peer.
func TestUDPSenderSkipsARefusedDatagram(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var peers [2]*net.UDPConn
	for i := range peers {
		if peers[i], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			t.Fatal(err)
		}
		defer peers[i].Close()
	}
	var refused atomic.Int64
	u := newUDPSender(c, func(error) { refused.Add(1) })
	g := &sendGroup{}
	for _, m := range []struct {
		text string
		to   net.Addr
	}{
		{"first", peers[0].LocalAddr()},
		{"refused", &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5060}},
		{"second", peers[1].LocalAddr()},
	} {
		g.buf = append(g.buf, m.text...)
		g.ends = append(g.ends, len(g.buf))
		g.addrs = append(g.addrs, m.to)
	}
	u.write(g)
	if n := refused.Load(); n != 1 {
		t.Errorf("%d datagrams reported refused, want 1", n)
	}
	for i, want := range []string{"first", "second"} {
		buf := make([]byte, 64)
		peers[i].SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := peers[i].ReadFrom(buf)
		if err != nil || string(buf[:n]) != want {
			t.Errorf("peer %d got %q (%v), want %q", i, buf[:n], err, want)
		}
	}
}

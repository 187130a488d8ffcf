package sipfront_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/voipshield/tfps/sipfront"
)

// Datagrams waiting in the socket are read several at a time: a burst
// from 40 peers, with keep-alives and garbage among the INVITEs, queued
// before the front starts reading, gets every INVITE answered once, to the
// peer that sent it, with its own Call-ID; the garbage and keep-alives get
// nothing and take nothing from their neighbours.
func TestBurstOfDatagramsAnsweredEachToItsSender(t *testing.T) {
	front, err := sipfront.New(approveAll{}, sipfront.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, ContactHost: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	uc, err := sipfront.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { front.Close(context.Background()) })
	const peers = 40
	clients := make([]*udpClient, peers)
	for i := range clients {
		clients[i] = dialUDP(t, "127.0.0.1", uc.LocalAddr().String())
		c := clients[i]
		id := fmt.Sprintf("burst-%d", i)
		switch i % 4 {
		case 1:
			c.send([]byte("\r\n\r\n"))
		case 3:
			c.send([]byte("\x00\xffnot sip at all\r\n\r\n"))
		}
		c.send(invite(c.conn.LocalAddr().String(), id, "z9hG4bK-"+id, "+12125550100", ""))
	}
	go front.ServeUDP(uc)
	for i, c := range clients {
		id := fmt.Sprintf("burst-%d", i)
		got := c.recv(5 * time.Second)
		if got == nil {
			t.Errorf("peer %d: no answer", i)
			continue
		}
		if !bytes.HasPrefix(got, []byte("SIP/2.0 302")) || !bytes.Contains(got, []byte("Call-ID: "+id+"\r\n")) {
			t.Errorf("peer %d got %q, want the 302 of %s", i, statusOf(got), id)
		}
		if extra := c.recv(20 * time.Millisecond); extra != nil {
			t.Errorf("peer %d got a second datagram: %q", i, statusOf(extra))
		}
	}
}

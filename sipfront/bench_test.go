package sipfront_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/sipfront"
)

// approveAll decides without any work: the benchmark measures the front.
type approveAll struct{}

func (approveAll) Decide(context.Context, engine.Call) (engine.Decision, error) {
	return engine.Decision{Result: engine.Approve, Code: engine.A00}, nil
}

// BenchmarkFrontUDP: INVITE -> 302 round trips over loopback UDP through
// the front with a decider that does nothing, 32 calls in flight. It prints
// the front's own cost (parse, pre-admission, answer cache, goroutine,
// response) plus the kernel's UDP work on both ends; compare with
// scripts/load-sip.sh, where the engine's Redis round trip is added.
func BenchmarkFrontUDP(b *testing.B) {
	front, err := sipfront.New(approveAll{}, sipfront.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, ContactHost: "192.0.2.1"})
	if err != nil {
		b.Fatal(err)
	}
	uc, err := sipfront.ListenUDP("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go front.ServeUDP(uc)
	b.Cleanup(func() { front.Close(context.Background()) })
	to := uc.LocalAddr().(*net.UDPAddr)
	var seq atomic.Int64
	b.SetParallelism(16) // 16 x GOMAXPROCS clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		local := c.LocalAddr().String()
		buf := make([]byte, 4096)
		for pb.Next() {
			n := seq.Add(1)
			id := fmt.Sprintf("bench-%d", n)
			c.WriteTo(invite(local, id, "z9hG4bK-"+id, "+12125550100", ""), to)
			for {
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				m, _, err := c.ReadFrom(buf)
				if err != nil {
					b.Errorf("no answer to %s: %v", id, err)
					return
				}
				if bytes.Contains(buf[:m], []byte("Call-ID: "+id+"\r\n")) {
					break
				}
			}
		}
	})
}

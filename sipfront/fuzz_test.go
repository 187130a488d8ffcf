package sipfront_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/sipfront"
)

// packetConn is an in-memory UDP socket for the front: ReadFrom hands out
// the queued datagrams from one source, then reports when the front asks
// for the next one (it has handled the last inline) and blocks until Close.
type packetConn struct {
	in      chan []byte
	waiting chan struct{} // the front came back for more
	closed  chan struct{}
	once    sync.Once
	mu      sync.Mutex
	out     [][]byte
}

var fuzzSource = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}

func newPacketConn() *packetConn {
	return &packetConn{in: make(chan []byte, 1), waiting: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (c *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(b, d), fuzzSource, nil
	default:
	}
	select {
	case c.waiting <- struct{}{}:
	default:
	}
	select {
	case d := <-c.in:
		return copy(b, d), fuzzSource, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *packetConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, bytes.Clone(b))
	return len(b), nil
}

func (c *packetConn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }
func (c *packetConn) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5070}
}
func (c *packetConn) SetDeadline(time.Time) error      { return nil }
func (c *packetConn) SetReadDeadline(time.Time) error  { return nil }
func (c *packetConn) SetWriteDeadline(time.Time) error { return nil }

// statusLineRE is a response's status line (RFC 3261 7.2).
var statusLineRE = regexp.MustCompile(`^SIP/2\.0 ([1-6][0-9][0-9]) [^\r\n]*\r\n`)

// rejecter refuses every call: in 503 mode a 503 is then never a correct
// answer (it would read as approved), whatever the datagram.
type rejecter struct{}

func (rejecter) Decide(_ context.Context, c engine.Call) (engine.Decision, error) {
	if strings.HasSuffix(c.Number, "999") {
		return engine.Decision{}, context.DeadlineExceeded // the engine failed
	}
	return engine.Decision{Result: engine.Reject, Code: engine.R01, Reason: "fuzz"}, nil
}

// FuzzDatagram feeds one datagram to the whole SIP front (parser, checks,
// answer, retransmission cache) in 503 mode with an engine that rejects
// every call or fails, and checks what a PBX would notice: no panic, every
// answer a SIP response (status line, header end), and never a 503 (an
// approval in failover mode). Malformed input is dropped or answered 4xx (RFC 3261
// 8.2, 21.4). Seeds: the .sip files in testdata, and testdata/fuzz.
//
//	go test ./sipfront -run '^$' -fuzz FuzzDatagram -fuzztime 10m
func FuzzDatagram(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.sip"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		string(invite("127.0.0.1:5060", "fz-1", "z9hG4bK-f1", "+12125550100", "")),
		string(invite("127.0.0.1:5060", "fz-2", "z9hG4bK-f2", "+12125550999", "")),
		strings.Replace(string(invite("127.0.0.1:5060", "fz-3", "z9hG4bK-f3", "+12125550100", "")), "INVITE sip:", "OPTIONS sip:", 1),
		strings.Replace(string(invite("127.0.0.1:5060", "fz-4", "z9hG4bK-f4", "+12125550100", "")), "INVITE sip:", "CANCEL sip:", 1),
		string(invite("127.0.0.1:5060", "fz-5", "z9hG4bK-f5", "A00+1212", "")),
		string(invite("127.0.0.1:5060", "fz-6", "z9hG4bK-f6", "+1212';DROP", "Max-Forwards: 0\r\n")),
		"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		"\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range frontAnswers(t, data) {
			m := statusLineRE.FindSubmatch(b)
			if m == nil || !bytes.Contains(b, []byte("\r\n\r\n")) {
				t.Fatalf("answer is not a SIP response:\n%q\nto %q", b, data)
			}
			if string(m[1]) == "503" {
				t.Fatalf("answer %q to %q", m[0], data)
			}
			if _, err := sip.ParseMessage(b); err != nil {
				t.Fatalf("answer does not parse (%v):\n%q\nto %q", err, b, data)
			}
		}
	})
}

// frontAnswers runs a fresh front on one datagram and returns what it sent
// once every decision it started has finished.
func frontAnswers(t *testing.T, data []byte) [][]byte {
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	s, err := sipfront.New(rejecter{}, sipfront.Options{Method: 503, Allow: allow, DecideTimeout: time.Second, AnswerTTL: time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c := newPacketConn()
	done := make(chan error, 1)
	go func() { done <- s.ServeUDP(c) }()
	c.in <- data
	<-c.waiting // handled inline; a decision may still run
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out
}

// The fuzz harness sees the front's answers: a rejected call gets 603, a
// failed decision the error status, OPTIONS 200, garbage nothing.
func TestFuzzHarnessSeesAnswers(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{string(invite("127.0.0.1:5060", "h-1", "z9hG4bK-h1", "+12125550100", "")), "SIP/2.0 603"},
		{string(invite("127.0.0.1:5060", "h-2", "z9hG4bK-h2", "+12125550999", "")), "SIP/2.0 500"},
		{strings.Replace(string(invite("127.0.0.1:5060", "h-3", "z9hG4bK-h3", "+1", "")), "INVITE sip:", "OPTIONS sip:", 1), "SIP/2.0 200"},
		{"\x00garbage", ""},
		// An empty method is a malformed request (400), not an unknown
		// method (405).
		{" sip:1@h SIP/2.0\r\nV: SIP/2.0/UDP h;branch=z9hG4bK1\r\nF: <sip:a@h>;tag=1\r\nT: <sip:1@h>\r\nCall-ID: e-1\r\nCSeq: 1 INVITE\r\n\r\n", "SIP/2.0 400"},
		// A From that would not read back as sent gets no answer at all.
		{"INVITE sip:1@h SIP/2.0\r\nV: SIP/2.0/UDP h;branch=z9hG4bK1\r\nF:A:>\r\nT: <sip:1@h>\r\nCall-ID: e-2\r\nCSeq: 1 INVITE\r\n\r\n", ""},
		// A tel URI reads back as sent and is answered.
		{strings.Replace(string(invite("127.0.0.1:5060", "h-4", "z9hG4bK-h4", "+12125550100", "")), "From: <sip:100@pbx.example.com>", "From: <tel:+12125550100>", 1), "SIP/2.0 603"},
	} {
		var got []string
		for _, b := range frontAnswers(t, []byte(c.in)) {
			got = append(got, statusOf(b))
		}
		last := ""
		if len(got) > 0 {
			last = got[len(got)-1]
		}
		if !strings.HasPrefix(last, c.want) || (c.want == "") != (len(got) == 0) {
			t.Errorf("%.40q: answers %q, want a final %q", c.in, got, c.want)
		}
	}
}

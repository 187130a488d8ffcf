package sipfront_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/voipshield/tfps/sipfront"
)

// emfileListener fails its first accepts as a process out of file
// descriptors does, then accepts for real.
type emfileListener struct {
	net.Listener
	fail atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.fail.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// tcpInvite sends an INVITE on c and returns the status line of the answer
// (empty when the connection closed or stayed silent).
func tcpInvite(t *testing.T, c net.Conn, callID string) string {
	t.Helper()
	local := c.LocalAddr().String()
	inv := strings.Replace(string(invite(local, callID, "z9hG4bK-"+callID, "+12125550100", "")), "SIP/2.0/UDP", "SIP/2.0/TCP", 1)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(inv)); err != nil {
		return ""
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimSpace(line)
}

func dialFrom(t *testing.T, from, to string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Running out of file descriptors stops accepting only for a moment: the
// listener backs off and the next connection is served.
func TestTCPAcceptSurvivesEMFILE(t *testing.T) {
	r := newRig(t, sipfront.Options{Method: 302})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	el := &emfileListener{Listener: ln}
	el.fail.Store(5)
	go r.front.ServeTCP(el)
	c := dialFrom(t, "127.0.0.1", ln.Addr().String())
	if got := tcpInvite(t, c, "emfile-1"); !strings.HasPrefix(got, "SIP/2.0 302") {
		t.Fatalf("INVITE after EMFILE answered %q, want 302", got)
	}
	if got := counterValue(t, r.reg, "tfps_sip_tcp_accept_errors_total"); got != 5 {
		t.Errorf("accept errors counted %v, want 5", got)
	}
}

// Connections over the per-source cap or the total cap are closed at once;
// those within both are served, and another source still gets in.
func TestTCPConnectionCaps(t *testing.T) {
	r := newRig(t, sipfront.Options{Method: 302, TCPMaxConns: 3, TCPMaxPerSource: 2,
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, TrustHeaders: []netip.Prefix{}})
	a1 := dialFrom(t, "127.0.0.1", r.tcp)
	a2 := dialFrom(t, "127.0.0.1", r.tcp)
	if got := tcpInvite(t, a1, "cap-a1"); !strings.HasPrefix(got, "SIP/2.0 302") {
		t.Fatalf("first connection answered %q", got)
	}
	if got := tcpInvite(t, a2, "cap-a2"); !strings.HasPrefix(got, "SIP/2.0 302") {
		t.Fatalf("second connection answered %q", got)
	}
	a3 := dialFrom(t, "127.0.0.1", r.tcp)
	if got := tcpInvite(t, a3, "cap-a3"); got != "" {
		t.Errorf("third connection of one source answered %q, want closed", got)
	}
	b1 := dialFrom(t, "127.0.0.2", r.tcp)
	if got := tcpInvite(t, b1, "cap-b1"); !strings.HasPrefix(got, "SIP/2.0 302") {
		t.Fatalf("another source answered %q", got)
	}
	b2 := dialFrom(t, "127.0.0.2", r.tcp)
	if got := tcpInvite(t, b2, "cap-b2"); got != "" {
		t.Errorf("fourth connection in all answered %q, want closed (total cap 3)", got)
	}
	if got := counterValue(t, r.reg, "tfps_sip_tcp_refused_total"); got != 2 {
		t.Errorf("refused connections %v, want 2", got)
	}
	// A closed connection frees its place.
	a1.Close()
	served := false
	for try := 0; try < 50 && !served; try++ { // until the server has seen the close
		a4 := dialFrom(t, "127.0.0.1", r.tcp)
		served = strings.HasPrefix(tcpInvite(t, a4, fmt.Sprintf("cap-a4-%d", try)), "SIP/2.0 302")
		a4.Close()
	}
	if !served {
		t.Error("no connection served after one of the source's closed")
	}
}

// A connection that drips the bytes of a message that never ends is closed
// after TCPIdle, however often a byte comes.
func TestTCPDripIsClosedWhenIdle(t *testing.T) {
	r := newRig(t, sipfront.Options{Method: 302, TCPIdle: 300 * time.Millisecond})
	c := dialFrom(t, "127.0.0.1", r.tcp)
	msg := []byte("INVITE sip:+12125550100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-drip\r\n")
	start := time.Now()
	var closedAfter time.Duration
	for i := 0; i < 40; i++ { // 40 bytes, one each 100 ms: 4 s
		if _, err := c.Write(msg[i : i+1]); err != nil {
			closedAfter = time.Since(start)
			break
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			closedAfter = time.Since(start)
			break
		}
	}
	if closedAfter == 0 {
		t.Fatalf("a connection dripping one byte each 100 ms was still open after %v (idle 300ms)", time.Since(start))
	}
	t.Logf("FIGURES tcp drip: closed after %v (idle 300ms)", closedAfter)
	// A keep-alive CRLF then a full message on a fresh connection is served.
	k := dialFrom(t, "127.0.0.1", r.tcp)
	k.Write([]byte("\r\n\r\n"))
	if got := tcpInvite(t, k, "drip-ok"); !bytes.HasPrefix([]byte(got), []byte("SIP/2.0 302")) {
		t.Errorf("INVITE after keep-alive answered %q", got)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

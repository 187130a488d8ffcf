package sipfront_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/sipfront"
)

// udpClient is a raw SIP client on loopback for what sipp can not script:
// exact retransmissions, garbage, silence.
type udpClient struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
}

func dialUDP(t *testing.T, from, to string) *udpClient {
	t.Helper()
	la, _ := net.ResolveUDPAddr("udp", from+":0")
	ra, _ := net.ResolveUDPAddr("udp", to)
	c, err := net.ListenUDP("udp", la)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpClient{t: t, conn: c, to: ra}
}

func (u *udpClient) send(b []byte) {
	u.t.Helper()
	if _, err := u.conn.WriteTo(b, u.to); err != nil {
		u.t.Fatal(err)
	}
}

// recv returns the next datagram, or nil after wait.
func (u *udpClient) recv(wait time.Duration) []byte {
	u.conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65536)
	n, _, err := u.conn.ReadFrom(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func invite(local, callID, branch, number, extra string) []byte {
	return []byte("INVITE sip:" + number + "@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=" + branch + ";rport\r\n" +
		"From: <sip:100@pbx.example.com>;tag=ft-" + callID + "\r\n" +
		"To: <sip:" + number + "@127.0.0.1>\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Max-Forwards: 70\r\n" +
		"P-tfps: alice;pbx.example.com;127.0.0.1;Yealink;1\r\n" + extra +
		"Content-Length: 0\r\n\r\n")
}

func statusOf(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	return string(line)
}

func TestRetransmissionGetsSameAnswerAndCountsOnce(t *testing.T) {
	r := newRig(t, sipfront.Options{Method: 302})
	u := dialUDP(t, "127.0.0.1", r.udp)
	local := u.conn.LocalAddr().String()
	inv := invite(local, "retx-1", "z9hG4bK-retx-1", "+12125550100", "")
	u.send(inv)
	first := u.recv(3 * time.Second)
	if !bytes.HasPrefix(first, []byte("SIP/2.0 302")) {
		t.Fatalf("first answer %q", first)
	}
	u.send(inv)
	second := u.recv(3 * time.Second)
	if !bytes.Equal(first, second) {
		t.Errorf("retransmission answered differently:\n%s\n---\n%s", first, second)
	}
	// ACK is swallowed: nothing comes back.
	u.send([]byte(strings.Replace(strings.Replace(string(inv), "INVITE sip", "ACK sip", 1), "CSeq: 1 INVITE", "CSeq: 1 ACK", 1)))
	if b := u.recv(300 * time.Millisecond); b != nil {
		t.Errorf("ACK answered: %q", statusOf(b))
	}
	// A new transaction of the same call (PBX retry) is replayed, not counted.
	u.send(invite(local, "retx-1", "z9hG4bK-retx-2", "+12125550100", ""))
	if b := u.recv(3 * time.Second); !bytes.Contains(b, []byte("A00+12125550100")) {
		t.Fatalf("retry answer %q", b)
	}
	n, err := r.st.DailyCount(context.Background(), "alice", "pbx.example.com", time.Now().UTC().Format("2006-01-02"), false)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("daily count after one call, its retransmission and its retry = %d, want 1", n)
	}
	if got := counterValue(t, r.reg, "tfps_sip_retransmissions_total"); got != 1 {
		t.Errorf("retransmissions counted %v, want 1", got)
	}
}

func TestCancelWhileDecidingAnswers487(t *testing.T) {
	d := &blockingDecider{started: make(chan struct{}, 1)}
	front, err := sipfront.New(d, sipfront.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, DecideTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	uc, err := sipfront.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go front.ServeUDP(uc)
	t.Cleanup(func() { front.Close(context.Background()) })
	u := dialUDP(t, "127.0.0.1", uc.LocalAddr().String())
	local := u.conn.LocalAddr().String()
	inv := invite(local, "cancel-1", "z9hG4bK-c1", "+12125550100", "")
	u.send(inv)
	<-d.started
	cancel := strings.Replace(strings.Replace(string(inv), "INVITE sip", "CANCEL sip", 1), "CSeq: 1 INVITE", "CSeq: 1 CANCEL", 1)
	u.send([]byte(cancel))
	got := map[string]bool{}
	for range 2 {
		b := u.recv(3 * time.Second)
		if b == nil {
			t.Fatalf("missing answers, got %v", got)
		}
		cseq := "INVITE"
		if bytes.Contains(b, []byte("CSeq: 1 CANCEL")) {
			cseq = "CANCEL"
		}
		got[cseq+" "+statusOf(b)] = true
	}
	if !got["CANCEL SIP/2.0 200 OK"] || !got["INVITE SIP/2.0 487 Request Terminated"] {
		t.Errorf("answers %v, want CANCEL 200 and INVITE 487", got)
	}
	// Exactly one final answer: the retransmitted INVITE gets the 487 again,
	// a CANCEL of an unknown transaction 481.
	u.send(inv)
	if b := u.recv(3 * time.Second); statusOf(b) != "SIP/2.0 487 Request Terminated" {
		t.Errorf("retransmitted INVITE after CANCEL: %q", statusOf(b))
	}
	u.send([]byte(strings.Replace(cancel, "z9hG4bK-c1", "z9hG4bK-other", 1)))
	if b := u.recv(3 * time.Second); statusOf(b) != "SIP/2.0 481 Call/Transaction Does Not Exist" {
		t.Errorf("CANCEL of unknown INVITE: %q", statusOf(b))
	}
}

func TestDisallowedSource(t *testing.T) {
	only1 := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	t.Run("403", func(t *testing.T) {
		r := newRig(t, sipfront.Options{Allow: only1})
		r.sipp(t, call{Number: "+12125550100", FromUser: "alice", Source: "127.0.0.2", Status: 403})
		r.sipp(t, call{Method: "OPTIONS", Number: "ping", FromUser: "alice", Source: "127.0.0.2", Status: 403})
		// INVITE, its ACK and OPTIONS: every message is counted.
		if got := counterValue(t, r.reg, "tfps_sip_denied_total", "403"); got != 3 {
			t.Errorf("denied{403} = %v, want 3", got)
		}
	})
	t.Run("drop", func(t *testing.T) {
		r := newRig(t, sipfront.Options{Allow: only1, DenyDrop: true})
		u := dialUDP(t, "127.0.0.2", r.udp)
		u.send(invite(u.conn.LocalAddr().String(), "deny-1", "z9hG4bK-d1", "+12125550100", ""))
		if b := u.recv(500 * time.Millisecond); b != nil {
			t.Errorf("denied source answered: %q", statusOf(b))
		}
		if got := counterValue(t, r.reg, "tfps_sip_denied_total", "drop"); got != 1 {
			t.Errorf("denied{drop} = %v, want 1", got)
		}
		// The allowed address is still served.
		r.sipp(t, call{Number: "+12125550100", FromUser: "alice", Status: 302})
	})
}

func TestGarbageThenNormalCall(t *testing.T) {
	r := newRig(t, sipfront.Options{Method: 302})
	u := dialUDP(t, "127.0.0.1", r.udp)
	local := u.conn.LocalAddr().String()
	garbage := [][]byte{
		[]byte("\x00\x01\x02\xff garbage"),
		[]byte("INVITE\r\n\r\n"),
		[]byte("INVITE sip:+1@127.0.0.1 SIP/2.0\r\nVia: nonsense\r\n\r\n"),
		[]byte("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
		bytes.Repeat([]byte("A"), 60000),
		invite(local, "huge-1", "z9hG4bK-h1", "+12125550100", "X-Huge: "+strings.Repeat("x", 50000)+"\r\n"),
		[]byte("INVITE sip:+12125550100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bK-nocallid\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"),
	}
	dir, _ := os.ReadDir("testdata")
	for _, f := range dir {
		if strings.HasSuffix(f.Name(), ".sip") {
			b, err := os.ReadFile(filepath.Join("testdata", f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			garbage = append(garbage, b)
		}
	}
	for _, g := range garbage {
		u.send(g)
	}
	// Whatever came back for the garbage, the front still serves a normal call.
	logged := r.sipp(t, call{Number: "+12125550108", FromUser: "100", Headers: []string{"P-tfps: alice;pbx.example.com;127.0.0.1;Yealink;1"}, Status: 302})
	if user, _ := contactOf(t, logged); user != "A00+12125550108" {
		t.Errorf("call after garbage: Contact user %s", user)
	}
	if got := counterValue(t, r.reg, "tfps_sip_parse_errors_total"); got < 3 {
		t.Errorf("parse errors counted %v, want at least 3", got)
	}
}

type blockingDecider struct{ started chan struct{} }

func (b *blockingDecider) Decide(ctx context.Context, _ engine.Call) (engine.Decision, error) {
	b.started <- struct{}{}
	<-ctx.Done()
	return engine.Decision{}, ctx.Err()
}

// A call the engine can not decide never gets 503, which would read as
// approved in failover mode: it gets TFPS_SIP_ERROR_CODE.
func TestUndecidableCallIsNever503(t *testing.T) {
	for _, status := range []int{0, 603} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			r := newRig(t, sipfront.Options{Method: 503, ErrorStatus: status})
			u := dialUDP(t, "127.0.0.1", r.udp)
			long := strings.Repeat("9", 300) // the engine refuses fields over 256 characters
			u.send(invite(u.conn.LocalAddr().String(), "undecidable-"+fmt.Sprint(status), "z9hG4bK-u", long, ""))
			want := "SIP/2.0 500 Server Internal Error" // default; reason says why below
			if status == 603 {
				want = "SIP/2.0 603 Decision Unavailable"
			}
			b := u.recv(3 * time.Second)
			if got := statusOf(b); !strings.HasPrefix(got, want[:11]) {
				t.Fatalf("answer %q, want %s", got, want[:11])
			}
			if !bytes.Contains(b, []byte("Invalid Call")) {
				t.Errorf("answer %q does not say the call was invalid", statusOf(b))
			}
		})
	}
}

// Garbage on a TCP connection closes that connection (a stream can not
// resynchronise); other connections and calls go on.
func TestTCPGarbageClosesOnlyThatConnection(t *testing.T) {
	r := newRig(t, sipfront.Options{Method: 302})
	c, err := net.Dial("tcp", r.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("\x16\x03\x01\x02\x00 this is TLS or noise\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 100)); err == nil {
		t.Error("garbage TCP connection got an answer instead of being closed")
	}
	r.sipp(t, call{Number: "+12125550109", FromUser: "alice", Status: 302, Transport: "t1"})
	if got := counterValue(t, r.reg, "tfps_sip_parse_errors_total", "tcp"); got != 1 {
		t.Errorf("tcp parse errors %v, want 1", got)
	}
}

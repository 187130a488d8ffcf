package sipfront_test

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps/sipfront"
)

// An INVITE carrying P-tfps twice (a proxy added its own without removing
// the caller's) is answered as an invalid call, with TFPS_SIP_ERROR_CODE,
// instead of being decided as whichever account the first header names.
func TestRepeatedPtfpsIsInvalidCall(t *testing.T) {
	for _, status := range []int{500, 603} {
		r := newRig(t, sipfront.Options{Method: 302, ErrorStatus: status})
		u := dialUDP(t, "127.0.0.1", r.udp)
		u.send(invite(u.conn.LocalAddr().String(), "twice-1", "z9hG4bK-twice-1", "+12125550100", "P-tfps: bob;pbx.example.com;127.0.0.1;Yealink;1\r\n"))
		b := u.recv(3 * time.Second)
		if got := statusOf(b); !strings.HasSuffix(got, " Invalid Call") || !strings.HasPrefix(got, "SIP/2.0 "+strconv.Itoa(status)) {
			t.Errorf("INVITE with two P-tfps answered %q, want SIP/2.0 %d Invalid Call", got, status)
		}
		if got := counterValue(t, r.reg, "tfps_sip_identity_refused_total", "repeated"); got != 1 {
			t.Errorf("identity_refused{repeated} = %v, want 1", got)
		}
	}
}

// Identity headers from a source outside TFPS_SIP_TRUST_HEADERS_FROM are
// ignored: the call is decided on its From and the packet's source.
func TestUntrustedSourceIdentityIgnored(t *testing.T) {
	r := newRig(t, sipfront.Options{Method: 302, IVRAddress: "127.0.0.1:5080", TrustHeaders: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	// From 127.0.0.2 (allowed, not trusted): P-tfps names alice, From is 100.
	logged := r.sipp(t, call{Number: "+12125550100", FromUser: "100", Source: "127.0.0.2", Status: 302,
		Headers: []string{"P-tfps: alice;pbx.example.com;10.0.0.1;Yealink;1"}})
	user, _ := contactOf(t, logged)
	if !strings.HasPrefix(user, "V") {
		t.Fatalf("untrusted source answered %s, want a verify redirect for the unknown From user 100", user)
	}
	tk, err := r.st.ClaimTicket(context.Background(), strings.TrimPrefix(user, "V"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if tk.User != "100" || tk.SourceIP != "127.0.0.2" {
		t.Errorf("decided as %s from %s, want 100 from 127.0.0.2", tk.User, tk.SourceIP)
	}
	if got := counterValue(t, r.reg, "tfps_sip_identity_refused_total", "untrusted"); got != 1 {
		t.Errorf("identity_refused{untrusted} = %v, want 1", got)
	}
	// The trusted proxy's header is still believed.
	logged = r.sipp(t, call{Number: "+12125550100", FromUser: "100", Status: 302,
		Headers: []string{"P-tfps: alice;pbx.example.com;127.0.0.1;Yealink;1"}})
	if user, _ := contactOf(t, logged); user != "A00+12125550100" {
		t.Errorf("trusted source answered %s, want A00+12125550100 (alice)", user)
	}
}

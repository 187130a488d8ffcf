package sipfront_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/sipfront"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// Bytes PostgreSQL refuses (NUL, invalid UTF-8) in SIP-derived fields are
// replaced by U+FFFD at the front and counted, so the decision-log row is
// storable and the call is decided as usual.
func TestInvalidBytesRepairedAtTheEdge(t *testing.T) {
	r := newRig(t, sipfront.Options{Method: 302})
	u := dialUDP(t, "127.0.0.1", r.udp)
	local := u.conn.LocalAddr().String()
	inv := string(invite(local, "bad-bytes-1", "z9hG4bK-bad-1", "+12125550100", ""))
	inv = strings.Replace(inv, "127.0.0.1;Yealink;1", "127.0.0.1;Yea\x00link\xff;1", 1)
	u.send([]byte(inv))
	if b := u.recv(3 * time.Second); !bytes.HasPrefix(b, []byte("SIP/2.0 302")) {
		t.Fatalf("answer %q", statusOf(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rows []tfpsRow
	for ctx.Err() == nil {
		got, err := r.db.Decisions(ctx, store.DecisionFilter{CallID: "bad-bytes-1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 {
			rows = append(rows, tfpsRow{got[0].UserAgent})
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(rows) != 1 {
		t.Fatal("no decision-log row")
	}
	ua := rows[0].userAgent
	if !utf8.ValidString(ua) || strings.IndexByte(ua, 0) >= 0 || ua != "Yea\uFFFDlink\uFFFD" {
		t.Errorf("logged user agent %q, want %q", ua, "Yea\uFFFDlink\uFFFD")
	}
	if got := counterValue(t, r.reg, "tfps_sip_fields_repaired_total", "user_agent"); got != 1 {
		t.Errorf("repaired user_agent fields counted %v, want 1", got)
	}
}

type tfpsRow struct{ userAgent string }

// blackhole is a TCP proxy to Redis that can stop forwarding (a network
// that drops packets without resetting connections).
type blackhole struct {
	ln   net.Listener
	dead atomic.Bool
}

func newBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); u.Close() })
			go b.pipe(c, u)
			go b.pipe(u, c)
		}
	}()
	return b
}

func (b *blackhole) pipe(from, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if err != nil {
			return
		}
		if b.dead.Load() {
			continue // swallowed
		}
		if _, err := to.Write(buf[:n]); err != nil {
			return
		}
	}
}

// With Redis blackholed (its operation timeout far longer than the decide
// timeout) and more INVITEs in flight than TFPS_SIP_MAX_IN_FLIGHT, every
// INVITE gets the error policy's answer (R19) by its decide timeout, and
// OPTIONS is answered meanwhile: the reader never waits.
func TestBlackholedRedisAnswersByDecideTimeout(t *testing.T) {
	const decideTimeout = 300 * time.Millisecond
	ctx := context.Background()
	db := storetest.MustOpen(t, "sqlite")
	if err := db.CreateAccount(ctx, &tfps.Account{User: "alice", Domain: "pbx.example.com", ConcurrentCalls: 5, DailyQuota: 1000,
		SourceCountries: []string{"US"}, DestinationCountries: []string{"US"}}); err != nil {
		t.Fatal(err)
	}
	bh := newBlackhole(t, strings.TrimPrefix(strings.TrimSuffix(statetest.RedisURL(), "/0"), "redis://"))
	rdb := redis.NewClient(&redis.Options{Addr: bh.ln.Addr().String(), MaxRetries: -1, PoolSize: 4})
	t.Cleanup(func() { rdb.Close() })
	prefix := fmt.Sprintf("tfpstest:bh%d:", time.Now().UnixNano())
	st := state.New(rdb, state.Options{Prefix: prefix, Timeout: 5 * time.Second})
	eng, err := engine.New(ctx, engine.Deps{Accounts: db, Lists: db, Changes: db, Log: db,
		Counters: state.NewDecideCounters(st), Reputation: reputation.Local{}}, engine.Options{ErrorPolicy: config.ErrorPolicyReject})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	reg := prometheus.NewRegistry()
	front, err := sipfront.New(eng, sipfront.Options{Method: 302, DecideTimeout: decideTimeout, MaxInFlight: 16,
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Registerer: reg})
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

	// Healthy first: a normal approval.
	u.send(invite(local, "bh-warm", "z9hG4bK-bh-warm", "+12125550100", ""))
	if b := u.recv(3 * time.Second); !bytes.Contains(b, []byte("A00")) {
		t.Fatalf("answer before the blackhole %q", b)
	}
	bh.dead.Store(true)

	const n = 64
	sent := map[string]time.Time{}
	for i := range n {
		id := fmt.Sprintf("bh-%d", i)
		sent[id] = time.Now()
		u.send(invite(local, id, "z9hG4bK-"+id, "+12125550100", ""))
		if i == n/2 {
			u.send([]byte("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bK-opt\r\n" +
				"From: <sip:ping@127.0.0.1>;tag=o1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: bh-options\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
			sent["bh-options"] = time.Now()
		}
	}
	var worst time.Duration
	got := 0
	deadline := time.Now().Add(10 * time.Second)
	for got < n+1 && time.Now().Before(deadline) {
		b := u.recv(time.Until(deadline))
		if b == nil {
			break
		}
		id := headerValue(b, "Call-ID")
		at, ok := sent[id]
		if !ok {
			continue
		}
		delete(sent, id)
		got++
		took := time.Since(at)
		worst = max(worst, took)
		switch {
		case id == "bh-options":
			if !bytes.HasPrefix(b, []byte("SIP/2.0 200")) {
				t.Errorf("OPTIONS answered %q", statusOf(b))
			}
			t.Logf("FIGURES blackholed Redis: OPTIONS answered after %v", took)
		case !bytes.HasPrefix(b, []byte("SIP/2.0 302")) || !bytes.Contains(b, []byte("X-Tfps-Code: R19")):
			t.Errorf("%s answered %q, want 302 R19 (error policy reject)", id, statusOf(b))
		}
		if took > decideTimeout+500*time.Millisecond {
			t.Errorf("%s answered after %v, decide timeout %v", id, took, decideTimeout)
		}
	}
	if len(sent) > 0 {
		t.Errorf("%d requests unanswered with Redis blackholed", len(sent))
	}
	t.Logf("FIGURES blackholed Redis: %d answers, slowest after %v (decide timeout %v); %v decided at once over TFPS_SIP_MAX_IN_FLIGHT",
		got, worst, decideTimeout, counterValue(t, reg, "tfps_sip_decisions_overflow_total"))
}

// headerValue is the value of the first header name in a SIP message.
func headerValue(b []byte, name string) string {
	for _, line := range strings.Split(string(b), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// A NUL in the dialled number is an injection attempt (R12) decided by the
// engine, and the logged number carries U+FFFD in its place, so the row is
// storable.
func TestNULInNumberIsR12AndLoggedRepaired(t *testing.T) {
	r := newRig(t, sipfront.Options{Method: 302, ContactHost: "192.0.2.1"})
	u := dialUDP(t, "127.0.0.1", r.udp)
	inv := invite(u.conn.LocalAddr().String(), "nul-number-1", "z9hG4bK-nul-1", "+1212\x005550100", "")
	u.send(inv)
	b := u.recv(3 * time.Second)
	if !bytes.HasPrefix(b, []byte("SIP/2.0 302")) || !bytes.Contains(b, []byte("X-Tfps-Code: R12\r\n")) {
		t.Fatalf("answer %q, want 302 with X-Tfps-Code R12", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		got, err := r.db.Decisions(ctx, store.DecisionFilter{CallID: "nul-number-1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 {
			if got[0].Code != "R12" || got[0].Number != "+1212\uFFFD5550100" {
				t.Errorf("logged %s %q, want R12 %q", got[0].Code, got[0].Number, "+1212\uFFFD5550100")
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no decision-log row")
}

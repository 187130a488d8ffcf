package engine_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state/statetest"

	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// A row PostgreSQL refuses (a NUL byte, invalid UTF-8) must not stall the
// decision log: the rows before and after it are written, the bad one is
// quarantined with the error, and the engine closes without losing rows.
func TestPoisonRowIsQuarantined(t *testing.T) {
	opts := baseOptions(t)
	opts.LogFlush = 50 * time.Millisecond // the poison row shares its batch with good ones
	r := newRig(t, store.Postgres, opts)
	r.account(t, "1001", nil)
	ctx := context.Background()
	var good []string
	for i := range 7 {
		c := call()
		if i == 3 {
			c.UserAgent = "evil\x00agent\xff"
			c.CallID = "poison-1"
		} else {
			good = append(good, c.CallID)
		}
		if _, err := r.eng.Decide(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- r.close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("engine close stalled behind the poison row")
	}
	for _, id := range good {
		rows, err := r.db.Decisions(ctx, store.DecisionFilter{CallID: id})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Errorf("call %s: %d decision-log rows, want 1", id, len(rows))
		}
	}
	q, err := r.db.QuarantinedDecisions(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || q[0].CallID != "poison-1" || q[0].Record.User != "1001" || q[0].Error == "" {
		t.Fatalf("quarantine %+v, want the poison row with its error", q)
	}
	if q[0].Record.UserAgent == "" {
		t.Errorf("quarantined record lost its user agent")
	}
}

// tcpProxy forwards a local port to target; cut closes the port and every
// connection (the database is gone), restore opens the port again.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("reopen proxy port: %v", err)
	}
	p.serve(ln)
}

// PostgreSQL unreachable under load: decisions go on (the log spills to
// the local journal instead of filling its queue), and when the database
// is back every decision is in the log, once, in the order decided.
func TestSQLOutageLosesNoDecision(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(storetest.SchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	if _, err := direct.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	db, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	busyAccount(t, direct, 1000, 1_000_000)
	jnl := openJournal(t, 1<<30)
	opts := baseOptions(t)
	opts.ABRepeatLimit = 1_000_000
	opts.LogQueue = 500 // a small queue: without the journal it fills within the outage
	opts.LogBatch = 100
	eng, err := engine.New(ctx, journalDeps(db, statetest.MustOpen(t), jnl), opts)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	decide := func(n int) {
		for range n {
			c := call()
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			d, err := eng.Decide(dctx, c)
			cancel()
			if err != nil || d.Err != nil {
				t.Fatalf("decision %s: %v %v", c.CallID, err, d.Err)
			}
			ids = append(ids, c.CallID)
		}
	}
	// TFPS_FAULT_OUTAGE (scripts/faults.sh) makes the outage longer: calls
	// go on being decided through it.
	length := 500 * time.Millisecond
	if v, err := time.ParseDuration(os.Getenv("TFPS_FAULT_OUTAGE")); err == nil {
		length = v
	}
	decide(300)
	proxy.cut()
	outage := time.Now()
	decide(2000)
	for time.Since(outage) < length {
		decide(100)
	}
	spilled := jnl.Pending()
	proxy.restore()
	back := time.Now()
	decide(300)
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := eng.Close(closeCtx); err != nil {
		t.Fatalf("close: %v", err)
	}
	t.Logf("FIGURES sql outage: %v down, %d decisions in all, %d bytes journaled, drained %v after the database returned (close included), %d bytes left",
		back.Sub(outage).Round(time.Millisecond), len(ids), spilled, time.Since(back).Round(time.Millisecond), jnl.Pending())
	if spilled == 0 {
		t.Error("nothing went to the journal during the outage")
	}
	// The first decision's row, then pages after it in id order; the total
	// count catches any row before it.
	first, err := direct.Decisions(ctx, store.DecisionFilter{CallID: ids[0]})
	if err != nil || len(first) != 1 {
		t.Fatalf("first decision's rows %v, %v", first, err)
	}
	total, err := direct.CountDecisions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := first
	for after := first[0].ID; ; {
		page, err := direct.Decisions(ctx, store.DecisionFilter{AfterID: after, Limit: tfps.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		rows = append(rows, page...)
		after = page[len(page)-1].ID
	}
	// Every decision is logged once, in order. A batch whose commit reached
	// the database but whose reply was cut by the outage is written again
	// from the journal; the decision keys make the second write add
	// nothing.
	count := map[string]int{}
	var logged []string
	for _, r := range rows {
		count[r.CallID]++
		if count[r.CallID] == 1 {
			logged = append(logged, r.CallID)
		}
	}
	missing, repeated := 0, 0
	for _, id := range ids {
		if count[id] == 0 {
			missing++
		}
		repeated += max(count[id]-1, 0)
	}
	t.Logf("FIGURES sql outage: %d of %d decisions missing, %d rows written twice (a commit whose reply the outage cut)", missing, len(ids), repeated)
	if missing > 0 || len(rows) != total {
		t.Fatalf("%d of %d decisions not logged (%d rows read, %d in all)", missing, len(ids), len(rows), total)
	}
	if repeated > 0 {
		t.Errorf("%d decision-log rows written twice, want every decision once", repeated)
	}
	if !slices.Equal(logged, ids) {
		t.Errorf("decision log out of order")
	}
}

package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/command/commandtest"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/store"
)

// The fault runs start the real gateway binary as a child process, send it
// SIP from a Go client, and break what it depends on. Each prints its
// figures on lines "FIGURES ..." (scripts/faults.sh collects them).

// child is a gateway process.
type child struct {
	cmd  *exec.Cmd
	http string
	log  *commandtest.Buffer
	done chan error
}

var startedRE = regexp.MustCompile(`msg="gateway started".* http=(\S+)`)

// startLoaded builds the gateway and starts it on vars, loads the test
// account through db and waits a second, for the engine's change poll to
// see it. It returns the binary (for a restart), the child and a SIP client
// whose Call-IDs start with prefix.
func startLoaded(t *testing.T, db *store.Store, vars map[string]string, prefix string) (string, *child, *sipClient) {
	t.Helper()
	bin := gatewaytest.Binary(t)
	g := startChild(t, bin, vars)
	loadAccount(t, db)
	time.Sleep(time.Second)
	return bin, g, newSIPClient(t, sipAddr(vars), prefix)
}

// startChild starts the gateway on vars and waits for its start line.
func startChild(t *testing.T, bin string, vars map[string]string) *child {
	t.Helper()
	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TFPS_FAULT_") { // the test's own settings
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "TFPS_LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, log: &commandtest.Buffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.log.Write(append(sc.Bytes(), '\n'))
			if m := startedRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case c.http = <-addr:
	case err := <-c.done:
		t.Fatalf("gateway exited before it started (%v):\n%s", err, c.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("gateway did not start within 60s:\n%s", c.log.String())
	}
	return c
}

// kill sends sig and waits for the process to end.
func (c *child) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("gateway still running 60s after %v:\n%s", sig, c.log.String())
	}
}

// metric reads one unlabelled sample from the child's /metrics.
func (c *child) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + c.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// atRest collects the child's garbage (its profiler's heap profile with
// gc=1) and returns its goroutines and live heap in MB.
func (c *child) atRest(t *testing.T, vars map[string]string) (goroutines, heapMB float64) {
	t.Helper()
	resp, err := http.Get("http://" + vars["TFPS_PPROF_LISTEN"] + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c.metric(t, "go_goroutines"), c.metric(t, "go_memstats_heap_inuse_bytes") / 1e6
}

// rssKB is the child's resident set size.
func (c *child) rssKB(t *testing.T) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

// faultVars are a child gateway's settings: its own SIP port, a
// PostgreSQL schema, a Redis prefix and a data directory (the journal).
func faultVars(t *testing.T, extra map[string]string) map[string]string {
	port := freeSIPPort(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pprofAddr := l.Addr().String()
	l.Close()
	vars := gatewaytest.Vars(t, store.Postgres, map[string]string{
		"TFPS_PPROF_LISTEN":       pprofAddr,
		"TFPS_SIP_LISTEN":         "127.0.0.1:" + strconv.Itoa(port),
		"TFPS_SIP_DECIDE_TIMEOUT": "300ms",
		"TFPS_SIP_FLOOD_LIMIT":    "0",
		"TFPS_AUTHORIZE_METHOD":   "302",
	})
	maps.Copy(vars, extra)
	return vars
}

// freeSIPPort returns a port free for both UDP and TCP on loopback now
// (the gateway listens on both).
func freeSIPPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

func sipAddr(vars map[string]string) string { return vars["TFPS_SIP_LISTEN"] }

// loadAccount creates the account the load calls from, with room for all.
func loadAccount(t *testing.T, db *store.Store) {
	t.Helper()
	if err := db.CreateAccount(context.Background(), &tfps.Account{
		User: "load", Domain: "pbx.example.com", ConcurrentCalls: 100_000, ConcurrentCallsOff: 100_000,
		DailyQuota: 1 << 30, DailyQuotaOff: 1 << 30, SourceCountries: []string{"US"}, DestinationCountries: []string{"US"},
	}); err != nil {
		t.Fatal(err)
	}
}

func openStore(t *testing.T, vars map[string]string) *store.Store {
	t.Helper()
	db, err := store.Open(context.Background(), vars["TFPS_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sipClient sends INVITEs over one UDP socket and matches final answers
// by Call-ID.
type sipClient struct {
	conn    *net.UDPConn
	to      *net.UDPAddr
	local   string
	mu      sync.Mutex
	pending map[string]chan answer
	seq     atomic.Int64
	prefix  string
}

type answer struct {
	status int
	code   string // the Contact user's code (A00, Rnn, V...), or the reason
}

func newSIPClient(t *testing.T, target, prefix string) *sipClient {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadBuffer(4 << 20)
	c := &sipClient{conn: conn, to: to, local: conn.LocalAddr().String(), pending: map[string]chan answer{}, prefix: prefix}
	go c.read()
	t.Cleanup(func() { conn.Close() })
	return c
}

var contactUserRE = regexp.MustCompile(`(?m)^(?:Contact|m):\s*<sip:([^@>]+)@`)

func (c *sipClient) read() {
	buf := make([]byte, 65536)
	for {
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		msg := string(buf[:n])
		line, rest, _ := strings.Cut(msg, "\r\n")
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "SIP/2.0" {
			continue
		}
		status, _ := strconv.Atoi(f[1])
		if status < 200 {
			continue
		}
		var id string
		for _, h := range strings.Split(rest, "\r\n") {
			if v, ok := strings.CutPrefix(h, "Call-ID:"); ok {
				id = strings.TrimSpace(v)
				break
			}
		}
		a := answer{status: status, code: strings.Join(f[2:], " ")}
		if m := contactUserRE.FindStringSubmatch(msg); m != nil {
			a.code = m[1]
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- a
		}
	}
}

var loadNumbers = []string{"+12125550100", "+13125550100", "+14155550100", "+16175550100", "+12065550100"}

// call sends one INVITE and waits up to wait for its final answer; ok is
// false without one.
func (c *sipClient) call(wait time.Duration) (callID string, a answer, ok bool) {
	n := c.seq.Add(1)
	callID = fmt.Sprintf("%s-%d", c.prefix, n)
	ch := make(chan answer, 1)
	c.mu.Lock()
	c.pending[callID] = ch
	c.mu.Unlock()
	// Five US numbers in five ranges and ten million callers: no range
	// hopping (V07), and no caller-number pair comes back (R13, R16).
	number := loadNumbers[n%int64(len(loadNumbers))]
	msg := "INVITE sip:" + number + "@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + c.local + ";branch=z9hG4bK-" + callID + ";rport\r\n" +
		"From: <sip:" + fmt.Sprintf("+1212%07d", n%10_000_000) + "@pbx.example.com>;tag=t" + callID + "\r\n" +
		"To: <sip:" + number + "@127.0.0.1>\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Max-Forwards: 70\r\n" +
		"P-tfps: load;pbx.example.com;127.0.0.1;Yealink;1\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := c.conn.WriteTo([]byte(msg), c.to); err != nil {
		return callID, answer{}, false
	}
	select {
	case a = <-ch:
		return callID, a, true
	case <-time.After(wait):
		c.mu.Lock()
		delete(c.pending, callID)
		c.mu.Unlock()
		return callID, answer{}, false
	}
}

// loadResult is what a load run saw, call by call.
type loadResult struct {
	mu       sync.Mutex
	answered map[string]answer // Call-ID: final answer
	failed   atomic.Int64      // no final answer in time
	byCode   map[string]int
	seq      []timedAnswer // every answer, in the order received
}

type timedAnswer struct {
	at   time.Time
	code string // the first three characters of the code
}

func newLoadResult() *loadResult {
	return &loadResult{answered: map[string]answer{}, byCode: map[string]int{}}
}

func (r *loadResult) add(id string, a answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answered[id] = a
	code := a.code
	if len(code) > 3 {
		code = code[:3]
	}
	if strings.HasPrefix(code, "V") {
		code = "V.."
	}
	r.byCode[fmt.Sprintf("%d %s", a.status, code)]++
	r.seq = append(r.seq, timedAnswer{time.Now(), code})
}

// closedLoad runs workers that each send the next INVITE when the last is
// answered (or given up after wait), until stop is closed.
func closedLoad(c *sipClient, workers int, wait time.Duration, res *loadResult, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id, a, ok := c.call(wait)
				if ok {
					res.add(id, a)
				} else {
					res.failed.Add(1)
					time.Sleep(10 * time.Millisecond) // the gateway is down: do not spin
				}
			}
		}()
	}
	return &wg
}

// logMark sends one INVITE, waits for its row in the decision log and
// returns the row's id: the rows of the calls sent after it have larger
// ones (loggedCallIDs reads from there).
func logMark(t *testing.T, c *sipClient, db *store.Store) int64 {
	t.Helper()
	id, _, ok := c.call(5 * time.Second)
	if !ok {
		t.Fatal("the gateway does not answer")
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		rows, err := db.Decisions(context.Background(), store.DecisionFilter{CallID: id})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > 0 {
			return rows[0].ID
		}
	}
	t.Fatalf("call %s not logged within 10s", id)
	return 0
}

// loggedCallIDs reads the Call-ID of every decision-log row after the
// row with id mark.
func loggedCallIDs(t *testing.T, db *store.Store, mark int64) map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	for after := mark; ; {
		page, err := db.Decisions(ctx, store.DecisionFilter{AfterID: after, Limit: tfps.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		for _, r := range page {
			out[r.CallID]++
		}
		after = page[len(page)-1].ID
	}
}

// missingFromLog compares the answered decisions with the log call by call.
func missingFromLog(t *testing.T, res *loadResult, logged map[string]int) (missing, repeated int, sample []string) {
	res.mu.Lock()
	defer res.mu.Unlock()
	for id := range res.answered {
		switch n := logged[id]; {
		case n == 0:
			missing++
			if len(sample) < 5 {
				sample = append(sample, id)
			}
		case n > 1:
			repeated += n - 1
		}
	}
	return missing, repeated, sample
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func faultDuration(env string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(env)); err == nil {
		return v
	}
	return def
}

// The gateway SIGKILLed under SIP load and started again on the same data
// directory: every INVITE it answered before the kill is in the decision
// log afterwards (the journal had it before the answer left), compared by
// Call-ID.
func TestGatewaySIGKILLLosesNoAnsweredDecision(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("signals and /proc")
	}
	vars := faultVars(t, nil)
	db := openStore(t, vars)
	bin, g, c := startLoaded(t, db, vars, "kill")
	res := newLoadResult()
	mark := logMark(t, c, db)
	stop := make(chan struct{})
	wg := closedLoad(c, 16, time.Second, res, stop)
	time.Sleep(faultDuration("TFPS_FAULT_LOAD", 3*time.Second))
	before := len(res.answered)
	g.stop(t, syscall.SIGKILL)
	killedAt := time.Now()
	res.mu.Lock()
	atKill := len(res.answered)
	res.mu.Unlock()
	g = startChild(t, bin, vars)
	restart := time.Since(killedAt)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	g.stop(t, syscall.SIGTERM)
	logged := loggedCallIDs(t, db, mark)
	missing, repeated, sample := missingFromLog(t, res, logged)
	t.Logf("FIGURES gateway SIGKILL: %d INVITEs answered (%d before the kill), %d unanswered around it, restarted in %v, %d answered decisions missing from the log, %d logged twice; answers %v; load %s",
		len(res.answered), atKill, res.failed.Load(), restart.Round(time.Millisecond), missing, repeated, res.byCode, loadAvg())
	if before == 0 || atKill == len(res.answered) {
		t.Fatalf("no load before or after the kill (%d before, %d in all)", atKill, len(res.answered))
	}
	if missing > 0 {
		t.Fatalf("%d answered decisions not in the log, e.g. %v; the restarted gateway logged:\n%s", missing, sample, g.log.String())
	}
}

// redisServer is a redis-server of the test's own on a free port, which it
// may kill and start again (never the shared one).
type redisServer struct {
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, port int) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &redisServer{port: port, cmd: cmd}
	t.Cleanup(func() { r.kill() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", r.addr()); err == nil {
			c.Close()
			return r
		}
	}
	t.Fatalf("redis-server on port %d did not start", port)
	return nil
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) kill() {
	if r.cmd.ProcessState == nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// Redis killed under SIP load and started again (empty): while it is down
// every INVITE gets the error policy's answer (R19) by the decide timeout;
// after it returns normal decisions resume (the time to the first one is
// reported); the gateway's goroutines and heap at rest are the same before
// and after.
func TestRedisKilledAndRestartedUnderSIPLoad(t *testing.T) {
	rs := startRedis(t, 0)
	// The killed Redis is a single server of the test's own, also when the
	// rest of the suite runs on a Redis Cluster.
	vars := faultVars(t, map[string]string{"TFPS_REDIS_URL": "redis://" + rs.addr(), "TFPS_REDIS_CLUSTER": "off", "TFPS_ENGINE_ERROR_POLICY": "reject"})
	db := openStore(t, vars)
	_, g, c := startLoaded(t, db, vars, "redis")
	warm := newLoadResult()
	stop := make(chan struct{})
	wg := closedLoad(c, 16, time.Second, warm, stop)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	time.Sleep(2 * time.Second)
	g0, h0 := g.atRest(t, vars)

	res := newLoadResult()
	stop = make(chan struct{})
	wg = closedLoad(c, 16, time.Second, res, stop)
	time.Sleep(time.Second)
	rs.kill()
	killed := time.Now()
	down := faultDuration("TFPS_FAULT_REDIS_DOWN", 3*time.Second)
	time.Sleep(down)
	rs = startRedis(t, rs.port)
	back := time.Now()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	time.Sleep(2 * time.Second)
	g1, h1 := g.atRest(t, vars)

	// While down (after the calls in flight at the kill): R19 only.
	var duringDown, notPolicy int
	resumed := time.Duration(-1)
	res.mu.Lock()
	for _, a := range res.seq {
		switch {
		case a.at.After(killed.Add(500*time.Millisecond)) && a.at.Before(back):
			duringDown++
			if a.code != "R19" {
				notPolicy++
			}
		case a.at.After(back) && a.code != "R19" && resumed < 0:
			resumed = a.at.Sub(back)
		}
	}
	res.mu.Unlock()
	t.Logf("FIGURES redis restart: %v down, %d answers while down (%d not R19), %d unanswered, normal decisions %v after redis returned; goroutines %v -> %v, live heap %.1f -> %.1f MB at rest; answers %v; load %s",
		down, duringDown, notPolicy, res.failed.Load(), resumed.Round(time.Millisecond), g0, g1, h0, h1, res.byCode, loadAvg())
	g.stop(t, syscall.SIGTERM)
	if duringDown == 0 || notPolicy > 0 {
		t.Errorf("while Redis was down: %d answers, %d of them not the error policy's R19", duringDown, notPolicy)
	}
	if resumed < 0 || resumed > time.Second {
		t.Errorf("normal decisions resumed %v after Redis returned, want within 1s", resumed)
	}
	if g1 > g0+20 {
		t.Errorf("goroutines at rest %v before, %v after: a leak", g0, g1)
	}
}

// sqlProxy forwards TCP to PostgreSQL until cut: then every connection is
// closed and new ones are closed at once (the database is "stopped")
// until restore.
type sqlProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newSQLProxy(t *testing.T, target string) *sqlProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &sqlProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[u] = struct{}{}, struct{}{}
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

func (p *sqlProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *sqlProxy) restore() { p.mu.Lock(); p.down = false; p.mu.Unlock() }

// PostgreSQL "stopped" under SIP load (every connection cut, new ones
// refused, for TFPS_FAULT_OUTAGE), then back: every INVITE answered is in
// the decision log afterwards, compared call by call (Call-ID).
func TestPostgresStoppedUnderSIPLoad(t *testing.T) {
	vars := faultVars(t, nil)
	u, err := url.Parse(vars["TFPS_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	proxy := newSQLProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	db := openStore(t, vars) // direct
	vars["TFPS_DATABASE_URL"] = u.String()
	_, g, c := startLoaded(t, db, vars, "sql")
	mark := logMark(t, c, db)
	res := newLoadResult()
	stop := make(chan struct{})
	wg := closedLoad(c, 16, time.Second, res, stop)
	time.Sleep(time.Second)
	proxy.cut()
	outage := faultDuration("TFPS_FAULT_OUTAGE", time.Second)
	time.Sleep(outage)
	res.mu.Lock()
	during := len(res.answered)
	res.mu.Unlock()
	proxy.restore()
	back := time.Now()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	g.stop(t, syscall.SIGTERM)
	drained := time.Since(back)
	logged := loggedCallIDs(t, db, mark)
	missing, repeated, sample := missingFromLog(t, res, logged)
	t.Logf("FIGURES postgres stopped: %v down under SIP load, %d INVITEs answered (%d by the end of the outage), %d unanswered, %d answered decisions missing from the log, %d logged twice, stopped %v after the database returned; answers %v; load %s",
		outage, len(res.answered), during, res.failed.Load(), missing, repeated, drained.Round(time.Millisecond), res.byCode, loadAvg())
	if missing > 0 {
		t.Fatalf("%d answered decisions not in the log, e.g. %v; gateway log:\n%s", missing, sample, g.log.String())
	}
	if res.failed.Load() > 0 {
		t.Errorf("%d INVITEs unanswered while the database was down", res.failed.Load())
	}
}

// A soak through SIP: the clean rate is measured first (16 callers, each
// sending when answered, TFPS_FAULT_SOAK_MEASURE), then INVITEs go at half
// of it, spread evenly, for TFPS_FAULT_SOAK (default 30s; scripts/faults.sh
// long: 30m). Failed calls (unanswered, or not approved) are counted, the
// gateway's RSS and goroutines reported at the start and the end, and its
// goroutines at rest must be the same before and after.
func TestSoakAtHalfTheCleanRate(t *testing.T) {
	// A generous decide timeout: on a machine shared with other work a
	// slow moment must show as latency, not as R19 answers.
	vars := faultVars(t, map[string]string{"TFPS_SIP_DECIDE_TIMEOUT": "10s"})
	db := openStore(t, vars)
	_, g, c := startLoaded(t, db, vars, "soak")
	measure := faultDuration("TFPS_FAULT_SOAK_MEASURE", 5*time.Second)
	clean := newLoadResult()
	stop := make(chan struct{})
	wg := closedLoad(c, 16, 2*time.Second, clean, stop)
	time.Sleep(measure)
	close(stop)
	wg.Wait()
	rate := float64(len(clean.answered)) / measure.Seconds()
	half := rate / 2
	time.Sleep(2 * time.Second)
	restG0, restH0 := g.atRest(t, vars)
	if half < 1 {
		t.Fatalf("clean rate %.1f calls/s", rate)
	}
	length := faultDuration("TFPS_FAULT_SOAK", 30*time.Second)
	res := newLoadResult()
	var calls sync.WaitGroup
	interval := time.Duration(float64(time.Second) / half)
	begin := time.Now()
	var rss0, rss1 int
	var g0, g1 float64
	sampled := false
	// The answer cache fills for two answer lifetimes (2 x 32 s): the RSS
	// from then on is the figure that must stay flat.
	const warmUp = 70 * time.Second
	var rssWarm int
	for next := begin; time.Since(begin) < length; next = next.Add(interval) {
		time.Sleep(time.Until(next))
		calls.Add(1)
		go func() {
			defer calls.Done()
			if id, a, ok := c.call(15 * time.Second); ok {
				res.add(id, a)
			} else {
				res.failed.Add(1)
			}
		}()
		if !sampled && time.Since(begin) > 2*time.Second {
			sampled = true
			rss0, g0 = g.rssKB(t), g.metric(t, "go_goroutines")
		}
		if rssWarm == 0 && length >= 2*time.Minute && time.Since(begin) > warmUp {
			rssWarm = g.rssKB(t)
		}
	}
	rss1, g1 = g.rssKB(t), g.metric(t, "go_goroutines")
	calls.Wait()
	time.Sleep(2 * time.Second)
	restG1, restH1 := g.atRest(t, vars)
	if path := os.Getenv("TFPS_FAULT_HEAP_PROFILE"); path != "" {
		// Where the live heap at rest is, for go tool pprof.
		resp, err := http.Get("http://" + vars["TFPS_PPROF_LISTEN"] + "/debug/pprof/heap")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	failedCodes := 0
	for code, n := range res.byCode {
		if !strings.HasPrefix(code, "302 A00") {
			failedCodes += n
		}
	}
	t.Logf("FIGURES soak: clean rate %.0f calls/s (16 callers, %v), soak %v at %.0f calls/s: %d answered, %d unanswered, %d not approved; RSS %.1f -> %.1f MB, goroutines %v -> %v (start and end, under load); at rest before and after: goroutines %v -> %v, live heap %.1f -> %.1f MB; answers %v; load %s",
		rate, measure, length, half, len(res.answered), res.failed.Load(), failedCodes, float64(rss0)/1024, float64(rss1)/1024, g0, g1, restG0, restG1, restH0, restH1, res.byCode, loadAvg())
	if rssWarm > 0 {
		t.Logf("FIGURES soak: RSS %.1f MB once the answer cache was full (%v in), %.1f MB at the end", float64(rssWarm)/1024, warmUp, float64(rss1)/1024)
	}
	if length >= 2*time.Minute {
		// Past two answer lifetimes with no call: the SIP front has let
		// its answers go; what is still live then was not let go.
		time.Sleep(70 * time.Second)
		g2, h2 := g.atRest(t, vars)
		t.Logf("FIGURES soak: at rest 70 s later (the answer cache aged out): goroutines %v, live heap %.1f MB", g2, h2)
	}
	g.stop(t, syscall.SIGTERM)
	if restG1 > restG0+20 {
		t.Errorf("goroutines at rest %v before the soak, %v after: a leak", restG0, restG1)
	}
	// Failed calls are the figure to watch; they fail the run only where
	// the rate measured is the rate available (TFPS_FAULT_SOAK_STRICT=1,
	// a machine not shared with other work): elsewhere the gateway's share
	// of the CPU changes under it and half the clean rate may be too much.
	if res.failed.Load() > 0 || failedCodes > 0 {
		msg := fmt.Sprintf("%d calls unanswered and %d not approved during the soak; %s", res.failed.Load(), failedCodes, dependencyFailures(g.log.String()))
		if os.Getenv("TFPS_FAULT_SOAK_STRICT") == "1" {
			t.Error(msg)
		} else {
			t.Log("FIGURES soak: " + msg + " (TFPS_FAULT_SOAK_STRICT=1 makes this a failure)")
		}
	}
}

// dependencyFailures summarises the gateway's "decision dependency failed"
// log lines: how many, over which span of time, and the commonest errors.
func dependencyFailures(log string) string {
	var n int
	var first, last string
	errs := map[string]int{}
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "decision dependency failed") {
			continue
		}
		n++
		at := ""
		if i := strings.Index(line, "time="); i >= 0 {
			at, _, _ = strings.Cut(line[i+5:], " ")
		}
		if first == "" {
			first = at
		}
		last = at
		if i := strings.Index(line, " err="); i >= 0 {
			errs[line[i+5:]]++
		}
	}
	if n == 0 {
		return "no dependency failure logged"
	}
	type kv struct {
		err string
		n   int
	}
	var top []kv
	for e, c := range errs {
		top = append(top, kv{e, c})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n })
	if len(top) > 3 {
		top = top[:3]
	}
	return fmt.Sprintf("%d dependency failures logged from %s to %s, commonest: %v", n, first, last, top)
}

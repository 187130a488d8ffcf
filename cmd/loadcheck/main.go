// Command loadcheck measures POST /v1/check of a running gateway on this
// machine: it creates a set of accounts through the admin API, then sends
// approvable call attempts over -c keep-alive connections for a bounded time
// and count, and prints requests per second, latency percentiles, the
// answers by status and code, and the CPU time per request of the gateway
// (-pid) and of loadcheck itself.
//
// It sends in one of two ways:
//
//   - Closed loop (the default): each connection sends its next request as
//     soon as the previous answer arrives. This finds the maximum
//     throughput, but the latencies at that throughput are queueing at
//     saturation, and a stalled server slows the sender down instead of
//     showing in the percentiles (coordinated omission).
//   - Open loop (-rate R), as wrk2 does: request k of the run is due at
//     start + k/R, the connections taking turns, so each connection sends at
//     R/c on a fixed schedule. A request's latency counts from when it was
//     due, not from when it went out: when the connection is still waiting
//     for the previous answer, or the sender woke up late, the request goes
//     out at once and the delay is in its latency. This is the measurement
//     for a latency target at a given rate. The run is exactly R·d requests,
//     rounded up (or -n if fewer). The summary gives the offered and
//     achieved rates, how late the requests went out and how many more than
//     1 ms late, telling apart those whose connection was still busy (the
//     server was slow, or -c is too small for the rate) from those the
//     generator itself was late for, and the latencies from when sent too.
//
// The sender sleeps on Go timers, which wake up to 1 ms late when the
// process is otherwise idle (the runtime waits in epoll_wait, whose timeout
// is in whole milliseconds; go.dev/issue/53824), so at low rates the
// latencies from when due carry up to 1 ms of the sender's own lateness: the
// "sent late" percentiles show how much. A timerfd per connection wakes on
// time but cost 25 to 60 µs of CPU per request on a 2-core VM, more than
// sending the request, on the cores the gateway needs.
//
// The measured requests are pre-built bytes written to raw TCP connections
// and answers are parsed with http.ReadResponse, not net/http's Client,
// which cost half as much CPU again per request: on a machine shared with
// the gateway, that is CPU taken from the server under test. The accounts
// are still created with the api package's client.
//
// It only talks to loopback addresses, so it can not be aimed at somebody
// else's server by mistake.
//
//	loadcheck -url http://127.0.0.1:8080 -c 64 -d 10s
//	loadcheck -url http://127.0.0.1:8080 -rate 10000 -c 32 -d 20s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
)

// Hard bounds: a load run never lasts longer or sends more than this.
const (
	maxDuration = 2 * time.Minute
	maxRequests = 5_000_000
	maxConc     = 1024
	maxRate     = 200_000
)

const (
	// drainGrace is how long after the measured duration the answers still
	// outstanding (and, in an open loop, requests not yet sent) may take;
	// then the connections time out and the run ends.
	drainGrace = 10 * time.Second
	// lateAfter is how late a request may go out before it counts as late:
	// Go's timers wake up to about 1 ms late when the process is idle.
	lateAfter = time.Millisecond
	// maxAnswer bounds the answer body read, against a misbehaving server.
	maxAnswer = 1 << 20
)

type options struct {
	url, token  string
	conc        int
	rate        int // requests per second over all connections; 0: closed loop
	duration    time.Duration
	requests    int
	accounts    int
	sourceIP    string
	warmup      time.Duration
	jsonSummary bool
	pid         int // gateway process whose CPU time is reported per request (Linux /proc)
}

func main() {
	var o options
	fs := flag.NewFlagSet("loadcheck", flag.ExitOnError)
	fs.StringVar(&o.url, "url", envOr("TFPS_API_URL", "http://127.0.0.1:8080"), "gateway base URL (loopback only; env TFPS_API_URL)")
	fs.StringVar(&o.token, "token", os.Getenv("TFPS_API_TOKEN"), "API token (env TFPS_API_TOKEN)")
	fs.IntVar(&o.conc, "c", 64, "concurrent clients (connections)")
	fs.IntVar(&o.rate, "rate", 0, "open loop: requests per second over all connections on a fixed schedule, latency counted from when each was due (1..200000; 0: closed loop)")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "measured duration (at most 2m)")
	fs.IntVar(&o.requests, "n", 1_000_000, "stop after this many measured requests (at most 5,000,000; with -rate, the run is rate×d requests or this many if fewer)")
	fs.IntVar(&o.accounts, "accounts", 100, "accounts to spread the calls over (created if missing)")
	fs.StringVar(&o.sourceIP, "source-ip", "8.8.8.8", "source_ip of the calls (a public US address runs the reputation and source-country checks)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before the measured run (at -rate too)")
	fs.BoolVar(&o.jsonSummary, "json", false, "print the summary as JSON")
	fs.IntVar(&o.pid, "pid", 0, "gateway process id: report its CPU time per request (shows the cost on a busy machine)")
	fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadcheck:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// checkLoopback refuses any target that is not this machine.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("url %q: expected http://127.0.0.1:port", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Unmap().IsLoopback() {
		return fmt.Errorf("url %q: load runs only against a loopback address", raw)
	}
	return nil
}

// scheduled is how many requests an open loop at rate per second sends in
// d: request k is due at k/rate, for every k with k/rate < d.
func scheduled(rate int, d time.Duration) int {
	n := (int64(rate)*int64(d) + int64(time.Second) - 1) / int64(time.Second)
	return int(min(n, maxRequests+1))
}

func run(ctx context.Context, o options, w io.Writer) error {
	if err := checkLoopback(o.url); err != nil {
		return err
	}
	switch {
	case o.duration <= 0 || o.duration > maxDuration:
		return fmt.Errorf("-d %s: must be within (0, %s]", o.duration, maxDuration)
	case o.requests <= 0 || o.requests > maxRequests:
		return fmt.Errorf("-n %d: must be within 1..%d", o.requests, maxRequests)
	case o.conc <= 0 || o.conc > maxConc:
		return fmt.Errorf("-c %d: must be within 1..%d", o.conc, maxConc)
	case o.rate < 0 || o.rate > maxRate:
		return fmt.Errorf("-rate %d: must be within 1..%d requests/s (0: closed loop)", o.rate, maxRate)
	case o.accounts <= 0 || o.accounts > 100000:
		return fmt.Errorf("-accounts %d: must be within 1..100000", o.accounts)
	case o.warmup < 0 || o.warmup > 30*time.Second:
		return fmt.Errorf("-warmup %s: must be within 0..30s", o.warmup)
	case strings.ContainsAny(o.token, "\r\n"):
		// It goes into a header line as is.
		return errors.New("-token: must not contain line breaks")
	}
	ld, err := newLoad(o)
	if err != nil {
		return err
	}
	hc := &http.Client{
		Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext},
		Timeout:   10 * time.Second,
	}
	admin, err := api.NewClient(o.url, o.token, hc)
	if err != nil {
		return err
	}
	if err := createAccounts(ctx, admin, o.accounts); err != nil {
		return err
	}
	if o.warmup > 0 {
		fire(ctx, ld, o.warmup, maxRequests)
	}
	cpu0, cpuErr := cpuTime(o.pid)
	self0, selfErr := selfCPU()
	res := fire(ctx, ld, o.duration, o.requests)
	if self1, err := selfCPU(); err == nil && selfErr == nil {
		res.selfCPU = self1 - self0
	}
	if cpu1, err := cpuTime(o.pid); o.pid > 0 && err == nil && cpuErr == nil {
		res.gatewayCPU = cpu1 - cpu0
	}
	return res.print(w, o)
}

const domain = "load.example"

func createAccounts(ctx context.Context, c *api.Client, n int) error {
	big, five := 1_000_000, 5
	us := []string{"US"}
	for i := range n {
		_, err := c.CreateAccount(ctx, &api.AccountInput{
			User: fmt.Sprintf("load%05d", i), Domain: domain,
			ConcurrentCalls: &five, ConcurrentCallsOff: &five, DailyQuota: &big, DailyQuotaOff: &big,
			SourceCountries: &us, DestinationCountries: &us,
		})
		if err != nil && tfps.ErrorCode(err) != tfps.ECONFLICT {
			return fmt.Errorf("create account %d: %w", i, err)
		}
		if err != nil {
			// Exists from an earlier run: start its day again.
			if _, err := c.ResetAccount(ctx, fmt.Sprintf("load%05d", i), domain); err != nil {
				return fmt.Errorf("reset account %d: %w", i, err)
			}
		}
	}
	return nil
}

// body is a pre-encoded check request split where the call id's sequence
// number goes: pre ends with this run's call id prefix.
type body struct{ pre, post []byte }

var (
	runID   = time.Now().UnixNano()
	callSeq atomic.Int64
)

// makeBodies pre-encodes distinct approvable requests: every caller->number
// pair differs, so the A->B repeat limit never trips, and each account's
// successive calls go to numbers of different exchanges, as a business's
// calls do, so the range-hopping check (distinct numbers under one 8-digit
// prefix) never trips either. Call ids are made unique per request by the
// sender.
func makeBodies(o options, n int) []body {
	const seq = "%SEQ%"
	out := make([]body, n)
	one := 1
	for i := range out {
		b, _ := json.Marshal(api.CheckRequest{
			User: fmt.Sprintf("load%05d", i%o.accounts), Domain: domain, SourceIP: o.sourceIP,
			UserAgent: "loadcheck", ConcurrentCalls: &one,
			Number: fmt.Sprintf("+1201%03d%04d", 200+(i/o.accounts)%800, i%10000), Caller: fmt.Sprintf("+1212%07d", i),
			CallID: fmt.Sprintf("%s-%d@loadcheck", seq, runID),
		})
		pre, post, _ := bytes.Cut(b, []byte(seq))
		out[i] = body{pre, post}
	}
	return out
}

// load is what every run of the measured requests sends, and how.
type load struct {
	addr   string // host:port to dial
	head   []byte // request line and headers, up to the Content-Length value
	bodies []body
	conc   int
	rate   int // 0: closed loop
}

func newLoad(o options) (*load, error) {
	u, err := url.Parse(o.url)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", o.url, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("url %q: the load client speaks plain http:// only", o.url)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	head := fmt.Appendf(nil, "POST %s/v1/check HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", strings.TrimSuffix(u.EscapedPath(), "/"), u.Host)
	if o.token != "" {
		head = fmt.Appendf(head, "Authorization: Bearer %s\r\n", o.token)
	}
	head = append(head, "Content-Length: "...)
	return &load{
		addr: net.JoinHostPort(u.Hostname(), port), head: head,
		bodies: makeBodies(o, 1<<16), conc: o.conc, rate: o.rate,
	}, nil
}

// request appends request i, with a new call id, to b.
func (ld *load) request(b []byte, i int) []byte {
	bd := ld.bodies[i%len(ld.bodies)]
	var raw [8]byte
	var seqBuf [16]byte
	seq := hex.AppendEncode(seqBuf[:0], binary.BigEndian.AppendUint64(raw[:0], scramble(uint64(callSeq.Add(1)))))
	b = append(b, ld.head...)
	b = strconv.AppendInt(b, int64(len(bd.pre)+len(seq)+len(bd.post)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, bd.pre...)
	b = append(b, seq...)
	return append(b, bd.post...)
}

// scramble maps a sequence number to a random-looking one, one to one (the
// SplitMix64 finalizer), so call ids are unique and, like a SIP phone's
// random Call-IDs, land all over the decision log's call_id index: a
// sequential id would append at its end and hide what that index costs.
func scramble(x uint64) uint64 {
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// offset is when request k of an open loop is due after the start.
func (ld *load) offset(k int) time.Duration {
	return time.Duration(int64(k) * int64(time.Second) / int64(ld.rate))
}

type result struct {
	elapsed    time.Duration
	latencies  []time.Duration
	status     map[int]int
	codes      map[string]int
	sent       int // answered or failed; requests cut off by an interrupt are not counted
	errors     int
	firstErr   error
	gatewayCPU time.Duration
	selfCPU    time.Duration

	// Open loop only.
	scheduled int
	fromSent  []time.Duration // latencies from when sent, not when due
	lags      []time.Duration // how late each request went out
	late      int             // sent more than lateAfter after they were due
	lateBusy  int             // of late: the previous answer on the connection came after that
	lastSend  time.Duration   // since the start
}

func newResult() *result { return &result{status: map[int]int{}, codes: map[string]int{}} }

func (total *result) add(r *result) {
	total.latencies = append(total.latencies, r.latencies...)
	for k, v := range r.status {
		total.status[k] += v
	}
	for k, v := range r.codes {
		total.codes[k] += v
	}
	total.sent += r.sent
	total.errors += r.errors
	if total.firstErr == nil {
		total.firstErr = r.firstErr
	}
	total.fromSent = append(total.fromSent, r.fromSent...)
	total.lags = append(total.lags, r.lags...)
	total.late += r.late
	total.lateBusy += r.lateBusy
	total.lastSend = max(total.lastSend, r.lastSend)
}

// fire runs ld on ld.conc connections for d or limit requests, whichever
// comes first (in an open loop, the schedule for d cut to limit), and waits
// for the answers still outstanding.
func fire(ctx context.Context, ld *load, d time.Duration, limit int) *result {
	var (
		mu          sync.Mutex
		total       = newResult()
		ready, done sync.WaitGroup
		left        atomic.Int64
		start       time.Time
		begin       = make(chan struct{})
	)
	left.Store(int64(limit))
	if ld.rate > 0 {
		total.scheduled = min(limit, scheduled(ld.rate, d))
	}
	for wk := range ld.conc {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			wr := &worker{ctx: ctx, ld: ld, r: newResult()}
			defer wr.close()
			// Connect before the start so that connecting is not measured;
			// on failure the first request dials again and counts the error.
			_ = wr.dial()
			ready.Done()
			<-begin
			wr.setDeadline(start.Add(d + drainGrace))
			if ld.rate > 0 {
				wr.openLoop(wk, start, total.scheduled)
			} else {
				wr.closedLoop(wk, start.Add(d), &left)
			}
			mu.Lock()
			defer mu.Unlock()
			total.add(wr.r)
		}()
	}
	ready.Wait()
	start = time.Now()
	close(begin)
	done.Wait()
	total.elapsed = time.Since(start)
	return total
}

// worker sends requests one after the other on its own connection, dialing
// again whenever the server closed it or a request failed.
type worker struct {
	ctx      context.Context
	ld       *load
	r        *result
	conn     net.Conn
	br       *bufio.Reader
	unwatch  func() bool // stops interrupting conn when ctx ends
	deadline time.Time   // no read or write on a connection blocks past it
	req      []byte      // the request being sent, reused
	answer   []byte      // the answer body, reused
}

func (wr *worker) dial() error {
	c, err := net.DialTimeout("tcp", wr.ld.addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("connect %s: %w", wr.ld.addr, err)
	}
	if !wr.deadline.IsZero() {
		c.SetDeadline(wr.deadline)
	}
	// An interrupt unblocks a read or write at once.
	wr.unwatch = context.AfterFunc(wr.ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	wr.conn = c
	if wr.br == nil {
		wr.br = bufio.NewReader(c)
	} else {
		wr.br.Reset(c)
	}
	return nil
}

func (wr *worker) setDeadline(t time.Time) {
	wr.deadline = t
	if wr.conn != nil {
		wr.conn.SetDeadline(t)
	}
}

func (wr *worker) close() {
	if wr.conn != nil {
		wr.unwatch()
		wr.conn.Close()
		wr.conn = nil
	}
}

func (wr *worker) closedLoop(wk int, end time.Time, left *atomic.Int64) {
	for i := wk; ; i += wr.ld.conc {
		t0 := time.Now()
		if !t0.Before(end) || wr.ctx.Err() != nil || left.Add(-1) < 0 {
			return
		}
		wr.one(i, t0, t0)
	}
}

// openLoop sends this worker's share of the schedule: requests wk, wk+c,
// wk+2c, ... of n, each when due or at once when already late.
func (wr *worker) openLoop(wk int, start time.Time, n int) {
	// Room for this worker's share of the schedule, not to grow the
	// slices (and copy them) in the measured run.
	share := n/wr.ld.conc + 1
	wr.r.latencies = make([]time.Duration, 0, share)
	wr.r.fromSent = make([]time.Duration, 0, share)
	wr.r.lags = make([]time.Duration, 0, share)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var prevDone time.Time
	for k := wk; k < n; k += wr.ld.conc {
		due := start.Add(wr.ld.offset(k))
		now := time.Now()
		if wait := due.Sub(now); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-wr.ctx.Done():
				return
			}
			// Not the time from the channel: that is when the timer was
			// due, whereas the lateness to count is when this goroutine
			// got to run.
			now = time.Now()
		}
		if wr.ctx.Err() != nil || now.After(wr.deadline) {
			// Interrupted, or the server stalled past the grace period:
			// the rest stays unsent.
			return
		}
		lag := now.Sub(due)
		if lag > lateAfter {
			wr.r.late++
			if prevDone.Sub(due) > lateAfter {
				wr.r.lateBusy++
			}
		}
		wr.r.lags = append(wr.r.lags, lag)
		wr.r.lastSend = now.Sub(start)
		prevDone = wr.one(k, due, now)
	}
}

// one sends request i and records its answer with the latency since it
// was due, and in an open loop also since it was sent. It returns when the
// answer (or the failure) came.
func (wr *worker) one(i int, due, sent time.Time) time.Time {
	status, err := wr.do(i)
	end := time.Now()
	if err != nil {
		if wr.ctx.Err() == nil {
			wr.r.sent++
			wr.r.errors++
			if wr.r.firstErr == nil {
				wr.r.firstErr = err
			}
		}
		return end
	}
	wr.r.sent++
	wr.r.latencies = append(wr.r.latencies, end.Sub(due))
	if wr.ld.rate > 0 {
		wr.r.fromSent = append(wr.r.fromSent, end.Sub(sent))
	}
	wr.r.status[status]++
	code, ok := answerCode(wr.answer)
	if !ok {
		var ans struct{ Code string }
		json.Unmarshal(wr.answer, &ans)
		code = []byte(ans.Code)
	}
	if len(code) > 0 {
		wr.r.codes[string(code)]++
	}
	return end
}

// answerCode finds the top-level "code" string of a JSON object, as in the
// gateway's check answer, without decoding it: json.Unmarshal costs ten
// times more, CPU taken from the gateway under test. An error answer nests
// its code under "error", which does not count, as json.Unmarshal into
// struct{ Code string } would have it. ok is false when the answer is not
// this simple (a code with escapes, a truncated object): decode it then.
func answerCode(b []byte) (code []byte, ok bool) {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			end := stringEnd(b, i)
			if end < 0 {
				return nil, false
			}
			key := b[i+1 : end]
			i = end
			if depth != 1 || string(key) != "code" {
				continue
			}
			j := skipSpace(b, end+1)
			if j == len(b) || b[j] != ':' {
				continue // "code" as a value
			}
			j = skipSpace(b, j+1)
			if j == len(b) || b[j] != '"' {
				return nil, false
			}
			end = stringEnd(b, j)
			if end < 0 || bytes.IndexByte(b[j+1:end], '\\') >= 0 {
				return nil, false
			}
			return b[j+1 : end], true
		}
	}
	return nil, depth == 0
}

// stringEnd is the index of the quote closing the JSON string opening at
// b[i], or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// do sends request i and reads its answer into wr.answer. On any failure
// the connection is dropped, for the next request to dial a new one.
func (wr *worker) do(i int) (status int, err error) {
	if wr.conn == nil {
		if err := wr.dial(); err != nil {
			return 0, err
		}
	}
	wr.req = wr.ld.request(wr.req[:0], i)
	if _, err := wr.conn.Write(wr.req); err != nil {
		wr.close()
		return 0, fmt.Errorf("send request: %w", err)
	}
	resp, err := http.ReadResponse(wr.br, nil)
	if err != nil {
		wr.close()
		return 0, fmt.Errorf("read answer: %w", err)
	}
	wr.answer, err = readBody(resp.Body, wr.answer[:0])
	resp.Body.Close()
	if err != nil {
		wr.close()
		return 0, fmt.Errorf("read answer body (status %d): %w", resp.StatusCode, err)
	}
	if resp.Close {
		// The server said Connection: close (or spoke HTTP/1.0).
		wr.close()
	}
	return resp.StatusCode, nil
}

// readBody appends r to b up to EOF, growing b only when the answer does
// not fit: the buffer is reused from one request to the next.
func readBody(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			if len(b) >= maxAnswer {
				return b, fmt.Errorf("answer longer than %d bytes", maxAnswer)
			}
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

type summary struct {
	Requests    int            `json:"requests"` // answered
	Sent        int            `json:"sent"`     // answered or failed
	Errors      int            `json:"errors"`
	Seconds     float64        `json:"seconds"`
	PerSecond   float64        `json:"requests_per_second"`
	P50ms       float64        `json:"p50_ms"`
	P90ms       float64        `json:"p90_ms"`
	P99ms       float64        `json:"p99_ms"`
	P999ms      float64        `json:"p999_ms"`
	Maxms       float64        `json:"max_ms"`
	Status      map[int]int    `json:"status"`
	Codes       map[string]int `json:"codes"`
	Concurrency int            `json:"concurrency"`
	// OpenLoop is set with -rate; the latencies then count from when each
	// request was due.
	OpenLoop *openLoop `json:"open_loop,omitempty"`
	// GatewayCPUus is the gateway's user+system CPU time per answered
	// request (with -pid): what a check costs whatever else runs.
	GatewayCPUus float64 `json:"gateway_cpu_us_per_request,omitempty"`
	// LoadcheckCPUus is loadcheck's own CPU time per answered request: what
	// the generator took from the machine it shares with the gateway.
	LoadcheckCPUus float64 `json:"loadcheck_cpu_us_per_request,omitempty"`
}

type openLoop struct {
	OfferedRate float64 `json:"offered_rate"`
	// AchievedRate is the rate requests went out at: sent over the time
	// from the start to the last send, plus one interval, so that a run
	// that kept its schedule achieves exactly the offered rate.
	AchievedRate float64 `json:"achieved_rate"`
	Scheduled    int     `json:"scheduled"`
	Unsent       int     `json:"unsent"` // interrupted, or past the grace period after -d
	// Late requests went out more than 1 ms after they were due. LateBusy
	// of them because the connection still waited for its previous
	// answer (the server was slow, or -c too small for the rate); the rest
	// the generator itself was late for.
	Late     int `json:"late"`
	LateBusy int `json:"late_connection_busy"`
	// How late the requests went out: Go's timers wake up to 1 ms late
	// when the process has nothing else to do (the runtime waits in
	// epoll_wait, which counts in whole milliseconds), and that is in the
	// latencies from when due.
	LagP50ms  float64 `json:"send_lag_p50_ms"`
	LagP99ms  float64 `json:"send_lag_p99_ms"`
	MaxLateMs float64 `json:"max_late_ms"`
	// Latencies from when each request went out, as a closed loop counts
	// them (wrk2's "uncorrected" figures): the server's own time, without
	// the wait for a busy connection or a late sender.
	SentP50ms float64 `json:"from_sent_p50_ms"`
	SentP99ms float64 `json:"from_sent_p99_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func perRequest(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / 1000 / float64(n) }

func (r *result) print(w io.Writer, o options) error {
	slices.Sort(r.latencies)
	s := summary{
		Requests: len(r.latencies), Sent: r.sent, Errors: r.errors, Seconds: r.elapsed.Seconds(),
		PerSecond: float64(len(r.latencies)) / r.elapsed.Seconds(),
		P50ms:     ms(pct(r.latencies, .50)), P90ms: ms(pct(r.latencies, .90)), P99ms: ms(pct(r.latencies, .99)),
		P999ms: ms(pct(r.latencies, .999)), Status: r.status, Codes: r.codes, Concurrency: o.conc,
	}
	if len(r.latencies) > 0 {
		s.Maxms = ms(r.latencies[len(r.latencies)-1])
		s.GatewayCPUus = perRequest(r.gatewayCPU, len(r.latencies))
		s.LoadcheckCPUus = perRequest(r.selfCPU, len(r.latencies))
	}
	if o.rate > 0 {
		slices.Sort(r.lags)
		slices.Sort(r.fromSent)
		s.OpenLoop = &openLoop{
			OfferedRate: float64(o.rate), Scheduled: r.scheduled, Unsent: r.scheduled - r.sent,
			Late: r.late, LateBusy: r.lateBusy,
			LagP50ms: ms(pct(r.lags, .50)), LagP99ms: ms(pct(r.lags, .99)),
			SentP50ms: ms(pct(r.fromSent, .50)), SentP99ms: ms(pct(r.fromSent, .99)),
		}
		if len(r.lags) > 0 {
			s.OpenLoop.MaxLateMs = ms(r.lags[len(r.lags)-1])
		}
		if r.sent > 0 {
			s.OpenLoop.AchievedRate = float64(r.sent) / (r.lastSend.Seconds() + 1/float64(o.rate))
		}
	}
	if o.jsonSummary {
		return json.NewEncoder(w).Encode(s)
	}
	mode, from := "closed loop", ""
	if o.rate > 0 {
		mode, from = fmt.Sprintf("open loop %d/s", o.rate), " (from when due)"
	}
	fmt.Fprintf(w, "POST /v1/check  %s  %s  concurrency %d  %.1fs\n", o.url, mode, o.conc, s.Seconds)
	fmt.Fprintf(w, "requests %d  errors %d  %.0f requests/s\n", s.Requests, s.Errors, s.PerSecond)
	ol := s.OpenLoop
	if ol != nil {
		fmt.Fprintf(w, "offered %.0f/s  achieved %.0f/s  sent %d of %d scheduled\n", ol.OfferedRate, ol.AchievedRate, s.Sent, ol.Scheduled)
		fmt.Fprintf(w, "sent late: p50 %.3f ms  p99 %.3f ms  max %.3f ms  by more than 1 ms %d (%d on a connection still waiting for its previous answer)\n",
			ol.LagP50ms, ol.LagP99ms, ol.MaxLateMs, ol.Late, ol.LateBusy)
	}
	fmt.Fprintf(w, "latency%s p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n", from, s.P50ms, s.P90ms, s.P99ms, s.P999ms, s.Maxms)
	if ol != nil {
		fmt.Fprintf(w, "latency (from when sent) p50 %.3f ms  p99 %.3f ms\n", ol.SentP50ms, ol.SentP99ms)
	}
	fmt.Fprintf(w, "status %s  codes %s\n", sortedMap(s.Status), sortedMap(s.Codes))
	if s.GatewayCPUus > 0 {
		fmt.Fprintf(w, "gateway CPU %.0f us per request (%.2f s in %.1f s: %.0f%% of one core)\n", s.GatewayCPUus, r.gatewayCPU.Seconds(), s.Seconds, 100*r.gatewayCPU.Seconds()/s.Seconds)
	}
	if s.LoadcheckCPUus > 0 {
		fmt.Fprintf(w, "loadcheck CPU %.0f us per request (%.2f s in %.1f s: %.0f%% of one core)\n", s.LoadcheckCPUus, r.selfCPU.Seconds(), s.Seconds, 100*r.selfCPU.Seconds()/s.Seconds)
	}
	if r.firstErr != nil {
		fmt.Fprintf(w, "first error: %v\n", r.firstErr)
	}
	if s.Requests == 0 {
		return errors.New("no request answered")
	}
	return nil
}

func sortedMap[K int | string](m map[K]int) string {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%v=%d", k, m[k])
	}
	return b.String()
}

// selfCPU is loadcheck's own user+system CPU time, all threads.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// cpuTime is the user+system CPU time of process pid from /proc (Linux),
// in clock ticks of 10 ms.
func cpuTime(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}
	// Fields after the command name "(...)": state is field 3; utime and
	// stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("read CPU time of process %d: unexpected /proc format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("read CPU time of process %d: unexpected /proc format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("read CPU time of process %d: unexpected /proc format", pid)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// Command loadcheck measures POST /v1/check of a running gateway on this
// machine: it creates a set of accounts through the admin API, then sends
// approvable call attempts from many concurrent clients for a bounded time
// and count, and prints requests per second, latency percentiles and the
// answers by status and code.
//
// It only talks to loopback addresses, so it can not be aimed at somebody
// else's server by mistake.
//
//	loadcheck -url http://127.0.0.1:8080 -c 64 -d 10s
package main

import (
	"bytes"
	"context"
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
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
)

// Hard bounds: a load run never lasts longer or sends more than this.
const (
	maxDuration = 2 * time.Minute
	maxRequests = 5_000_000
	maxConc     = 1024
)

type options struct {
	url, token  string
	conc        int
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
	fs.DurationVar(&o.duration, "d", 10*time.Second, "measured duration (at most 2m)")
	fs.IntVar(&o.requests, "n", 1_000_000, "stop after this many measured requests (at most 5,000,000)")
	fs.IntVar(&o.accounts, "accounts", 100, "accounts to spread the calls over (created if missing)")
	fs.StringVar(&o.sourceIP, "source-ip", "8.8.8.8", "source_ip of the calls (a public US address runs the reputation and source-country checks)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before the measured run")
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
	case o.accounts <= 0 || o.accounts > 100000:
		return fmt.Errorf("-accounts %d: must be within 1..100000", o.accounts)
	case o.warmup < 0 || o.warmup > 30*time.Second:
		return fmt.Errorf("-warmup %s: must be within 0..30s", o.warmup)
	}
	transport := &http.Transport{
		MaxIdleConns: o.conc, MaxIdleConnsPerHost: o.conc, MaxConnsPerHost: o.conc,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	hc := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	admin, err := api.NewClient(o.url, o.token, hc)
	if err != nil {
		return err
	}
	if err := createAccounts(ctx, admin, o.accounts); err != nil {
		return err
	}
	bodies := makeBodies(o, 1<<16)
	if o.warmup > 0 {
		fire(ctx, hc, o, bodies, o.warmup, maxRequests)
	}
	cpu0, cpuErr := cpuTime(o.pid)
	res := fire(ctx, hc, o, bodies, o.duration, o.requests)
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

// makeBodies pre-encodes distinct approvable requests: every caller->number
// pair differs, so the A->B repeat limit never trips. Call ids are made
// unique per request by the sender.
func makeBodies(o options, n int) [][]byte {
	out := make([][]byte, n)
	one := 1
	for i := range out {
		b, _ := json.Marshal(api.CheckRequest{
			User: fmt.Sprintf("load%05d", i%o.accounts), Domain: domain, SourceIP: o.sourceIP,
			UserAgent: "loadcheck", ConcurrentCalls: &one,
			Number: fmt.Sprintf("+1201555%04d", i%10000), Caller: fmt.Sprintf("+1212%07d", i),
			CallID: "%CALLID%",
		})
		out[i] = b
	}
	return out
}

type result struct {
	elapsed    time.Duration
	latencies  []time.Duration
	status     map[int]int
	codes      map[string]int
	errors     int
	firstErr   error
	gatewayCPU time.Duration
}

var (
	runID   = time.Now().UnixNano()
	callSeq atomic.Int64
)

func fire(ctx context.Context, hc *http.Client, o options, bodies [][]byte, d time.Duration, limit int) *result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu    sync.Mutex
		total = &result{status: map[int]int{}, codes: map[string]int{}}
		wg    sync.WaitGroup
		left  atomic.Int64
	)
	left.Store(int64(limit))
	start := time.Now()
	for wk := range o.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &result{status: map[int]int{}, codes: map[string]int{}}
			var ans struct{ Code string }
			placeholder := []byte("%CALLID%")
			for i := wk; ; i += o.conc {
				if ctx.Err() != nil {
					break
				}
				if left.Add(-1) < 0 {
					break
				}
				body := bytes.Replace(bodies[i%len(bodies)], placeholder, fmt.Appendf(nil, "lc-%d-%d", runID, callSeq.Add(1)), 1)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, o.url+"/v1/check", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if o.token != "" {
					req.Header.Set("Authorization", "Bearer "+o.token)
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						r.errors++
						if r.firstErr == nil {
							r.firstErr = err
						}
					}
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				r.latencies = append(r.latencies, time.Since(t0))
				r.status[resp.StatusCode]++
				ans.Code = ""
				if json.Unmarshal(b, &ans) == nil && ans.Code != "" {
					r.codes[ans.Code]++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			total.latencies = append(total.latencies, r.latencies...)
			for k, v := range r.status {
				total.status[k] += v
			}
			for k, v := range r.codes {
				total.codes[k] += v
			}
			total.errors += r.errors
			if total.firstErr == nil {
				total.firstErr = r.firstErr
			}
		}()
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	return total
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

type summary struct {
	Requests    int            `json:"requests"`
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
	// GatewayCPUus is the gateway's user+system CPU time per answered
	// request (with -pid): what a check costs whatever else runs.
	GatewayCPUus float64 `json:"gateway_cpu_us_per_request,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *result) print(w io.Writer, o options) error {
	slices.Sort(r.latencies)
	s := summary{
		Requests: len(r.latencies), Errors: r.errors, Seconds: r.elapsed.Seconds(),
		PerSecond: float64(len(r.latencies)) / r.elapsed.Seconds(),
		P50ms:     ms(pct(r.latencies, .50)), P90ms: ms(pct(r.latencies, .90)), P99ms: ms(pct(r.latencies, .99)),
		P999ms: ms(pct(r.latencies, .999)), Status: r.status, Codes: r.codes, Concurrency: o.conc,
	}
	if len(r.latencies) > 0 {
		s.Maxms = ms(r.latencies[len(r.latencies)-1])
		s.GatewayCPUus = float64(r.gatewayCPU.Microseconds()) / float64(len(r.latencies))
	}
	if o.jsonSummary {
		return json.NewEncoder(w).Encode(s)
	}
	fmt.Fprintf(w, "POST /v1/check  %s  concurrency %d  %.1fs\n", o.url, o.conc, s.Seconds)
	fmt.Fprintf(w, "requests %d  errors %d  %.0f requests/s\n", s.Requests, s.Errors, s.PerSecond)
	fmt.Fprintf(w, "latency p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n", s.P50ms, s.P90ms, s.P99ms, s.P999ms, s.Maxms)
	fmt.Fprintf(w, "status %s  codes %s\n", sortedMap(s.Status), sortedMap(s.Codes))
	if s.GatewayCPUus > 0 {
		fmt.Fprintf(w, "gateway CPU %.0f us per request (%.2f s in %.1f s: %.0f%% of one core)\n", s.GatewayCPUus, r.gatewayCPU.Seconds(), s.Seconds, 100*r.gatewayCPU.Seconds()/s.Seconds)
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

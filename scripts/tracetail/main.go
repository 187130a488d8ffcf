// Command tracetail reads a Go execution trace of a gateway under load
// (scripts/load-sip.sh with PPROF=trace) and tells where the slowest
// decisions spent their time: for every goroutine that called
// engine.(*Engine).Decide and ended within the trace, its lifetime split
// into running, runnable (waiting for the CPU) and each reason it was
// blocked, for all decisions, the slowest 10% and the slowest 1%; the
// goroutines that ran more than a millisecond at a stretch; and, for the
// five slowest decisions, what the CPU ran during their lifetime.
//
//	go run -C scripts/tracetail . /tmp/tfps-load-sip.pprof
//
// It is a module of its own, so the gateway does not depend on the trace
// reader (golang.org/x/exp/trace).
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// gor is what is known of one goroutine while the trace is read.
type gor struct {
	created  trace.Time // 0: it existed before the trace began
	since    trace.Time // of the current state
	state    trace.GoState
	why      string // reason and innermost project frame of the current block
	kind     string // its start function, or where it first blocked
	decision bool
	acc      map[string]time.Duration
}

type decision struct {
	life       time.Duration
	start, end trace.Time
	acc        map[string]time.Duration
}

type stretch struct {
	from, to trace.Time
	kind     string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tracetail TRACE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fail(err)
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		fail(fmt.Errorf("read %s: %w", os.Args[1], err))
	}
	gs := map[trace.GoID]*gor{}
	var done []decision
	var runs []stretch
	for {
		ev, err := r.ReadEvent()
		if err != nil {
			break // io.EOF, or a trace cut short: report what was read
		}
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		id := st.Resource.Goroutine()
		from, to := st.Goroutine()
		g := gs[id]
		if g == nil {
			g = &gor{since: ev.Time(), state: from, acc: map[string]time.Duration{}}
			if from == trace.GoNotExist {
				g.created = ev.Time()
				g.kind = outermost(st.Stack)
			}
			gs[id] = g
		}
		d := time.Duration(ev.Time() - g.since)
		if g.state != trace.GoNotExist && g.state != trace.GoUndetermined {
			key := g.state.String()
			if g.state == trace.GoWaiting || g.state == trace.GoSyscall {
				key += " " + g.why
			}
			g.acc[key] += d
		}
		if g.state == trace.GoRunning {
			k := g.kind
			if g.decision {
				k = "decision"
			}
			runs = append(runs, stretch{g.since, ev.Time(), k})
		}
		g.since, g.state = ev.Time(), to
		if to == trace.GoWaiting || to == trace.GoSyscall {
			g.why = st.Reason + " @" + innermost(st.Stack)
			if o := outermost(st.Stack); g.kind == "" && o != "" {
				g.kind = "(" + o + ")" // started before the trace: named by where it blocked
			}
			if hasFrame(st.Stack, "engine.(*Engine).Decide") {
				g.decision = true
			}
		}
		if to == trace.GoNotExist {
			if g.decision && g.created != 0 {
				done = append(done, decision{time.Duration(ev.Time() - g.created), g.created, ev.Time(), g.acc})
			}
			delete(gs, id)
		}
	}
	report(done, runs)
}

func report(done []decision, runs []stretch) {
	n := len(done)
	fmt.Printf("decisions that began and ended in the trace: %d\n", n)
	if n == 0 {
		return
	}
	sort.Slice(done, func(i, j int) bool { return done[i].life < done[j].life })
	fmt.Printf("lifetime p50 %v, p90 %v, p99 %v, p99.9 %v, max %v\n",
		done[n/2].life, done[n*9/10].life, done[n*99/100].life, done[n*999/1000].life, done[n-1].life)
	for _, part := range []struct {
		name string
		from int
	}{{"all", 0}, {"slowest 10%", n * 9 / 10}, {"slowest 1%", n * 99 / 100}} {
		sum := map[string]time.Duration{}
		var total time.Duration
		for _, d := range done[part.from:] {
			for k, v := range d.acc {
				sum[k] += v
				total += v
			}
		}
		cnt := time.Duration(n - part.from)
		fmt.Printf("\n%s (%d): mean %v\n", part.name, cnt, total/cnt)
		for _, k := range sortedByValue(sum)[:min(6, len(sum))] {
			fmt.Printf("  %-64s %v\n", k, sum[k]/cnt)
		}
	}
	long := map[string][]time.Duration{}
	for _, s := range runs {
		if d := time.Duration(s.to - s.from); d > time.Millisecond {
			long[s.kind] = append(long[s.kind], d)
		}
	}
	fmt.Printf("\nran more than 1 ms at a stretch:\n")
	for k, v := range long {
		var total, most time.Duration
		for _, d := range v {
			total += d
			most = max(most, d)
		}
		fmt.Printf("  %-64s %4d times, %v in all, longest %v\n", k, len(v), total, most)
	}
	fmt.Printf("\nwhat ran during the slowest decisions:\n")
	for _, d := range done[max(0, n-5):] {
		by := map[string]time.Duration{}
		var busy time.Duration
		for _, s := range runs {
			if a, b := max(s.from, d.start), min(s.to, d.end); b > a {
				by[s.kind] += time.Duration(b - a)
				busy += time.Duration(b - a)
			}
		}
		fmt.Printf("  %v, CPU busy %v:", d.life, busy)
		for _, k := range sortedByValue(by)[:min(4, len(by))] {
			fmt.Printf(" %s %v;", short(k), by[k])
		}
		fmt.Println()
	}
}

func sortedByValue(m map[string]time.Duration) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	return keys
}

func hasFrame(st trace.Stack, fn string) bool {
	for fr := range st.Frames() {
		if strings.Contains(fr.Func, fn) {
			return true
		}
	}
	return false
}

// innermost is the innermost frame of the project or of its Redis client.
func innermost(st trace.Stack) string {
	for fr := range st.Frames() {
		if strings.Contains(fr.Func, "voipshield/tfps") || strings.Contains(fr.Func, "go-redis") {
			return short(fr.Func)
		}
	}
	return ""
}

func outermost(st trace.Stack) string {
	var last string
	for fr := range st.Frames() {
		last = fr.Func
	}
	return last
}

func short(fn string) string {
	if inner, ok := strings.CutPrefix(fn, "("); ok {
		return "(" + short(inner)
	}
	return fn[strings.LastIndex(fn, "/")+1:]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tracetail:", err)
	os.Exit(1)
}

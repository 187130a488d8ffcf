// Package replay runs recorded or generated call attempts through the real
// decision engine on a simulated clock: "what would tfps have done to last
// month's traffic with these settings?". Each line is decided as a live
// check would be, at the line's time; a call sent to voice verification is
// resolved by the IVR's own flows (ivr.Flows) with a simulated caller who
// passes, fails, stays silent or hangs up, and a caller who passes redials.
//
// A replay is isolated: its own in-memory SQL database (a copy of the live
// accounts and lists, a file of accounts, or nothing), its own Redis key
// namespace (deleted at the end), no decision-log rows, no outbox rows, no
// mail. The same input and settings give byte-identical output.
package replay

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/engine/engineconfig"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

// Where the replay's accounts come from (Options.Accounts); anything else
// is a file of accounts.
const (
	AccountsEmpty = "empty" // no accounts: every account starts with onboarding
	AccountsLive  = "live"  // a copy of the configured database's accounts, blacklists, number ranges, domains and fraud rules
)

// What a caller does after passing a verification (Options.AfterPass).
const (
	AfterPassRedial   = "redial"   // hangs up and dials again (the IVR asks so)
	AfterPassContinue = "continue" // the call continues in the dialplan (tfps-verify-continue)
)

// maxRedials bounds the verifications of one line: onboarding, then a new
// source country, a new destination and the quota can each stop a redial.
const maxRedials = 4

// Options configure a Replayer.
type Options struct {
	Config *config.Config
	// Accounts is AccountsEmpty (default), AccountsLive or the path of a
	// file of accounts (the JSON of GET /v1/accounts: an array, a page, or
	// one account per line).
	Accounts string
	// Live is the configured database, only read: the accounts and lists
	// of AccountsLive, and the decision log of FromDecisionLog.
	Live      *store.Store
	AfterPass string // AfterPassRedial (default) or AfterPassContinue
	SkipBad   bool   // count and skip bad lines instead of stopping
	Seed      uint64 // ticket ids and captcha digits
	// Reputation answers source addresses; nil: reputation.Local (offline
	// table). A replay never asks online services.
	Reputation engine.Reputation
	Logger     *slog.Logger
	// Workers decide lines of different accounts at the same time (their
	// Redis work shares round trips); lines of one account always go in
	// order through one worker. Default 16; 1 decides strictly in file
	// order.
	Workers int
}

// Replayer replays lines through one engine on private state.
type Replayer struct {
	opts   Options
	cfg    *config.Config
	log    *slog.Logger
	db     *store.Store
	st     *state.State
	eng    *engine.Engine
	fo     ivr.Options
	notes  *counter
	accts  *accountCache // the voice flows' account reads
	rnd    *seeded
	prefix string
	sum    *summer
	closed bool
}

// New prepares a replay: the private database and Redis namespace, the
// accounts, and the engine.
func New(ctx context.Context, o Options) (r *Replayer, err error) {
	if o.Config == nil {
		return nil, errors.New("replay: no configuration")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Accounts == "" {
		o.Accounts = AccountsEmpty
	}
	switch o.AfterPass {
	case "":
		o.AfterPass = AfterPassRedial
	case AfterPassRedial, AfterPassContinue:
	default:
		return nil, fmt.Errorf("replay: after-pass %q is not redial or continue", o.AfterPass)
	}
	if o.Reputation == nil {
		o.Reputation = reputation.Local{}
	}
	cfg := o.Config
	if o.Workers <= 0 {
		o.Workers = 16
	}
	r = &Replayer{opts: o, cfg: cfg, log: o.Logger, notes: newCounter(), accts: newAccountCache(), rnd: newSeeded(o.Seed), sum: newSummer(cfg)}
	defer func() {
		if err != nil {
			r.Close(context.Background())
		}
	}()

	r.db, err = store.Open(ctx, store.MemoryURL)
	if err != nil {
		return nil, fmt.Errorf("replay database: %w", err)
	}
	if _, err := r.db.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("replay database: %w", err)
	}
	if err := r.loadAccounts(ctx); err != nil {
		return nil, err
	}

	b := make([]byte, 6)
	rand.Read(b)
	r.prefix = cfg.RedisPrefix + "replay-" + hex.EncodeToString(b) + ":"
	r.st, err = state.Open(ctx, cfg.RedisURL, state.Options{Prefix: r.prefix, Timeout: max(cfg.RedisTimeout, 2*time.Second), TicketIDs: r.rnd.ticketID, Cluster: cfg.RedisCluster, CallerTime: true})
	if err != nil {
		return nil, fmt.Errorf("replay redis: %w", err)
	}

	eo := engineconfig.Options(cfg)
	eo.Logger = o.Logger
	// The replay refreshes the engine itself right after each change it
	// makes; the wall-clock poll has nothing to add.
	eo.CacheRefresh = time.Hour
	// Recorded traffic holds no PBX retransmissions (the gateway answers
	// them from this cache without logging), and the cache's generations
	// follow whichever worker's time came last: off, so a repeated call_id
	// is decided again and runs repeat exactly.
	eo.RetryCacheTime = -1
	// A replay answers "what would enforcement have done": accounts and
	// gateways in monitor mode are replayed as enforced.
	eo.EnforceAll = true
	r.eng, err = engine.New(ctx, engine.Deps{
		Accounts: r.db, Lists: r.db, Changes: r.db, Domains: r.db, Ranges: r.db, Rules: r.db,
		Log:        discardLog{},
		Alerts:     r.notes,
		Counters:   state.NewDecideCounters(r.st),
		Reputation: o.Reputation,
	}, eo)
	if err != nil {
		return nil, fmt.Errorf("replay engine: %w", err)
	}

	r.fo = ivr.OptionsFrom(cfg)
	// The simulated caller reads the captcha digits it hears; a per-account
	// PIN is a hash it cannot type. Tries, failures and blocks are the same
	// for both methods.
	r.fo.Method = ivr.MethodCaptcha
	return r, nil
}

// discardLog drops decision-log rows: a replay never writes the live log,
// and keeping its own would grow with the file.
type discardLog struct{}

func (discardLog) WriteDecisions(context.Context, []tfps.DecisionRecord) error { return nil }

// Close stops the engine, deletes the replay's Redis keys and drops its
// database.
func (r *Replayer) Close(ctx context.Context) error {
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	if r.eng != nil {
		errs = append(errs, r.eng.Close(ctx))
	}
	if r.st != nil {
		errs = append(errs, r.deleteKeys(ctx), r.st.Close())
	}
	if r.db != nil {
		errs = append(errs, r.db.Close())
	}
	return errors.Join(errs...)
}

// deleteKeys removes every key of the replay's namespace.
func (r *Replayer) deleteKeys(ctx context.Context) error {
	rdb := r.st.Client()
	iter := rdb.Scan(ctx, 0, r.prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("delete replay keys: %w", err)
			}
			keys = keys[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan replay keys: %w", err)
	}
	if len(keys) > 0 {
		if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
			return fmt.Errorf("delete replay keys: %w", err)
		}
	}
	return nil
}

// Prefix is the Redis key namespace of this replay.
func (r *Replayer) Prefix() string { return r.prefix }

// Output is one line of the replay's output.
type Output struct {
	Source   string  `json:"source"`
	Line     int64   `json:"line"`
	CallID   string  `json:"call_id"`
	Time     string  `json:"time"`
	User     string  `json:"user"`
	Domain   string  `json:"domain"`
	Result   string  `json:"result"`
	Code     string  `json:"code"`
	Reason   string  `json:"reason"`
	Flow     string  `json:"flow,omitempty"`
	Country  string  `json:"country,omitempty"`
	IVR      string  `json:"ivr,omitempty"`         // what the caller did (verify only)
	Outcome  string  `json:"ivr_outcome,omitempty"` // how the simulated IVR session ended
	Redial   *Redial `json:"redial,omitempty"`
	Final    string  `json:"final"` // what the caller finally got: approve, reject or verify (not passed)
	Label    string  `json:"label,omitempty"`
	Scenario string  `json:"scenario,omitempty"`

	decisions []decided // every decision of the line, redials included
	onboarded time.Time // when this line's onboarding passed
}

// Redial is the last redial of a caller who passed a verification.
type Redial struct {
	CallID  string `json:"call_id"`
	Time    string `json:"time"`
	Result  string `json:"result"`
	Code    string `json:"code"`
	Reason  string `json:"reason"`
	Flow    string `json:"flow,omitempty"`
	Outcome string `json:"ivr_outcome,omitempty"`
	Redials int    `json:"redials,omitempty"` // when more than one
}

type decided struct {
	code    engine.Code
	result  engine.Result
	day     string
	outcome ivr.Outcome // verify only
}

// worker decides the lines of its accounts in order, on its own clock:
// the database handle stamps changes and the IVR flows read time from it.
type worker struct {
	r     *Replayer
	clk   *clock
	flows *ivr.Flows
	in    chan job
}

func (r *Replayer) newWorker() *worker {
	w := &worker{r: r, clk: &clock{}, in: make(chan job, 256)}
	db := *r.db // same database, own clock
	db.Now = w.clk.Now
	accts := &flowAccounts{c: r.accts, db: &db, rec: countingRecorder{db: &db, notes: r.notes}}
	w.flows = &ivr.Flows{
		Tickets: r.st, Failures: r.st, Accounts: accts, Recorder: accts,
		Prompts: promptNames{}, Opts: r.fo, Now: w.clk.Now, Rand: r.rnd, Log: r.log,
	}
	return w
}

type job struct {
	seq  int64
	l    *Line
	call engine.Call
}

type result struct {
	seq int64
	o   *Output
	le  *LineError // a bad line, in its place
	err error      // stops the replay
}

// maxInFlight bounds the lines read ahead of the output, so memory does not
// grow with the file.
const maxInFlight = 4096

// Run replays the lines of in and writes one JSON line per input line to
// out, in input order. It returns the summary, also when a bad line or an
// error stops it (with the error). A replay runs once.
func (r *Replayer) Run(ctx context.Context, in Reader, out io.Writer) (*Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan result, maxInFlight)
	slots := make(chan struct{}, maxInFlight)
	workers := make([]*worker, r.opts.Workers)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = r.newWorker()
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			for j := range w.in {
				o, err := w.line(ctx, j.l, j.call)
				results <- result{seq: j.seq, o: o, err: err}
			}
		}(workers[i])
	}
	go func() {
		defer func() {
			for _, w := range workers {
				close(w.in)
			}
			wg.Wait()
			close(results)
		}()
		for seq := int64(0); ; seq++ {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			l, err := in.Next()
			if err == io.EOF {
				return
			}
			var le *LineError
			if err == nil {
				var call engine.Call
				if call, le = lineCall(l); le == nil {
					w := workers[shard(call.User, call.Domain, len(workers))]
					w.in <- job{seq: seq, l: l, call: call}
					continue
				}
			} else if !errors.As(err, &le) {
				results <- result{seq: seq, err: err}
				return
			}
			results <- result{seq: seq, le: le}
			if !r.opts.SkipBad {
				return
			}
		}
	}()

	w := newLineWriter(out)
	var runErr error
	pending := map[int64]result{}
	next := int64(0)
	for res := range results {
		pending[res.seq] = res
		for {
			p, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-slots
			if runErr != nil {
				continue
			}
			switch {
			case p.err != nil:
				runErr = p.err
			case p.le != nil && r.opts.SkipBad:
				r.sum.skipped(p.le)
			case p.le != nil:
				runErr = p.le
			default:
				r.sum.add(p.o)
				if err := w.write(p.o); err != nil {
					runErr = fmt.Errorf("write output: %w", err)
				}
			}
			if runErr != nil {
				cancel()
			}
		}
	}
	if runErr == nil && ctx.Err() != nil {
		runErr = fmt.Errorf("replay interrupted: %w", ctx.Err())
	}
	if err := w.flush(); err != nil && runErr == nil {
		runErr = fmt.Errorf("write output: %w", err)
	}
	// The engine hands alerts over from a goroutine of its own: the last
	// calls' alerts may still be on their way to the counter.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.eng.FlushAlerts(fctx); err != nil && runErr == nil {
		runErr = fmt.Errorf("count alerts: %w", err)
	}
	return r.sum.finish(r.notes.snapshot()), runErr
}

// shard picks the worker of an account.
func shard(user, domain string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(domain))
	return int(h.Sum32() % uint32(n))
}

// lineCall validates a line as POST /v1/check would.
func lineCall(l *Line) (engine.Call, *LineError) {
	call, err := l.Check.Call()
	if err != nil {
		field, msg := fieldOf(err)
		return engine.Call{}, &LineError{Source: l.Source, N: l.N, Field: field, Err: fmt.Errorf("%w: %s", ErrBadLine, msg)}
	}
	call.Time, call.Transport = l.Time, "replay"
	if call.CallID == "" {
		call.CallID = l.Source + ":" + strconv.FormatInt(l.N, 10)
	}
	return call, nil
}

// refresh makes the engine see the change a verification of flow just
// stored: the caller's account, re-read alone (re-reading every account
// after each verification took a fifth of a replay's time), or, for a
// high-risk range the account may now call, the ranges and the accounts.
func (r *Replayer) refresh(ctx context.Context, call *engine.Call, flow engine.Flow) error {
	if flow == engine.FlowRiskyRange {
		return r.eng.Refresh(ctx)
	}
	return r.eng.RefreshAccount(ctx, call.User, call.Domain)
}

// line decides one input line, runs the simulated IVR when it is sent to
// verification, and decides the redials of a caller who passes.
func (w *worker) line(ctx context.Context, l *Line, call engine.Call) (*Output, error) {
	r := w.r
	do := l.IVR
	if do == "" {
		do = IVRSilent
	}
	o := &Output{
		Source: l.Source, Line: l.N, CallID: call.CallID, Time: l.Time.Format(time.RFC3339Nano),
		User: call.User, Domain: call.Domain, Label: l.Label, Scenario: l.Scenario,
	}
	w.clk.set(l.Time)
	d, err := r.eng.Decide(ctx, call)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: decide: %w", l.Source, l.N, err)
	}
	o.Result, o.Code, o.Reason, o.Flow, o.Country = d.Result.String(), d.Code.String(), d.Reason, string(d.Flow), d.Country
	o.Final = o.Result
	if d.Result != engine.Verify {
		o.decisions = append(o.decisions, decided{code: d.Code, result: d.Result, day: d.Facts.LocalDate})
		return o, nil
	}
	o.IVR = do
	out := w.session(ctx, &d, &call, do)
	o.Outcome = string(out)
	o.decisions = append(o.decisions, decided{code: d.Code, result: d.Result, day: d.Facts.LocalDate, outcome: out})
	if out == ivr.OutcomeVerified && d.Flow == engine.FlowOnboarding {
		o.onboarded = w.clk.Now()
	}
	flow := d.Flow // of the verification just passed
	for n := 1; out == ivr.OutcomeVerified; n++ {
		if err := r.refresh(ctx, &call, flow); err != nil {
			return nil, fmt.Errorf("%s:%d: refresh engine after verification: %w", l.Source, l.N, err)
		}
		if r.opts.AfterPass == AfterPassContinue {
			o.Final = engine.Approve.String()
			return o, nil
		}
		if n > maxRedials {
			break
		}
		rc := call
		rc.CallID = call.CallID + "~redial" + strconv.Itoa(n)
		rc.Time = w.clk.after(redialDelay)
		w.clk.set(rc.Time)
		rd, err := r.eng.Decide(ctx, rc)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: decide redial: %w", l.Source, l.N, err)
		}
		o.Redial = &Redial{CallID: rc.CallID, Time: rc.Time.Format(time.RFC3339Nano), Result: rd.Result.String(), Code: rd.Code.String(), Reason: rd.Reason, Flow: string(rd.Flow)}
		if n > 1 {
			o.Redial.Redials = n
		}
		o.Final = o.Redial.Result
		dd := decided{code: rd.Code, result: rd.Result, day: rd.Facts.LocalDate}
		out = ""
		if rd.Result == engine.Verify {
			out = w.session(ctx, &rd, &rc, do)
			flow = rd.Flow
			o.Redial.Outcome, dd.outcome = string(out), out
			if out == ivr.OutcomeVerified && rd.Flow == engine.FlowOnboarding && o.onboarded.IsZero() {
				o.onboarded = w.clk.Now()
			}
		}
		o.decisions = append(o.decisions, dd)
	}
	return o, nil
}

// session runs the IVR's flows for the ticket of d with a simulated caller.
func (w *worker) session(ctx context.Context, d *engine.Decision, call *engine.Call, do string) ivr.Outcome {
	w.clk.advance(toIVR)
	sc := &simCall{clk: w.clk, do: do, pin: w.r.cfg.PIN, silence: w.r.fo.FirstDigit}
	if sc.silence <= 0 {
		sc.silence = 5 * time.Second
	}
	args := []string{d.Ticket}
	if w.r.opts.AfterPass == AfterPassContinue {
		args = append(args, "continue")
	}
	return w.flows.Handle(ctx, sc, args, ivr.CallInfo{Channel: "replay-" + call.CallID, CallerID: call.Caller})
}

// fieldOf splits an API validation error ("number: required") into the
// field and the complaint.
func fieldOf(err error) (field, msg string) {
	var te *tfps.Error
	if errors.As(err, &te) {
		if f, rest, ok := strings.Cut(te.Message, ": "); ok && !strings.Contains(f, " ") {
			return f, rest
		}
		return "", te.Message
	}
	return "", err.Error()
}

// lineWriter writes output lines through one buffer.
type lineWriter struct {
	bw  *bufio.Writer
	buf []byte
}

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{bw: bufio.NewWriterSize(w, 64<<10)} }

func (w *lineWriter) write(o *Output) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.bw.Write(b)
	return err
}

func (w *lineWriter) flush() error { return w.bw.Flush() }

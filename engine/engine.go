package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/bizhours"
	"github.com/voipshield/tfps/numbering"
)

// Sentinel errors; check them with errors.Is.
var (
	// ErrDependency: Redis, SQL or a reputation service failed. Decide only
	// returns it under ErrorReturn; the other policies answer R19/A01.
	ErrDependency = errors.New("engine dependency failed")
	// ErrClosed: Decide after Close.
	ErrClosed = errors.New("engine closed")
)

// Deps are the engine's dependencies (see deps.go). All but Alerts are
// required.
type Deps struct {
	Accounts   Accounts
	Lists      Lists
	Changes    Changes
	Counters   Counters
	Reputation Reputation
	Log        DecisionLog
	// Alerts is optional: nil raises no threshold alerts.
	Alerts Alerts
	// Ranges is optional: nil, no high-risk number ranges (R21, V06).
	Ranges Ranges
	// Domains is optional: nil, every unknown user gets onboarding (V01).
	Domains Domains
	// Rules is optional: nil, no fraud rules (R20, V11).
	Rules Rules
	// Calls is optional: nil, EndCall fails (the fraud rules' calls in
	// progress then stop counting after MaxCallDuration).
	Calls Calls
	// Journal is optional: nil, a database outage fills the log queue and
	// then makes decisions wait.
	Journal LogJournal
}

// LimitAction is what a call over a concurrent-call limit gets
// (TFPS_LIMIT_ACTION).
type LimitAction string

// Limit actions.
const (
	LimitVerify LimitAction = "verify" // voice verification (V08/V09)
	LimitReject LimitAction = "reject" // R10/R08, as TFPS did
)

// PremiumAction is what a call to a premium-rate or personal number the
// account has not verified gets (TFPS_PREMIUM_NUMBERS).
type PremiumAction string

// Premium-number actions.
const (
	PremiumVerify PremiumAction = "verify" // V06
	PremiumReject PremiumAction = "reject" // R21
	PremiumAllow  PremiumAction = "allow"  // no check
)

// ErrorPolicy is what a call gets when a dependency (Redis, SQL, the
// reputation service) fails during its decision (TFPS_ERROR_POLICY).
type ErrorPolicy string

// Error policies.
const (
	ErrorReject  ErrorPolicy = "reject"  // R19: no call passes unchecked
	ErrorApprove ErrorPolicy = "approve" // A01: calls pass unchecked while a dependency is down
	ErrorReturn  ErrorPolicy = "error"   // Decide returns the error; the transport answers (SIP 500, HTTP 503)
)

// Options are the policy settings. Zero values take the defaults of the
// TFPS_* keys; the wiring (package engineconfig) fills them from the
// configuration.
type Options struct {
	BusinessHours        *bizhours.Schedule // nil: always business hours, dates in UTC
	ABRepeatLimit        int                // default 3
	ABRepeatWindow       time.Duration      // default 30s
	ABBlockTime          time.Duration      // default 1h
	MaxFailures          int                // failed verifications allowed within FailureWindow; default 3
	FailureWindow        time.Duration      // default 1h (TFPS_CACHE_BLOCK_TIME)
	AbuseScoreLimit      int                // default 10
	DestinationBlacklist []string
	DestinationAllow     []string // every account may call these without verification
	DefaultHome          string   // reads national numbers of accounts without a home country
	// LimitAction: what a call over a concurrent-call limit gets;
	// default LimitVerify.
	LimitAction LimitAction
	// PremiumNumbers: what a call to a number libphonenumber classifies as
	// premium rate or personal number gets; default PremiumVerify.
	PremiumNumbers    PremiumAction
	BuiltinUserAgents bool // add BuiltinUserAgents to the operator's patterns
	TicketTTL         time.Duration
	ErrorPolicy       ErrorPolicy   // default ErrorReject
	CacheRefresh      time.Duration // default 500ms
	MaxOpenTickets    int           // unclaimed tickets per account or source within TicketTTL before R22; default 3, negative: no cap
	// PreloadAccounts: an installation with at most this many accounts has
	// them all cached, re-read in one query after each change; default
	// 5000, negative: accounts are read as calls need them.
	PreloadAccounts int
	RetryCacheTime  time.Duration // default 32s; negative disables
	LogBatch        int           // default 5000
	LogFlush        time.Duration // default 200ms
	LogQueue        int           // rows waiting for the writer; default 65536
	// Range hopping (V07): more than RangeDistinctLimit distinct numbers
	// under the first RangePrefixDigits digits of the E.164 number within
	// RangeWindow. Defaults 10, 8, 1h; a negative limit turns it off.
	RangeDistinctLimit int
	RangePrefixDigits  int
	RangeWindow        time.Duration
	// MaxCallDuration: a call the fraud rules count as in progress stops
	// counting after it when no end is reported; default 4h.
	MaxCallDuration time.Duration

	// Mode is the gateway's mode (TFPS_MODE): tfps.ModeEnforce (default)
	// or tfps.ModeMonitor. An account's own Mode overrides it, and
	// Call.Monitor overrides both.
	Mode tfps.Mode
	// EnforceAll decides every call as enforced, whatever Mode, the
	// account's mode or Call.Monitor say: a what-if replay asks what
	// enforcement would have done, and needs its tickets to run the IVR.
	EnforceAll bool

	Registerer prometheus.Registerer // nil: metrics not registered
	Logger     *slog.Logger          // nil: slog.Default()
	// Now measures decision latency; nil: time.Now. Decisions themselves use
	// Call.Time only.
	Now func() time.Time
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	defInt(&o.ABRepeatLimit, 3)
	def(&o.ABRepeatWindow, 30*time.Second)
	def(&o.ABBlockTime, time.Hour)
	defInt(&o.MaxFailures, 3)
	def(&o.FailureWindow, time.Hour)
	defInt(&o.AbuseScoreLimit, 10)
	def(&o.TicketTTL, 120*time.Second)
	if o.Mode == tfps.ModeInherit {
		o.Mode = tfps.ModeEnforce
	}
	if o.LimitAction == "" {
		o.LimitAction = LimitVerify
	}
	if o.PremiumNumbers == "" {
		o.PremiumNumbers = PremiumVerify
	}
	defInt(&o.MaxOpenTickets, 3)
	if o.ErrorPolicy == "" {
		o.ErrorPolicy = ErrorReject
	}
	def(&o.CacheRefresh, 500*time.Millisecond)
	defInt(&o.PreloadAccounts, 5000)
	def(&o.RetryCacheTime, 32*time.Second)
	defInt(&o.LogBatch, 5000)
	def(&o.LogFlush, 200*time.Millisecond)
	defInt(&o.LogQueue, 65536)
	defInt(&o.RangeDistinctLimit, 10)
	defInt(&o.RangePrefixDigits, 8)
	def(&o.RangeWindow, time.Hour)
	def(&o.MaxCallDuration, 4*time.Hour)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Engine decides call attempts. It is safe for concurrent use; create one
// per process with New and Close it on shutdown.
type Engine struct {
	deps    Deps
	opts    Options
	log     *slog.Logger
	metrics *metrics
	checks  []Check
	numbers *numbering.Cache
	// schedules holds each account's business hours (zone and rule).
	schedules *schedules
	replay    *replayCache
	snap      atomic.Pointer[snapshot]
	loading   sync.Mutex         // one snapshot load or account refresh at a time, so an earlier read never replaces a later one
	loads     singleflight.Group // account lookups on a cache miss
	writer    *logWriter
	keys      *decisionKeys // each decision-log row's unique key
	alerts    *alerter      // nil without Deps.Alerts

	mu        sync.RWMutex // held for reading while a decision is queued to the log; Close takes it
	closed    bool
	stopWatch context.CancelFunc
	watchDone chan struct{}
	stopRetry chan struct{}
}

// New loads the blacklists, starts the change watcher and the decision-log
// writer, and returns a ready engine.
func New(ctx context.Context, deps Deps, opts Options) (*Engine, error) {
	if deps.Accounts == nil || deps.Lists == nil || deps.Changes == nil || deps.Counters == nil || deps.Reputation == nil || deps.Log == nil {
		return nil, errors.New("new engine: every dependency is required")
	}
	switch opts.LimitAction {
	case "", LimitVerify, LimitReject:
	default:
		return nil, fmt.Errorf("new engine: unknown limit action %q", opts.LimitAction)
	}
	switch opts.PremiumNumbers {
	case "", PremiumVerify, PremiumReject, PremiumAllow:
	default:
		return nil, fmt.Errorf("new engine: unknown premium-number action %q", opts.PremiumNumbers)
	}
	switch opts.ErrorPolicy {
	case "", ErrorReject, ErrorApprove, ErrorReturn:
	default:
		return nil, fmt.Errorf("new engine: unknown error policy %q", opts.ErrorPolicy)
	}
	if !opts.Mode.Valid() {
		return nil, fmt.Errorf("new engine: unknown mode %q", opts.Mode)
	}
	opts.defaults()
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("new engine: register metrics: %w", err)
	}
	e := &Engine{
		deps:      deps,
		opts:      opts,
		log:       opts.Logger,
		metrics:   m,
		numbers:   numbering.NewCache(100_000),
		schedules: newSchedules(opts.BusinessHours),
		replay:    newReplayCache(opts.RetryCacheTime, 50_000), // ~350 bytes an entry, two generations
		watchDone: make(chan struct{}),
		stopRetry: make(chan struct{}),
	}
	e.checks = e.policy()
	if e.keys, err = newDecisionKeys(); err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	if err := e.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	e.writer = newLogWriter(deps.Log, opts.LogBatch, opts.LogFlush, opts.LogQueue, e.log, m)
	e.writer.now = opts.Now
	e.writer.journal = deps.Journal
	go e.writer.run(e.stopRetry)
	if deps.Alerts != nil {
		e.alerts = newAlerter(deps.Alerts, m)
		go e.alerts.run(e.log)
	}
	wctx, cancel := context.WithCancel(context.Background())
	e.stopWatch = cancel
	go e.watch(wctx)
	return e, nil
}

// Checks returns the names of the checks in the order they run.
func (e *Engine) Checks() []string {
	names := make([]string, len(e.checks))
	for i, c := range e.checks {
		names[i] = c.Name()
	}
	return names
}

// FlushAlerts returns once every alert raised by a decision that returned
// before the call has been handed to Alerts (queued, or failed and
// counted), or when ctx ends. Alerts are handed over by a goroutine of
// their own so that a decision never waits for them; a caller that reads
// what Alerts received (the replay's summary) flushes first.
func (e *Engine) FlushAlerts(ctx context.Context) error {
	if e.alerts == nil {
		return nil
	}
	done := make(chan struct{})
	e.mu.RLock()
	if e.closed { // Close waited for every alert already
		e.mu.RUnlock()
		return nil
	}
	select {
	case e.alerts.in <- alertItem{flushed: done}:
	case <-ctx.Done():
		e.mu.RUnlock()
		return ctx.Err()
	}
	e.mu.RUnlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the change watcher and writes every queued decision-log row,
// retrying failed inserts until ctx ends. Rows still unwritten then are
// reported in the error. Decide returns ErrClosed afterwards.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.writer.in)
	if e.alerts != nil {
		close(e.alerts.in)
	}
	e.mu.Unlock()
	e.stopWatch()
	<-e.watchDone
	if e.alerts != nil {
		select {
		case <-e.alerts.done:
		case <-ctx.Done():
		}
	}
	select {
	case <-e.writer.done:
	case <-ctx.Done():
		close(e.stopRetry)
		<-e.writer.done
	}
	if e.writer.lost > 0 {
		return fmt.Errorf("close engine: %d decision-log rows not written: %w", e.writer.lost, ctx.Err())
	}
	return nil
}

// Decide answers one call attempt. Decide never calls time.Now for the
// decision: windows, business hours and daily counters use call.Time.
//
// A dependency failure gives R19 (reject) or A01 (approve) with Decision.Err
// set, or an error wrapping ErrDependency, as Options.ErrorPolicy says. An
// invalid call gives an error with tfps.ErrorCode EINVALID.
func (e *Engine) Decide(ctx context.Context, call Call) (Decision, error) {
	start := e.opts.Now()
	e.mu.RLock()
	closed := e.closed
	e.mu.RUnlock()
	if closed {
		return Decision{}, ErrClosed
	}
	if err := validate(&call); err != nil {
		return Decision{}, err
	}
	key := replayKeyOf(&call)
	rid, replayable := e.replay.id(&key)
	if replayable {
		if d, ok := e.replay.get(rid, call.Time); ok {
			d.Replayed = true
			e.metrics.replayed.Inc()
			return d, nil
		}
	}
	d, err := e.decide(ctx, &call)
	if err != nil {
		// A caller that went away (a CANCELled INVITE) gets the error; a
		// deadline that passed while a dependency was slow is that
		// dependency's failure, answered by the error policy in time.
		if !errors.Is(err, ErrDependency) || errors.Is(ctx.Err(), context.Canceled) {
			return Decision{}, fmt.Errorf("decide call %s: %w", call.CallID, err)
		}
		dep := "dependency"
		var de *DependencyError
		if errors.As(err, &de) {
			dep = de.Dependency
			e.metrics.depErrors.WithLabelValues(dep).Inc()
		}
		// The reason reaches PBXs and API clients: it names the dependency,
		// never addresses or driver messages (those are in Err and the log).
		reason := "not checked: " + dep + " unavailable"
		e.log.Warn("decision dependency failed", "call_id", call.CallID, "user", call.User, "domain", call.Domain, "policy", e.opts.ErrorPolicy, "monitor", d.monitor, "err", err)
		monitor := d.monitor
		switch {
		case e.opts.ErrorPolicy == ErrorApprove:
			d = Decision{Result: Approve, Code: A01, Reason: reason, Err: err, Facts: d.Facts}
		case e.opts.ErrorPolicy == ErrorReject, monitor:
			// Monitor mode never refuses a call: under the error policy
			// too, the caller is approved and R19 is the would-be code.
			d = Decision{Result: Reject, Code: R19, Reason: reason, Err: err, Facts: d.Facts}
		default:
			return Decision{}, fmt.Errorf("decide call %s: %w", call.CallID, err)
		}
		if monitor {
			d = d.unenforced()
		}
	}
	latency := e.opts.Now().Sub(start)
	e.metrics.latency.Observe(latency.Seconds())
	eff := d.Effective()
	e.metrics.decisions.WithLabelValues(eff.Result.String(), eff.Code.String(), enforcedLabel(d.Enforced())).Inc()
	if d.Err == nil && replayable {
		e.replay.put(rid, call.Time, d)
	}
	if e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.Debug("decision", "call_id", call.CallID, "user", call.User, "domain", call.Domain, "result", eff.Result, "code", eff.Code, "reason", eff.Reason, "check", d.Check, "enforced", d.Enforced())
	}
	if err := e.record(ctx, &call, &d, latency); err != nil {
		return d, err
	}
	return d, nil
}

func (e *Engine) record(ctx context.Context, c *Call, d *Decision, latency time.Duration) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	// The log keeps what the checks found; in monitor mode that is the
	// would-be answer, marked not enforced.
	eff := d.Effective()
	row := &logRow{DecisionRecord: tfps.DecisionRecord{
		Key: e.keys.next(), At: c.Time, CallID: c.CallID, SourceIP: c.SourceIP.String(), Caller: c.Caller, Number: c.Number,
		UserAgent: c.UserAgent, AbuseScore: d.Facts.AbuseScore, User: c.User, Domain: c.Domain,
		Result: eff.Result.String(), Code: eff.Code.String(), Reason: eff.Reason, Flow: string(eff.Flow), Ticket: d.Ticket,
		OffHours: d.Facts.OffHours, ConcurrentCalls: c.ConcurrentCalls, SourceCountry: d.Facts.SourceCountry,
		DestinationCountry: d.Facts.DestinationCountry, Transport: c.Transport, LatencyMicros: latency.Microseconds(),
		Enforced: d.Enforced(),
	}}
	r := &row.DecisionRecord
	if d.Facts.Account != 0 {
		r.LocalDate = d.Facts.LocalDate // counted in the account's daily statistics
	}
	// Monitor-mode decisions raise no alerts: the mails speak of pairs
	// blocked and calls refused, which did not happen. The decision log
	// and the metrics are their record.
	if e.alerts != nil && d.Enforced() {
		if n := alertFor(c, d, d.email); n != nil {
			e.alerts.raise(n)
		}
		if d.Rule != nil {
			e.alerts.raise(ruleAlert(c, d.Rule, d.email))
		}
	}
	if err := e.writer.enqueue(ctx, row); err != nil {
		return fmt.Errorf("log decision of call %s: %w", c.CallID, err)
	}
	return nil
}

// maxField bounds the text fields of a call.
const maxField = 256

func validate(c *Call) error {
	bad := func(field, why string) error {
		return tfps.Errorf(tfps.EINVALID, "call %s: %s", field, why)
	}
	switch {
	case c.User == "":
		return bad("user", "is empty")
	case c.Number == "":
		return bad("number", "is empty")
	case !c.SourceIP.IsValid():
		return bad("source_ip", "is not an IP address")
	case c.Time.IsZero():
		return bad("time", "is not set")
	case c.ConcurrentCalls < 0:
		return bad("concurrent_calls", "is negative")
	}
	for _, f := range [...]struct{ n, v string }{{"user", c.User}, {"domain", c.Domain}, {"number", c.Number}, {"caller", c.Caller}, {"user_agent", c.UserAgent}, {"call_id", c.CallID}, {"from_tag", c.FromTag}} {
		if len(f.v) > maxField {
			return bad(f.n, fmt.Sprintf("is longer than %d bytes", maxField))
		}
	}
	return nil
}

// decide runs the checks, then the Redis round trip.
func (e *Engine) decide(ctx context.Context, call *Call) (Decision, error) {
	ev := &Eval{Call: call, eng: e, snap: e.snap.Load()}
	ev.steps, ev.counters = ev.stepBuf[:0], ev.countBuf[:0]
	ev.Facts.ConcurrentCalls = call.ConcurrentCalls
	var decided Verdict
	by := ""
	for _, c := range e.checks {
		v, err := c.Check(ctx, ev)
		if err != nil {
			return Decision{Facts: ev.Facts, monitor: e.monitored(ctx, ev)}, fmt.Errorf("check %s: %w", c.Name(), err)
		}
		if v.counted || v.Result == 0 {
			continue
		}
		decided, by = v, c.Name()
		break
	}
	monitor := e.monitored(ctx, ev)
	var ticket *Ticket
	if decided.Result == Verify && !monitor {
		ticket = e.newTicket(ev, decided.Code, decided.Country)
		ticket.Range = decided.Range
		ticket.Observed = decided.Observed
	}
	if monitor {
		// A would-be verify leaves nothing for the IVR to claim.
		for i := range ev.steps {
			ev.steps[i].Ticket = nil
		}
	}
	if len(ev.steps) > 0 || ticket != nil {
		req := CountRequest{
			Now: call.Time, User: call.User, Domain: call.Domain, Caller: call.Caller, Number: call.Number,
			Member: call.CallID, Steps: ev.steps, Ticket: ticket, Monitor: monitor,
			MaxOpenTickets: max(e.opts.MaxOpenTickets, 0), OpenTicketWindow: e.opts.TicketTTL,
			Settled: decided.Result != 0,
		}
		// Only a public source address is capped: many honest users sit
		// behind one private or PBX address (the office LAN, the PBX
		// itself), and each account keeps its own cap anyway. The
		// reputation check, which runs before any check that verifies,
		// has already said whether the source is private.
		if call.SourceIP.IsValid() && !ev.Facts.Private {
			req.SourceIP = call.SourceIP.String()
		}
		if req.Member == "" {
			req.Member = rand.Text()
		}
		res, err := e.deps.Counters.Count(ctx, &req)
		if err != nil {
			return Decision{Facts: ev.Facts, monitor: monitor}, depError("counters", err)
		}
		for i := range res.Steps {
			v := ev.counters[i].by.Counted(ev, &req.Steps[i], res.Steps[i])
			if i == res.Failed {
				decided, by = v, ev.counters[i].check
				ticket = req.Steps[i].Ticket
			}
		}
		if res.Failed < 0 && decided.Result != Verify {
			ticket = nil
		}
		if res.TicketRefused {
			// Verifications nobody answers occupy the voice box: a scanner
			// or a dialer must not get ticket after ticket.
			decided, by, ticket = RejectWith(R22, fmt.Sprintf("%d unanswered verifications within %s", res.OpenTickets, e.opts.TicketTTL)), checkOpenTickets, nil
		}
	}
	ev.hours() // the off-hours flag and local date are logged whichever check decided
	if decided.Result == 0 {
		d := Decision{Result: Approve, Code: A00, Reason: "approved", Facts: ev.Facts, Rule: ev.ruleTrip}
		if ev.Account != nil {
			d.email = ev.Account.Email
		}
		if monitor {
			d = d.unenforced()
		}
		return d, nil
	}
	d := Decision{Result: decided.Result, Code: decided.Code, Reason: decided.Reason, Check: by, Facts: ev.Facts, Rule: ev.ruleTrip}
	if ev.Account != nil {
		d.email = ev.Account.Email
	}
	if d.Result == Verify {
		d.Flow, d.Country = d.Code.Info().Flow, decided.Country
		if monitor {
			return d.unenforced(), nil
		}
		if ticket == nil {
			return d, fmt.Errorf("decide: verify %s without a ticket", d.Code)
		}
		d.Ticket = ticket.ID
	}
	if monitor {
		d = d.unenforced()
	}
	return d, nil
}

// monitored resolves the mode of one call: Call.Monitor, else the
// account's own mode, else Options.Mode. A check that decided before the
// account check (user agent, lists, reputation) leaves the account unread;
// it is read here (from the cache, like the account check), since an
// account in monitor mode must not be refused by those checks either. When
// the account can not be read, the gateway's mode applies.
func (e *Engine) monitored(ctx context.Context, ev *Eval) bool {
	if e.opts.EnforceAll {
		return false
	}
	if ev.Call.Monitor {
		return true
	}
	a := ev.Account
	if !ev.accountRead {
		ev.accountRead = true
		var err error
		if a, err = e.account(ctx, ev.snap, ev.Call.User, ev.Call.Domain); err != nil {
			e.log.Warn("read account for its mode: the gateway's mode applies", "call_id", ev.Call.CallID, "user", ev.Call.User, "domain", ev.Call.Domain, "err", err)
			a = nil
		}
	}
	mode := e.opts.Mode
	if a != nil && a.Mode != tfps.ModeInherit {
		mode = a.Mode
	}
	return mode == tfps.ModeMonitor
}

func enforcedLabel(enforced bool) string {
	if enforced {
		return "true"
	}
	return "false"
}

// checkOpenTickets names the open-ticket cap in decisions: it is not a check
// of the list but the last step of the Redis round trip, applied to whatever
// verify the checks decided.
const checkOpenTickets = "open_tickets"

// newTicket prepares the ticket of a verify decision; Counters gives it its
// id and stores it.
func (e *Engine) newTicket(ev *Eval, code Code, country string) *Ticket {
	c := ev.Call
	return &Ticket{
		Code: code, Flow: code.Info().Flow, Country: country, User: c.User, Domain: c.Domain,
		Number: c.Number, Caller: c.Caller, SourceIP: c.SourceIP.String(), SourceCountry: ev.Facts.SourceCountry,
		UserAgent: c.UserAgent, CallID: c.CallID, Created: c.Time, Expires: c.Time.Add(e.opts.TicketTTL),
		DefaultOf: ev.Facts.DefaultOf,
	}
}

// FailurePolicy returns how many failed verifications within which window
// block an identity (R18), as this engine applies it: the admin API shows
// the end of such a block with it.
func (e *Engine) FailurePolicy() (max int, window time.Duration) {
	return e.opts.MaxFailures, e.opts.FailureWindow
}

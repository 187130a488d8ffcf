package ivr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/captcha"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/pin"
	"github.com/voipshield/tfps/prompts"
)

// Verification methods (TFPS_VERIFICATION_METHOD).
const (
	MethodCaptcha = "CAPTCHA"
	MethodPIN     = "PIN"
)

// Outcome is how a session ended; it labels metrics and logs.
type Outcome string

const (
	OutcomeVerified      Outcome = "verified"       // verified, change applied
	OutcomeFailed        Outcome = "failed"         // wrong or missing entries, tries used up
	OutcomeBlocked       Outcome = "blocked"        // account over the failure limit
	OutcomeHangup        Outcome = "hangup"         // caller left before the end
	OutcomeTicketInvalid Outcome = "ticket_invalid" // unknown, used or expired ticket
	OutcomeError         Outcome = "error"          // Redis/SQL/Asterisk trouble
)

// Outcomes lists every Outcome (metric label values).
var Outcomes = []Outcome{OutcomeVerified, OutcomeFailed, OutcomeBlocked, OutcomeHangup, OutcomeTicketInvalid, OutcomeError}

// Tickets claims the single-use ticket a verify decision stored (in Redis).
// A ticket that cannot be claimed gives an error wrapping
// engine.ErrTicketUnknown, ErrTicketUsed or ErrTicketExpired (the expired
// ticket is returned with it). ReleaseTicket gives a claimed ticket back when
// its call ended without an outcome because the connection to Asterisk was
// lost: the caller may call again with it.
type Tickets interface {
	ClaimTicket(ctx context.Context, id string, now time.Time) (engine.Ticket, error)
	ReleaseTicket(ctx context.Context, id string, now time.Time) error
}

// Failures counts failed verifications per identity user@domain (known
// account or not) in Redis; the gateway reads the same count.
// RecordVerifyFailureIn is idempotent per id: writing one failure again
// counts it once. The times passed are the session's; a store whose windows
// run on a clock every host shares measures them on it instead. An error
// wrapping tfps.ErrUnavailable means Redis did not answer: the write is
// tried again under the same id.
type Failures interface {
	RecordVerifyFailureIn(ctx context.Context, user, domain, scope, id string, at time.Time, window time.Duration) (int, error)
	VerifyBlockIn(ctx context.Context, user, domain, scope string, now time.Time, window time.Duration, max int) (bool, time.Time, int, error)
	// ReservePINAttempt counts a PIN attempt as a failure of the account,
	// the caller number and the source before the digits are checked, or
	// refuses it when one of them is at the limit; ReleasePINAttempt takes
	// it back when the PIN matched.
	ReservePINAttempt(ctx context.Context, a pin.Attempt, window time.Duration, max int) (pin.Reservation, error)
	ReleasePINAttempt(ctx context.Context, a pin.Attempt) error
}

// Accounts reads accounts (store.Store).
type Accounts interface {
	GetAccount(ctx context.Context, user, domain string) (*tfps.Account, error)
}

// Recorder writes the outcome of a session in one transaction: the account
// change, the verification event and the notifications (store.Store).
type Recorder interface {
	RecordVerification(ctx context.Context, r *tfps.VerificationRecord) error
}

// Options are the policy of the flows, from the configuration.
type Options struct {
	Method         string      // MethodCaptcha or MethodPIN
	PIN            pin.Checker // account PIN, else the global TFPS_PIN
	MaxFailures    int         // TFPS_MAX_CAPTCHAATTEMPTS
	FailureWindow  time.Duration
	CaptchaTries   int  // tries within one call
	InputTries     int  // asks of one question
	FullOnboarding bool // onboarding asks the limits
	MaxConcurrent  int  // highest concurrent-calls limit a caller may set or a verification raises to
	MaxQuota       int  // highest daily quota a verification raises to (TFPS_MAX_QUOTA); 0: no ceiling
	// StepPercent: a passed limit verification raises the limit by at
	// least this percent (TFPS_QUOTA_STEP_PERCENT); 0 raises by one.
	StepPercent int
	// Grace: a passed limit verification is remembered this long
	// (TFPS_VERIFIED_GRACE); 0 remembers nothing.
	Grace time.Duration
	// RangeWindow is the range-hopping window (TFPS_RANGE_WINDOW): a passed
	// range_hopping verification is remembered at least this long.
	RangeWindow time.Duration
	// DefaultHome is a new account's home country when neither the caller
	// number nor the source address gives one (TFPS_DEFAULT_HOME_COUNTRY).
	DefaultHome string
	// Defaults of a new account: limits and countries.
	Defaults        tfps.Account
	DefaultLanguage string
	// Timeouts of an answer.
	FirstDigit, InterDigit, InputTotal time.Duration
}

// Flows runs the voice flows of one call at a time per Handle call; it is
// safe for concurrent use by many sessions.
type Flows struct {
	Tickets  Tickets
	Failures Failures
	Accounts Accounts
	Recorder Recorder
	Prompts  prompts.Source
	Opts     Options
	Now      func() time.Time
	Rand     io.Reader // captcha digits; nil: crypto/rand
	Log      *slog.Logger

	// Suggest gives the trained limits the change menu reads and accepts
	// (options 7 and 8); nil: none are offered.
	Suggest Suggester

	metrics     *metrics // set by NewApp
	metricsOnce sync.Once
}

// CallInfo is what the channel tells about the caller.
type CallInfo struct {
	Channel  string    // ARI channel ID
	CallerID string    // caller ID number
	Context  string    // dialplan context the channel entered the app from
	Answered time.Time // when the call was answered; zero: not measured
}

// session is the state of one call's flow; only its goroutine touches it.
type session struct {
	f        *Flows
	call     Call
	info     CallInfo
	log      *slog.Logger
	lang     string
	flow     engine.Flow
	user     string
	domain   string
	t        engine.Ticket
	acct     *tfps.Account // nil until onboarding creates it
	method   string
	cont     bool // continue in the dialplan after success
	failures int  // failures in the window after this call's last failure
	// skew is the deciding gateway's clock minus ours, measured at the
	// claim (Ticket.Claimed): what the session stores for the gateways to
	// compare with their calls' times is dated on their clock.
	skew  time.Duration
	heard bool // the first reading of a code has been measured
	// fromDefault is the domain's default account the ticket's user was
	// decided with, having none of their own; nil otherwise.
	fromDefault *tfps.Account
}

// Handle runs the flow the Stasis arguments ask for and returns how it
// ended. args is "<ticket>" or "<ticket>,continue" (a verified call goes back
// to the dialplan) or "change,<user>,<domain>".
func (f *Flows) Handle(ctx context.Context, call Call, args []string, info CallInfo) Outcome {
	f.metricsOnce.Do(func() {
		if f.metrics == nil {
			f.metrics = newMetrics(nil) // used without an App: counted, not exported
		}
		if f.Log == nil {
			f.Log = slog.New(slog.DiscardHandler)
		}
	})
	s := &session{f: f, call: call, info: info, lang: f.Opts.DefaultLanguage, method: f.Opts.Method}
	s.log = f.Log.With("channel", info.Channel, "caller", info.CallerID)
	out, err := s.run(ctx, args)
	gone := isHangup(err) || (err != nil && ctx.Err() != nil)
	if gone && ctx.Err() == nil {
		// A request found the channel gone before the session heard why:
		// a killed Asterisk fails the request a moment before its
		// websocket's loss ends the session (ErrARILost), and read then
		// as the caller's hang-up the ticket would be spent. The event
		// that says which (StasisEnd for the caller) follows at once.
		t := time.NewTimer(causeGrace)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	switch {
	case err == nil:
	case out != OutcomeError && gone:
		// The outcome was reached and recorded; the caller left during the
		// last words.
	case out == OutcomeVerified:
		s.log.Warn("verified, but the last prompts failed", "err", err)
	case gone && (errors.Is(context.Cause(ctx), ErrARILost) || errors.Is(context.Cause(ctx), ErrEndedByAsterisk)):
		// Asterisk's events stopped or Asterisk ended the call, not the
		// caller: no event is recorded, and the ticket is given back for
		// the caller's next call.
		out = OutcomeHangup
		s.releaseTicket()
	case gone:
		out = OutcomeHangup
		s.recordHangup()
	default:
		s.log.Error("voice flow failed", "flow", s.flow, "account", s.account(), "err", err)
		out = OutcomeError
		s.say(ctx, prompts.Unavailable)
	}
	s.log.Info("session ended", "flow", s.flow, "account", s.account(), "outcome", out, "method", s.method)
	if out != OutcomeVerified || !s.cont {
		_ = call.Hangup(ctx)
	}
	return out
}

func (s *session) account() string {
	if s.user == "" && s.domain == "" {
		return ""
	}
	return s.user + "@" + s.domain
}

func (s *session) run(ctx context.Context, args []string) (Outcome, error) {
	if err := checkArgs(args, s.info.Context); err != nil {
		s.log.Warn("call refused before any lookup", "args", args, "err", err)
		return OutcomeTicketInvalid, s.say(ctx, prompts.TicketInvalid)
	}
	switch {
	case len(args) >= 3 && args[0] == string(engine.FlowChange):
		s.flow, s.user, s.domain, s.method = engine.FlowChange, args[1], args[2], MethodPIN
		a, err := s.f.Accounts.GetAccount(ctx, s.user, s.domain)
		if tfps.ErrorCode(err) == tfps.ENOTFOUND || s.user == "" || s.domain == "" {
			s.log.Warn("change of parameters for an unknown account", "account", s.account())
			return OutcomeTicketInvalid, s.say(ctx, prompts.TicketInvalid)
		}
		if err != nil {
			return OutcomeError, fmt.Errorf("find account: %w", err)
		}
		s.acct = a
	case len(args) >= 1 && args[0] != "":
		s.cont = len(args) >= 2 && args[1] == "continue"
		claimed := s.f.now()
		t, err := s.f.Tickets.ClaimTicket(ctx, args[0], claimed)
		switch {
		case errors.Is(err, engine.ErrTicketUnknown), errors.Is(err, engine.ErrTicketUsed), errors.Is(err, engine.ErrTicketExpired):
			s.log.Warn("ticket refused", "ticket", args[0], "reason", err)
			if errors.Is(err, engine.ErrTicketExpired) {
				s.t, s.flow, s.user, s.domain = t, t.Flow, t.User, t.Domain
				s.record(OutcomeTicketInvalid, "ticket expired")
			}
			return OutcomeTicketInvalid, s.say(ctx, prompts.TicketInvalid)
		case err != nil:
			return OutcomeError, fmt.Errorf("claim ticket: %w", err)
		}
		s.t, s.flow, s.user, s.domain = t, t.Flow, t.User, t.Domain
		if !t.Claimed.IsZero() {
			s.skew = t.Claimed.Sub(claimed)
		}
		if s.flow != engine.FlowOnboarding {
			a, err := s.f.Accounts.GetAccount(ctx, s.user, s.domain)
			if tfps.ErrorCode(err) == tfps.ENOTFOUND && t.DefaultOf != "" {
				// A user of a service provider's domain, decided with the
				// domain's default account: the change creates the user's
				// own account from it.
				a, err = s.f.Accounts.GetAccount(ctx, t.DefaultOf, s.domain)
				s.fromDefault = a
			}
			if err != nil {
				return OutcomeError, fmt.Errorf("find account of ticket: %w", err)
			}
			s.acct = a
		}
	default:
		s.log.Warn("call entered the Stasis app without a ticket")
		return OutcomeTicketInvalid, s.say(ctx, prompts.TicketInvalid)
	}
	s.log = s.log.With("flow", s.flow, "account", s.account())
	if s.acct != nil && prompts.HasLanguage(s.acct.Language) {
		s.lang = s.acct.Language
	}
	if err := s.call.SetLanguage(ctx, s.lang); err != nil {
		return OutcomeError, err
	}

	blocked, until, n, err := s.f.Failures.VerifyBlockIn(ctx, s.user, s.domain, s.scope(), s.f.now(), s.f.Opts.FailureWindow, s.f.Opts.MaxFailures)
	if err != nil {
		return OutcomeError, fmt.Errorf("read failed verifications: %w", err)
	}
	if blocked {
		s.failures = n
		s.log.Info("account blocked by failed verifications", "until", until, "failures", n)
		s.record(OutcomeBlocked, "blocked until "+until.UTC().Format(time.RFC3339))
		return OutcomeBlocked, s.say(ctx, prompts.Blocked)
	}

	// No welcome speech: the code comes first, the reason of the call after
	// it (see challenge).
	out, err := s.verify(ctx)
	if err != nil || out != OutcomeVerified {
		return out, err
	}
	if !s.info.Answered.IsZero() {
		s.f.metrics.verified.Observe(s.f.now().Sub(s.info.Answered).Seconds())
	}
	return s.apply(ctx)
}

// explain is why the flow checks the caller, spoken after the code.
func explain(flow engine.Flow) prompts.ID {
	switch flow {
	case engine.FlowSourceCountry:
		return prompts.ExplainSource
	case engine.FlowDestinationCountry:
		return prompts.ExplainDestination
	case engine.FlowQuota:
		return prompts.ExplainQuota
	case engine.FlowQuotaOff:
		return prompts.ExplainQuotaOff
	case engine.FlowConcurrent:
		return prompts.ExplainConcurrent
	case engine.FlowConcurrentOff:
		return prompts.ExplainConcurrentOff
	case engine.FlowDestinationConfirm:
		return prompts.ExplainConfirm
	case engine.FlowRiskyRange:
		return prompts.ExplainRiskyRange
	case engine.FlowRangeHopping:
		return prompts.ExplainRangeHopping
	case engine.FlowRuleWarning:
		return prompts.ExplainRuleWarning
	case engine.FlowChange:
		return prompts.ExplainChange
	default:
		return prompts.ExplainOnboarding
	}
}

// explanation says why the call is checked. A new source or destination
// country is named ("Calls to Germany are new for your account.") when its
// name can be played, else the sentence goes without it.
func (s *session) explanation(ctx context.Context) []string {
	if cc := s.t.Country; cc != "" && (s.flow == engine.FlowSourceCountry || s.flow == engine.FlowDestinationCountry) {
		lead := prompts.CallsTo
		if s.flow == engine.FlowSourceCountry {
			lead = prompts.CallsFrom
		}
		var media []string
		for _, id := range []prompts.ID{lead, prompts.Country(cc), prompts.AreNew} {
			m, err := s.media(ctx, id)
			if err != nil {
				media = nil
				break
			}
			media = append(media, m)
		}
		if media != nil {
			return media
		}
	}
	return compact([]string{s.mediaOrEmpty(ctx, explain(s.flow))})
}

// maxRepeats bounds how often one code is read again on `*`.
const maxRepeats = 5

// Failure writes: a write that fails (Redis slow or away) is tried again
// under the same failure id, so a first write that landed after its
// timeout is not counted twice.
const (
	failureWrites     = 3
	failureWriteDelay = 100 * time.Millisecond
)

// verify runs the captcha or PIN check. Each wrong or missing entry is one
// failure in Redis; the call gets Opts.CaptchaTries entries, and ends as
// blocked as soon as the account's failures in the window reach
// Opts.MaxFailures. The caller hears what happened only once the failure is
// recorded. A PIN attempt is counted before its question (reservePIN) and
// taken back only when the PIN matches; a caller number or source at the
// limit is refused the PIN whatever account it is for.
func (s *session) verify(ctx context.Context) (Outcome, error) {
	o := &s.f.Opts
	tries := max(o.CaptchaTries, 1)
	for try := 1; try <= tries; try++ {
		var typed string
		var ok bool
		var err error
		var reserved *pin.Reservation
		if s.method == MethodPIN {
			// The attempt is counted before the question: a caller who hangs
			// up while the last key is on its way, or a second session of
			// the account asking at the same moment, gets no uncounted guess.
			r, rerr := s.reservePIN(ctx, try)
			if rerr != nil {
				return OutcomeError, fmt.Errorf("reserve PIN attempt: %w", rerr)
			}
			if !r.Reserved {
				s.failures = r.Most()
				s.log.Info("PIN attempt refused", "over_limit", r.BlockedBy, "until", r.Until, "account_failures", r.Account, "caller_failures", r.Caller, "source_failures", r.Source)
				s.record(OutcomeBlocked, fmt.Sprintf("PIN attempts of the %s at the limit until %s", r.BlockedBy, r.Until.UTC().Format(time.RFC3339)))
				return OutcomeBlocked, s.say(ctx, prompts.Blocked)
			}
			reserved = &r
			typed, err = s.askPIN(ctx, try)
			ok = err == nil && o.PIN.Check(s.acct, typed)
			if ok || (err != nil && !isHangup(err) && !errors.Is(err, ErrNoInput)) {
				// A matching PIN, or trouble on our side before any digit
				// was checked: the attempt is not a failure.
				s.releasePIN(try)
			}
		} else {
			digits, derr := captcha.New(s.f.Rand, captcha.Length)
			if derr != nil {
				return OutcomeError, derr
			}
			typed, err = s.challenge(ctx, try, digits)
			ok = err == nil && captcha.Match(digits, typed)
		}
		noInput := errors.Is(err, ErrNoInput)
		if err != nil && !noInput {
			return OutcomeError, err
		}
		result := "wrong"
		switch {
		case ok:
			result = "success"
		case noInput:
			result = "no_input"
		}
		s.f.metrics.verifications.WithLabelValues(s.method, result).Inc()
		if ok {
			return OutcomeVerified, nil
		}
		var n int
		if reserved != nil {
			n = reserved.Most() // counted when reserved
		} else if n, err = s.recordFailure(ctx, try); err != nil {
			return OutcomeError, fmt.Errorf("record failed verification: %w", err)
		}
		s.failures = n
		s.log.Info("verification failed", "method", s.method, "try", try, "no_input", noInput, "failures_in_window", n)
		if n >= o.MaxFailures {
			s.record(OutcomeBlocked, fmt.Sprintf("%d failures within %s", n, o.FailureWindow))
			return OutcomeBlocked, s.say(ctx, prompts.Blocked)
		}
		if try < tries {
			if err := s.say(ctx, missOrWrong(noInput)); err != nil {
				return OutcomeError, err
			}
			continue
		}
		detail := "wrong entry"
		if noInput {
			detail = "no input"
		}
		s.record(OutcomeFailed, detail)
		return OutcomeFailed, s.say(ctx, missOrWrong(noInput), prompts.VerifyFailed)
	}
	return OutcomeFailed, nil
}

// challenge reads the code and collects the answer. The first try greets in
// one sentence and reads the code at once, twice ("4 8 2 1. Again: 4 8 2
// 1."), then says why the call is checked while the caller may already
// type; later tries say "here is a new code". The first-key window starts
// at the end of the second reading; keys typed before the code starts are
// dropped, a key during it stops the reading and counts; `*` reads the code
// again (twice) and opens a new window.
func (s *session) challenge(ctx context.Context, try int, digits string) (string, error) {
	code := make([]string, 0, len(digits))
	for i := range len(digits) {
		m, err := s.media(ctx, prompts.Digit(digits[i]))
		if err != nil {
			return "", err
		}
		code = append(code, m)
	}
	intro := prompts.CodeIntro
	if try > 1 {
		intro = prompts.CodeNew
	}
	var lead []string
	if m := s.mediaOrEmpty(ctx, intro); m != "" {
		lead = append(lead, m)
	}
	for repeat := 0; ; repeat++ {
		media := slices.Clone(lead)
		firstEnd := len(media) + len(code) - 1 // index of the first reading's last digit
		media = append(media, code...)
		media = append(media, compact([]string{s.mediaOrEmpty(ctx, prompts.CodeAgain)})...)
		media = append(media, code...)
		window := len(media)
		if try == 1 && repeat == 0 {
			media = append(media, s.explanation(ctx)...)
		}
		media = append(media, compact([]string{s.mediaOrEmpty(ctx, prompts.CodeHint)})...)
		in := s.input(Input{Max: captcha.Length, Repeat: "*", Lead: len(lead), WindowAfter: window})
		in.Played = func(i int) {
			if i == firstEnd && !s.heard && !s.info.Answered.IsZero() {
				s.heard = true
				s.f.metrics.codeHeard.Observe(s.f.now().Sub(s.info.Answered).Seconds())
			}
		}
		typed, err := s.call.Ask(ctx, in, media...)
		if !errors.Is(err, ErrRepeat) {
			return typed, err
		}
		if repeat >= maxRepeats {
			return "", ErrNoInput
		}
		s.log.Info("code read again on request", "try", try)
		lead = nil
	}
}

// askPIN asks the PIN; the first try greets first and says after the
// question why the call is checked, while the caller may already type. A
// caller who knows the PIN may type it at any moment (barge-in).
func (s *session) askPIN(ctx context.Context, try int) (string, error) {
	var media []string
	if try == 1 {
		media = compact([]string{s.mediaOrEmpty(ctx, prompts.Hello)})
	}
	m, err := s.media(ctx, prompts.PINAsk)
	if err != nil {
		return "", err
	}
	media = append(media, m)
	window := len(media)
	if try == 1 {
		media = append(media, s.explanation(ctx)...)
	}
	return s.call.Ask(ctx, s.input(Input{Max: pin.Length, Terminator: "#", WindowAfter: window}), media...)
}

// scope is the situation the session's verification proves, for which its
// failures count (engine.FailureScope): a new source country or a number
// range block only that situation; every other flow, and the PIN (one
// secret, guessed across situations), counts for the account.
func (s *session) scope() string {
	if s.method == MethodPIN {
		return ""
	}
	return engine.FailureScope(s.flow, s.t.Country, s.t.Range)
}

// recordFailure records the failure of try once, under an id made of the
// ticket (or channel) and the try, trying again when Redis fails: a write
// that timed out may still have landed, and the same id then replaces it.
// The write does not stop when the caller hangs up: the failure happened.
func (s *session) recordFailure(ctx context.Context, try int) (int, error) {
	id := s.ref() + ":" + strconv.Itoa(try)
	at := s.f.now()
	wctx := context.WithoutCancel(ctx)
	var err error
	for attempt := 1; attempt <= failureWrites; attempt++ {
		var n int
		n, err = s.f.Failures.RecordVerifyFailureIn(wctx, s.user, s.domain, s.scope(), id, at, s.f.Opts.FailureWindow)
		if err == nil {
			return n, nil
		}
		if !unavailable(err) {
			break
		}
		s.log.Warn("recording a failed verification failed; trying again under the same id", "attempt", attempt, "err", err)
		if attempt < failureWrites {
			time.Sleep(failureWriteDelay)
		}
	}
	return 0, err
}

// pinAttempt names the PIN attempt of try: the failure id recordFailure
// would use, the caller number and the source address of the call.
func (s *session) pinAttempt(try int) pin.Attempt {
	caller := s.t.Caller
	if caller == "" {
		caller = s.info.CallerID
	}
	return pin.Attempt{
		User: s.user, Domain: s.domain, Caller: caller, Source: s.t.SourceIP,
		ID: s.ref() + ":" + strconv.Itoa(try), At: s.f.now(),
	}
}

// reservePIN counts the PIN attempt of try before the question, with a
// context detached from the call (a hang-up must not stop the write), and
// tries again under the same id when Redis fails.
func (s *session) reservePIN(ctx context.Context, try int) (pin.Reservation, error) {
	a := s.pinAttempt(try)
	wctx := context.WithoutCancel(ctx)
	var err error
	for attempt := 1; attempt <= failureWrites; attempt++ {
		var r pin.Reservation
		r, err = s.f.Failures.ReservePINAttempt(wctx, a, s.f.Opts.FailureWindow, s.f.Opts.MaxFailures)
		if err == nil {
			return r, nil
		}
		if !unavailable(err) {
			break
		}
		s.log.Warn("reserving a PIN attempt failed; trying again under the same id", "attempt", attempt, "err", err)
		if attempt < failureWrites {
			time.Sleep(failureWriteDelay)
		}
	}
	return pin.Reservation{}, err
}

// releasePIN takes the attempt of try back. When Redis refuses, the attempt
// stays counted as a failure: the safe side.
func (s *session) releasePIN(try int) {
	a := s.pinAttempt(try)
	var err error
	for attempt := 1; attempt <= failureWrites; attempt++ {
		if err = s.f.Failures.ReleasePINAttempt(context.Background(), a); err == nil || !unavailable(err) {
			break
		}
		if attempt < failureWrites {
			time.Sleep(failureWriteDelay)
		}
	}
	if err != nil {
		s.log.Warn("a matching PIN stays counted as a failed attempt", "err", err)
	}
}

// ref names the session in ids: its ticket, or its channel (change flow).
func (s *session) ref() string {
	if s.t.ID != "" {
		return s.t.ID
	}
	return s.info.Channel
}

func missOrWrong(noInput bool) prompts.ID {
	if noInput {
		return prompts.NoInput
	}
	return prompts.WrongEntry
}

// apply makes the verified flow's change, records it and tells the caller.
func (s *session) apply(ctx context.Context) (Outcome, error) {
	o := &s.f.Opts
	var after []string // media after "verified"
	var create *tfps.Account
	var update func(a *tfps.Account) error
	var allowRange string
	kind := tfps.NotificationKind("")
	switch s.flow {
	case engine.FlowOnboarding, engine.FlowSourceCountry, engine.FlowDestinationCountry, engine.FlowDestinationConfirm, engine.FlowQuota, engine.FlowQuotaOff, engine.FlowConcurrent, engine.FlowConcurrentOff,
		engine.FlowRiskyRange, engine.FlowRangeHopping, engine.FlowRuleWarning:
		caller := s.t.Caller
		if caller == "" {
			caller = s.info.CallerID
		}
		ch, err := PlanChange(o, Verified{Flow: s.flow, User: s.user, Domain: s.domain, Language: s.lang, Country: s.t.Country,
			Range: s.t.Range, Caller: caller, SourceCountry: s.t.SourceCountry, Observed: s.t.Observed,
			Rule: s.t.Rule, RuleStat: s.t.RuleStat, At: s.f.now().Add(s.skew)})
		if err != nil {
			return OutcomeError, err
		}
		create, update, kind, allowRange = ch.Create, ch.Update, ch.Kind, ch.AllowRange
		if d := s.fromDefault; d != nil && create == nil {
			create = ownAccountFrom(d, s.user)
		}
		switch s.flow {
		case engine.FlowOnboarding:
			if o.FullOnboarding {
				if err := s.say(ctx, prompts.Verified); err != nil {
					return OutcomeError, err
				}
				cc, quota, err := s.askLimits(ctx, create.ConcurrentCalls, create.DailyQuota)
				create.ConcurrentCalls, create.DailyQuota = cc, quota
				if err == nil {
					// A PIN of their own, so the caller can use the
					// change menu later.
					var h string
					if h, _, err = s.askNewPIN(ctx); h != "" {
						create.PINHash = h
					}
				}
				if err != nil {
					// Verified, then hung up during the questions: the
					// account is created with what was answered.
					_ = s.recordSuccess(create, nil, kind)
					return OutcomeVerified, err
				}
				after = append(after, s.readBack(ctx, cc, quota)...)
			}
			after = append(after, s.mediaOrEmpty(ctx, prompts.AccountCreated))
		case engine.FlowSourceCountry, engine.FlowDestinationCountry, engine.FlowDestinationConfirm:
			after = append(after, s.mediaOrEmpty(ctx, prompts.CountryAdded))
		case engine.FlowConcurrent, engine.FlowConcurrentOff:
			after = append(after, s.mediaOrEmpty(ctx, prompts.ConcurrentRaised))
		case engine.FlowRiskyRange:
			after = append(after, s.mediaOrEmpty(ctx, prompts.RangeAllowed))
		case engine.FlowRangeHopping:
			after = append(after, s.mediaOrEmpty(ctx, prompts.RangeRaised))
		case engine.FlowRuleWarning:
			after = append(after, s.mediaOrEmpty(ctx, prompts.RuleAllowed))
		default:
			after = append(after, s.mediaOrEmpty(ctx, prompts.QuotaRaised))
		}
	case engine.FlowChange:
		if err := s.say(ctx, prompts.Verified); err != nil {
			return OutcomeError, err
		}
		m, err := s.runChangeMenu(ctx)
		update = m.update
		if len(m.edits) > 0 {
			kind = tfps.NotifyLearnedParameters
			s.log.Info("settings changed", "settings", m.what)
		}
		if err != nil {
			// Hung up in the menu: what was confirmed is stored.
			_ = s.recordSuccess(nil, update, kind)
			return OutcomeVerified, err
		}
		if len(m.edits) > 0 {
			after = append(after, s.mediaOrEmpty(ctx, prompts.Saved))
		}
	default:
		return OutcomeError, fmt.Errorf("unknown flow %q in ticket", s.flow)
	}
	if err := s.storeChange(OutcomeVerified, "", create, update, allowRange, kind); err != nil {
		return OutcomeError, err
	}
	s.log.Info("verified and applied")
	if s.flow != engine.FlowChange && !(s.flow == engine.FlowOnboarding && o.FullOnboarding) {
		after = append([]string{s.mediaOrEmpty(ctx, prompts.Verified)}, after...)
	}
	if s.cont {
		if err := s.call.Play(ctx, compact(after)...); err != nil {
			return OutcomeVerified, err
		}
		return OutcomeVerified, s.call.Continue(ctx, "verified")
	}
	end := prompts.Redial
	if s.flow == engine.FlowChange {
		end = prompts.Goodbye
	}
	after = append(after, s.mediaOrEmpty(ctx, end))
	return OutcomeVerified, s.call.Play(ctx, compact(after)...)
}

// askLimits asks the concurrent calls in business hours (one digit) and the
// daily quota (up to two digits, # to finish). An unanswered question keeps
// its current value.
func (s *session) askLimits(ctx context.Context, cc, quota int) (int, int, error) {
	maxCC := min(9, max(s.f.Opts.MaxConcurrent, 1))
	v, ok, err := s.askNumber(ctx, prompts.AskConcurrent, Input{Max: 1}, 1, maxCC)
	if err != nil {
		return cc, quota, err
	}
	if ok {
		cc = v
	}
	v, ok, err = s.askNumber(ctx, prompts.AskQuota, Input{Max: 2, Terminator: "#"}, 1, 99)
	if err != nil {
		return cc, quota, err
	}
	if ok {
		quota = v
	}
	return cc, quota, nil
}

// askNumber asks question up to Opts.InputTries times until the answer is a
// number in [lo, hi]; ok is false when every try was invalid or silent.
func (s *session) askNumber(ctx context.Context, question prompts.ID, in Input, lo, hi int) (int, bool, error) {
	for try := 1; try <= max(s.f.Opts.InputTries, 1); try++ {
		typed, err := s.ask(ctx, in, question)
		if errors.Is(err, ErrNoInput) {
			s.log.Info("no answer", "question", question, "try", try)
			if err := s.say(ctx, prompts.NoInput); err != nil {
				return 0, false, err
			}
			continue
		}
		if err != nil {
			return 0, false, err
		}
		n, perr := strconv.Atoi(typed)
		if perr == nil && n >= lo && n <= hi {
			return n, true, nil
		}
		s.log.Info("invalid answer", "question", question, "try", try)
		if err := s.say(ctx, prompts.InvalidAnswer); err != nil {
			return 0, false, err
		}
	}
	return 0, false, nil
}

func (s *session) readBack(ctx context.Context, cc, quota int) []string {
	return []string{
		s.mediaOrEmpty(ctx, prompts.ReadConcurrent), "number:" + strconv.Itoa(cc),
		s.mediaOrEmpty(ctx, prompts.ReadQuota), "number:" + strconv.Itoa(quota),
	}
}

// recordSuccess writes the change, the success event and the notification.
func (s *session) recordSuccess(create *tfps.Account, update func(*tfps.Account) error, kind tfps.NotificationKind) error {
	return s.store(OutcomeVerified, "", create, update, kind)
}

// record writes an event (and the matching notification) for a session that
// changes nothing. Errors are logged: the caller is told the outcome anyway.
func (s *session) record(out Outcome, detail string) {
	kind := tfps.NotificationKind("")
	switch out {
	case OutcomeFailed:
		kind = tfps.NotifyVerificationFailed
	case OutcomeBlocked:
		kind = tfps.NotifyAccountBlocked
	}
	_ = s.store(out, detail, nil, nil, kind)
}

// causeGrace is how long a session that found its channel gone waits for
// the event that says why before it counts the caller's hang-up.
const causeGrace = 2 * time.Second

// releaseTicket gives back the ticket this call claimed.
func (s *session) releaseTicket() {
	if s.t.ID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.f.Tickets.ReleaseTicket(ctx, s.t.ID, s.f.now()); err != nil {
		s.log.Warn("ticket of a call cut by Asterisk not given back", "ticket", s.t.ID, "err", err)
		return
	}
	s.log.Info("call cut by Asterisk: ticket given back for a new call", "ticket", s.t.ID)
}

func (s *session) recordHangup() {
	if s.user == "" || s.domain == "" {
		return
	}
	_ = s.store(OutcomeHangup, "caller hung up", nil, nil, "")
}

// eventOutcome maps a session outcome to the verification event's outcome.
func eventOutcome(out Outcome, detail string) string {
	switch {
	case out == OutcomeVerified:
		return "success"
	case out == OutcomeFailed && detail == "no input":
		return "timeout"
	case out == OutcomeFailed:
		return "failure"
	case out == OutcomeTicketInvalid:
		return "expired"
	}
	return string(out)
}

// store runs the Recorder with a context of its own: the call's context
// may already be cancelled by the hang-up.
func (s *session) store(out Outcome, detail string, create *tfps.Account, update func(*tfps.Account) error, kind tfps.NotificationKind) error {
	return s.storeChange(out, detail, create, update, "", kind)
}

// storeChange is store with a number range the account verified.
func (s *session) storeChange(out Outcome, detail string, create *tfps.Account, update func(*tfps.Account) error, allowRange string, kind tfps.NotificationKind) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := s.f.now().UTC()
	caller := s.t.Caller
	if caller == "" {
		caller = s.info.CallerID
	}
	method := s.method
	if out == OutcomeTicketInvalid {
		method = ""
	}
	rec := &tfps.VerificationRecord{
		User: s.user, Domain: s.domain, Create: create, Update: update, AllowRange: allowRange,
		Event: tfps.VerificationEvent{
			At: now, User: s.user, Domain: s.domain, Ticket: s.t.ID, Flow: string(s.flow), Method: method,
			Outcome: eventOutcome(out, detail), SourceIP: s.t.SourceIP, Country: s.t.Country,
			Caller: caller, Number: s.t.Number, Detail: detail,
		},
	}
	if kind != "" {
		rec.Notify = func(a *tfps.Account) []tfps.Notification {
			n := tfps.Notification{
				ID: notificationID(s, kind), Kind: kind, At: now, User: s.user, Domain: s.domain,
				SourceIP: s.t.SourceIP, Caller: caller, Number: s.t.Number, Range: s.t.Range, Flow: string(s.flow), Detail: detail,
				Count: s.failures, Limit: s.f.Opts.MaxFailures, OffHours: s.flow == engine.FlowQuotaOff || s.flow == engine.FlowConcurrentOff,
			}
			switch s.flow {
			case engine.FlowSourceCountry:
				n.SourceCountry = s.t.Country
			case engine.FlowDestinationCountry, engine.FlowDestinationConfirm:
				n.DestinationCountry = s.t.Country
			}
			if a != nil {
				n.Email = a.Email
				n.ConcurrentCalls, n.ConcurrentCallsOff = a.ConcurrentCalls, a.ConcurrentCallsOff
				n.DailyQuota, n.DailyQuotaOff = a.DailyQuota, a.DailyQuotaOff
				switch kind {
				case tfps.NotifySourceCountryAdded:
					n.Countries = a.SourceCountries
				case tfps.NotifyDestinationCountryAdded:
					n.Countries = a.DestinationCountries
				}
			}
			return []tfps.Notification{n}
		}
	}
	if err := s.f.Recorder.RecordVerification(ctx, rec); err != nil {
		s.log.Error("record verification outcome", "outcome", out, "err", err)
		return fmt.Errorf("record outcome: %w", err)
	}
	return nil
}

// notificationID makes queueing idempotent per ticket (or channel) and kind.
func notificationID(s *session, kind tfps.NotificationKind) string {
	return "ivr:" + s.ref() + ":" + string(kind)
}

func (s *session) input(in Input) Input {
	o := &s.f.Opts
	if in.First == 0 {
		in.First = o.FirstDigit
	}
	if in.InterDigit == 0 {
		in.InterDigit = o.InterDigit
	}
	if in.Total == 0 {
		in.Total = o.InputTotal
	}
	return in
}

func (s *session) ask(ctx context.Context, in Input, id prompts.ID) (string, error) {
	m, err := s.media(ctx, id)
	if err != nil {
		return "", err
	}
	return s.call.Ask(ctx, s.input(in), m)
}

func (s *session) media(ctx context.Context, id prompts.ID) (string, error) {
	m, err := s.f.Prompts.Media(ctx, s.lang, id)
	if err != nil {
		return "", fmt.Errorf("prompt %s: %w", id, err)
	}
	return m, nil
}

// mediaOrEmpty returns "" (skipped) for a prompt that cannot be resolved,
// logging it: a missing sentence must not end a call that went well.
func (s *session) mediaOrEmpty(ctx context.Context, id prompts.ID) string {
	m, err := s.media(ctx, id)
	if err != nil {
		s.log.Warn("prompt unavailable", "prompt", id, "err", err)
		return ""
	}
	return m
}

func (s *session) say(ctx context.Context, ids ...prompts.ID) error {
	var media []string
	for _, id := range ids {
		media = append(media, s.mediaOrEmpty(ctx, id))
	}
	return s.call.Play(ctx, compact(media)...)
}

func compact(media []string) []string {
	return slices.DeleteFunc(slices.Clone(media), func(m string) bool { return m == "" })
}

func (f *Flows) now() time.Time {
	if f.Now == nil {
		return time.Now()
	}
	return f.Now()
}

// ownAccountFrom is the account a user of a service provider's domain gets
// when a verification passes while they had none: the default account's
// limits, countries, zone, hours and language, under their own name, and
// nothing that belongs to the default's holder (PIN, e-mail, block,
// proved limits).
func ownAccountFrom(d *tfps.Account, user string) *tfps.Account {
	a := *d
	a.ID, a.User, a.Email, a.PINHash, a.Blocked, a.Verified = 0, user, "", "", false, nil
	a.SourceCountries = slices.Clone(d.SourceCountries)
	a.DestinationCountries = slices.Clone(d.DestinationCountries)
	a.CreatedAt, a.UpdatedAt = time.Time{}, time.Time{}
	return &a
}

// unavailable reports whether err says Redis did not answer, so the write
// may be tried again.
func unavailable(err error) bool { return errors.Is(err, tfps.ErrUnavailable) }

package engine

import (
	"context"

	"github.com/voipshield/tfps"
)

// Check is one rule of the policy. The engine runs its checks in order; the
// first that does not pass decides (see Engine.Checks for the order).
//
// A check that needs Redis does not read Redis itself: it adds a Step with
// Eval.Count and returns that call's verdict. The engine sends every step of
// the checks that ran in one round trip, after the pure checks, and the first
// failing step decides, unless an earlier pure check already decided (its
// later steps are then never sent, so their counters stay untouched).
type Check interface {
	Name() string // stable, snake_case: shown in decisions, logs and docs
	Check(ctx context.Context, ev *Eval) (Verdict, error)
}

// CheckFunc adapts a function to a Check.
func CheckFunc(name string, fn func(ctx context.Context, ev *Eval) (Verdict, error)) Check {
	return checkFunc{name, fn}
}

type checkFunc struct {
	name string
	fn   func(ctx context.Context, ev *Eval) (Verdict, error)
}

func (c checkFunc) Name() string { return c.name }
func (c checkFunc) Check(ctx context.Context, ev *Eval) (Verdict, error) {
	return c.fn(ctx, ev)
}

// Counted turns the Redis answer of a step into the check's verdict.
type Counted interface {
	Counted(ev *Eval, step *Step, r StepResult) Verdict
}

// Verdict is a check's answer. The zero Verdict passes.
type Verdict struct {
	Result  Result // 0: pass
	Code    Code
	Reason  string
	Country string // verify: the country the flow adds
	Range   string // verify: the number range of risky_range / range_hopping
	// Observed is what a limit verification must cover: the concurrent
	// calls now (V08/V09); the ticket carries it to the IVR.
	Observed int
	counted  bool // the answer comes from the Redis round trip
}

// Pass is the verdict of a check that found nothing wrong.
func Pass() Verdict { return Verdict{} }

// RejectWith rejects with code and a precise reason.
func RejectWith(code Code, reason string) Verdict {
	return Verdict{Result: Reject, Code: code, Reason: reason}
}

// VerifyWith asks for the verify flow of code (a V code); country is the
// source or destination country the flow would add, if any.
func VerifyWith(code Code, country, reason string) Verdict {
	return Verdict{Result: Verify, Code: code, Country: country, Reason: reason}
}

// Eval is the state of one decision while its checks run: the call, the facts
// found so far and the steps queued for Redis. Checks read the cached account
// and lists through it.
type Eval struct {
	Call    *Call
	Facts   Facts
	Account *tfps.Account // set by the account check; nil before it or when unknown
	// Default: Account is the domain's default account, standing in for
	// an unknown user (Call.User keeps the real user's counters).
	Default bool

	accountRead bool      // the account was looked up (found or not, or the lookup failed)
	premium     string    // the premium range of the number (numbering.Destination.Premium)
	ruleTrip    *RuleTrip // the fraud-rule threshold the call reached

	eng      *Engine
	snap     *snapshot
	steps    []Step
	counters []pendingStep
	stepBuf  [8]Step // backing arrays: no growth for the usual steps (A->B, failures, quota, range, rules)
	countBuf [8]pendingStep
}

type pendingStep struct {
	check string
	by    Counted
}

// Count queues a Redis step for this decision; by turns its answer into the
// verdict. The returned verdict tells the engine to go on with the next check.
func (ev *Eval) Count(check string, s Step, by Counted) Verdict {
	ev.steps = append(ev.steps, s)
	ev.counters = append(ev.counters, pendingStep{check, by})
	return Verdict{counted: true}
}

// hours fills the business-hours facts of the call (off hours, local date),
// computing them once, with the account's schedule (the operator's before
// the account is known).
func (ev *Eval) hours() {
	if ev.Facts.LocalDate != "" {
		return
	}
	s := ev.eng.schedules.of(ev.Account)
	if s == nil {
		ev.Facts.LocalDate = ev.Call.Time.UTC().Format("2006-01-02")
		return
	}
	ev.Facts.OffHours = !s.InHours(ev.Call.Time)
	ev.Facts.LocalDate = s.LocalDate(ev.Call.Time)
}

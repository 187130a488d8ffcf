package ivr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/learning"
	"github.com/voipshield/tfps/pin"
	"github.com/voipshield/tfps/prompts"
)

// Suggester returns the limits an account's history trains (nil: not
// enough history yet, or learning is off). The IVR gets the same values as
// the API and tfpsctl (api.AccountHistory).
type Suggester func(ctx context.Context, a *tfps.Account, now time.Time) (*learning.Limits, error)

// menuEntry is one choice of the change-of-parameters menu: the key the
// caller presses, the prompt that offers it, and what it does. A nil
// action ends the menu.
type menuEntry struct {
	key    string
	prompt prompts.ID // "" for a key offered by another entry's prompt
	action func(m *menu, ctx context.Context) error
}

// changeMenu is the change-of-parameters menu, in the order it is offered.
// Its prompts say the keys; keep them together when editing.
var changeMenu = []menuEntry{
	{"1", prompts.MenuConcurrent, limitAction(limitConcurrent)},
	{"2", prompts.MenuConcurrentOff, limitAction(limitConcurrentOff)},
	{"3", prompts.MenuQuota, limitAction(limitQuota)},
	{"4", prompts.MenuQuotaOff, limitAction(limitQuotaOff)},
	{"5", prompts.MenuLanguage, (*menu).language},
	{"6", prompts.MenuPIN, (*menu).pin},
	{"7", prompts.MenuHear, (*menu).hear},
	{"8", prompts.MenuAccept, (*menu).accept},
	{"0", prompts.MenuDone, nil},
	{"#", "", nil},
}

// maxMenuChoices bounds the choices of one call: the call is not a place
// to stay forever.
const maxMenuChoices = 30

// limit is one of the four limits the menu sets.
type limit struct {
	name      string
	ask, read prompts.ID
	in        Input
	field     func(a *tfps.Account) *int
	ceiling   func(o *Options) int
}

var (
	limitConcurrent = limit{"concurrent_calls", prompts.AskConcurrent, prompts.ReadConcurrent, Input{Max: 1},
		func(a *tfps.Account) *int { return &a.ConcurrentCalls }, concurrentCeiling}
	limitConcurrentOff = limit{"concurrent_calls_off", prompts.AskConcurrentOff, prompts.ReadConcurrentOff, Input{Max: 1},
		func(a *tfps.Account) *int { return &a.ConcurrentCallsOff }, concurrentCeiling}
	// Quotas take up to two digits and the #: three keys, so the # ends
	// the answer instead of reaching the confirmation (a third digit is
	// out of range).
	limitQuota = limit{"daily_quota", prompts.AskQuota, prompts.ReadQuota, Input{Max: 3, Terminator: "#"},
		func(a *tfps.Account) *int { return &a.DailyQuota }, quotaCeiling}
	limitQuotaOff = limit{"daily_quota_off", prompts.AskQuotaOff, prompts.ReadQuotaOff, Input{Max: 3, Terminator: "#"},
		func(a *tfps.Account) *int { return &a.DailyQuotaOff }, quotaCeiling}
	limits = []limit{limitConcurrent, limitConcurrentOff, limitQuota, limitQuotaOff}
)

// concurrentCeiling: one digit, and never above TFPS_MAX_CONCURRENT.
func concurrentCeiling(o *Options) int { return min(9, max(o.MaxConcurrent, 1)) }

// quotaCeiling: two digits, and never above TFPS_MAX_QUOTA when set.
func quotaCeiling(o *Options) int {
	if o.MaxQuota > 0 {
		return min(99, o.MaxQuota)
	}
	return 99
}

// menu is the state of one change-of-parameters call: the account as the
// caller leaves it so far and the confirmed edits, stored together when the
// caller is done (or hangs up).
type menu struct {
	s     *session
	cur   tfps.Account
	edits []func(a *tfps.Account)
	what  []string // names of the edited settings, for the log
}

func (m *menu) edit(what string, f func(a *tfps.Account)) {
	f(&m.cur)
	m.edits = append(m.edits, f)
	m.what = append(m.what, what)
}

// update applies the confirmed edits to the account read in the storing
// transaction: a setting the caller did not touch keeps its stored value.
func (m *menu) update(a *tfps.Account) error {
	for _, f := range m.edits {
		f(a)
	}
	return nil
}

// runChangeMenu offers the menu until the caller is done, misses
// Opts.InputTries choices in a row, or hangs up; it returns the confirmed
// edits in m even when err is set.
func (s *session) runChangeMenu(ctx context.Context) (*menu, error) {
	m := &menu{s: s, cur: *s.acct}
	var offer []prompts.ID
	for _, e := range changeMenu {
		if e.prompt != "" {
			offer = append(offer, e.prompt)
		}
	}
	misses := 0
	for range maxMenuChoices {
		var media []string
		for _, id := range offer {
			media = append(media, s.mediaOrEmpty(ctx, id))
		}
		key, err := s.call.Ask(ctx, s.input(Input{Max: 1}), compact(media)...)
		if errors.Is(err, ErrNoInput) {
			key = ""
		} else if err != nil {
			return m, err
		}
		i := -1
		for j, e := range changeMenu {
			if e.key == key {
				i = j
			}
		}
		if i < 0 {
			misses++
			s.log.Info("menu: no valid choice", "typed", key, "try", misses)
			if err := s.say(ctx, missOrInvalid(key == "")); err != nil {
				return m, err
			}
			if misses >= max(s.f.Opts.InputTries, 1) {
				return m, nil
			}
			continue
		}
		misses = 0
		e := changeMenu[i]
		if e.action == nil {
			return m, nil
		}
		s.log.Info("menu choice", "key", e.key)
		if err := e.action(m, ctx); err != nil {
			return m, err
		}
	}
	return m, nil
}

func missOrInvalid(noInput bool) prompts.ID {
	if noInput {
		return prompts.NoInput
	}
	return prompts.InvalidAnswer
}

// limitAction asks a value of l, reads it back and stores it in the menu
// when the caller confirms it.
func limitAction(l limit) func(m *menu, ctx context.Context) error {
	return func(m *menu, ctx context.Context) error {
		s := m.s
		v, ok, err := s.askNumber(ctx, l.ask, l.in, 1, l.ceiling(&s.f.Opts))
		if err != nil || !ok {
			return err
		}
		yes, err := s.confirm(ctx, s.mediaOrEmpty(ctx, l.read), "number:"+strconv.Itoa(v))
		if err != nil || !yes {
			return err
		}
		m.edit(l.name, func(a *tfps.Account) { *l.field(a) = v })
		return nil
	}
}

// confirm plays what is read back, then asks "1 yes, 2 no" up to
// Opts.InputTries times; no answer counts as no.
func (s *session) confirm(ctx context.Context, readBack ...string) (bool, error) {
	q, err := s.media(ctx, prompts.Confirm)
	if err != nil {
		return false, err
	}
	for try := 1; try <= max(s.f.Opts.InputTries, 1); try++ {
		typed, err := s.call.Ask(ctx, s.input(Input{Max: 1}), append(compact(readBack), q)...)
		noInput := errors.Is(err, ErrNoInput)
		if err != nil && !noInput {
			return false, err
		}
		switch typed {
		case "1":
			return true, nil
		case "2":
			return false, nil
		}
		s.log.Info("confirmation: invalid answer", "typed", typed, "try", try)
		if err := s.say(ctx, missOrInvalid(noInput)); err != nil {
			return false, err
		}
	}
	return false, nil
}

// language offers every language of the catalogue, each announced in its
// own language with its key (askLanguage, the same offer as everywhere),
// and keeps the confirmed one: the call speaks it at once.
func (m *menu) language(ctx context.Context) error {
	s := m.s
	before := s.lang
	for try := 1; try <= max(s.f.Opts.InputTries, 1); try++ {
		lang, err := s.askLanguage(ctx)
		if err != nil {
			return err
		}
		if lang == "" {
			continue // nothing, #, or a key that names no language: asked again
		}
		is, err := s.f.Prompts.Media(ctx, lang, prompts.LanguageIs)
		if err != nil {
			return fmt.Errorf("prompt %s/%s: %w", lang, prompts.LanguageIs, err)
		}
		yes, err := s.confirm(ctx, is)
		if err != nil {
			return err
		}
		if !yes {
			if s.lang != before {
				s.lang = before
				return s.call.SetLanguage(ctx, before)
			}
			return nil
		}
		m.edit("language", func(a *tfps.Account) { a.Language = lang })
		return nil
	}
	return nil
}

// pin sets a new PIN, typed twice.
func (m *menu) pin(ctx context.Context) error {
	h, ok, err := m.s.askNewPIN(ctx)
	if err != nil || !ok {
		return err
	}
	m.edit("pin", func(a *tfps.Account) { a.PINHash = h })
	return m.s.say(ctx, prompts.PINSet)
}

// askNewPIN asks a new PIN and the same again, up to Opts.InputTries
// times, and returns its hash (pin.Hash, as the API stores it).
func (s *session) askNewPIN(ctx context.Context) (string, bool, error) {
	// One key more than a PIN: the # the prompt asks for ends the answer
	// itself instead of reaching the next question.
	in := Input{Max: pin.Length + 1, Terminator: "#"}
	for try := 1; try <= max(s.f.Opts.InputTries, 1); try++ {
		first, err := s.ask(ctx, in, prompts.PINNew)
		noInput := errors.Is(err, ErrNoInput)
		if err != nil && !noInput {
			return "", false, err
		}
		if !pin.Valid(first) {
			s.log.Info("new PIN: invalid answer", "try", try)
			if err := s.say(ctx, missOrInvalid(noInput)); err != nil {
				return "", false, err
			}
			continue
		}
		again, err := s.ask(ctx, in, prompts.PINAgain)
		if err != nil && !errors.Is(err, ErrNoInput) {
			return "", false, err
		}
		if again != first {
			s.log.Info("new PIN: the two entries differ", "try", try)
			if err := s.say(ctx, prompts.PINMismatch); err != nil {
				return "", false, err
			}
			continue
		}
		h, err := pin.Hash(first)
		if err != nil {
			return "", false, fmt.Errorf("hash new PIN: %w", err)
		}
		return h, true, nil
	}
	return "", false, nil
}

// readLimits is the read-back of four limits.
func (s *session) readLimits(ctx context.Context, l learning.Limits) []string {
	var out []string
	for _, x := range []struct {
		id prompts.ID
		v  int
	}{{prompts.ReadConcurrent, l.ConcurrentCalls}, {prompts.ReadConcurrentOff, l.ConcurrentCallsOff},
		{prompts.ReadQuota, l.DailyQuota}, {prompts.ReadQuotaOff, l.DailyQuotaOff}} {
		out = append(out, s.mediaOrEmpty(ctx, x.id), "number:"+strconv.Itoa(x.v))
	}
	return out
}

// suggested returns the account's trained limits, nil when there are none
// yet or they cannot be read (logged: the menu goes on).
func (m *menu) suggested(ctx context.Context) *learning.Limits {
	s := m.s
	if s.f.Suggest == nil {
		return nil
	}
	l, err := s.f.Suggest(ctx, s.acct, s.f.now())
	if err != nil {
		s.log.Warn("trained limits unavailable", "err", err)
		return nil
	}
	return l
}

// hear reads the settings as they are now (with this call's changes) and
// the trained suggestions.
func (m *menu) hear(ctx context.Context) error {
	s := m.s
	media := s.readLimits(ctx, learning.Of(&m.cur))
	if sug := m.suggested(ctx); sug != nil {
		media = append(media, s.mediaOrEmpty(ctx, prompts.Suggested))
		media = append(media, s.readLimits(ctx, *sug)...)
	} else {
		media = append(media, s.mediaOrEmpty(ctx, prompts.NoSuggestion))
	}
	return s.call.Play(ctx, compact(media)...)
}

// accept reads the trained suggestions back and takes all four when the
// caller confirms.
func (m *menu) accept(ctx context.Context) error {
	s := m.s
	sug := m.suggested(ctx)
	if sug == nil {
		return s.say(ctx, prompts.NoSuggestion)
	}
	read := append([]string{s.mediaOrEmpty(ctx, prompts.Suggested)}, s.readLimits(ctx, *sug)...)
	yes, err := s.confirm(ctx, read...)
	if err != nil || !yes {
		return err
	}
	trained := tfps.Account{ConcurrentCalls: sug.ConcurrentCalls, ConcurrentCallsOff: sug.ConcurrentCallsOff,
		DailyQuota: sug.DailyQuota, DailyQuotaOff: sug.DailyQuotaOff}
	for _, x := range limits {
		if v := *x.field(&trained); v > 0 {
			m.edit(x.name, func(a *tfps.Account) { *x.field(a) = v })
		}
	}
	return nil
}

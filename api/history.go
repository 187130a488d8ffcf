package api

import (
	"context"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/learning"
	"github.com/voipshield/tfps/pin"
)

// History is an account's daily statistics and what learning trained from
// them (GET /v1/accounts/{domain}/{user}/history).
type History struct {
	User   string `json:"user"`
	Domain string `json:"domain"`
	Today  string `json:"today"` // the account's local date now
	// Learning is TFPS_LEARNING: off, suggest or apply.
	Learning string `json:"learning"`
	// Limits are the account's limits now.
	Limits learning.Limits `json:"limits"`
	// Days are the days with calls among the last Days asked for (today
	// included, not over), oldest first.
	Days []tfps.DayStats `json:"days"`
	// Trained is what the whole kept history (TFPS_HISTORY_DAYS) teaches;
	// absent when learning is off.
	Trained *learning.Trained `json:"trained,omitempty"`
	// Differs: a limit differs from its trained value by more than
	// TFPS_LEARNING_DIFF_PERCENT (the weekly digest names the account).
	Differs bool `json:"differs"`
}

// DefaultHistoryDays is the days a history shows when none are asked for.
const DefaultHistoryDays = 30

// History returns the account's daily history of the last days days
// (0: DefaultHistoryDays) and its trained values.
func (s *Local) History(ctx context.Context, user, domain string, days int) (*History, error) {
	if err := account(user, domain); err != nil {
		return nil, err
	}
	c := s.Config
	if c == nil {
		c = &config.Config{}
	}
	keep := max(c.Learning.HistoryDays, 1)
	if days == 0 {
		days = min(DefaultHistoryDays, keep)
	}
	if days < 1 || days > keep {
		return nil, invalid("days", "%d is outside 1..%d (TFPS_HISTORY_DAYS)", days, keep)
	}
	a, err := s.Store.GetAccount(ctx, user, domain)
	if err != nil {
		return nil, err
	}
	h, err := AccountHistory(ctx, s.Store, c, a, s.now())
	if err != nil {
		return nil, err
	}
	t, _ := time.Parse("2006-01-02", h.Today)
	from := t.AddDate(0, 0, 1-days).Format("2006-01-02")
	shown := []tfps.DayStats{}
	for _, d := range h.Days {
		if d.Date >= from {
			shown = append(shown, d)
		}
	}
	h.Days = shown
	return h, nil
}

// HistoryStore reads daily statistics (store.Store).
type HistoryStore interface {
	DailyStats(ctx context.Context, user, domain, from, to string) ([]tfps.DayStats, error)
}

// AccountHistory reads a's whole kept history up to today and trains it
// under c: the API, tfpsctl and the gateway's learning loop share it.
func AccountHistory(ctx context.Context, st HistoryStore, c *config.Config, a *tfps.Account, now time.Time) (*History, error) {
	sched := engine.AccountSchedule(c.BusinessHours, a)
	today := now.UTC().Format("2006-01-02")
	if sched != nil {
		today = sched.LocalDate(now)
	}
	from, _, err := learning.Window(today, c.Learning.HistoryDays)
	if err != nil {
		return nil, err
	}
	days, err := st.DailyStats(ctx, a.User, a.Domain, from, today)
	if err != nil {
		return nil, err
	}
	h := &History{User: a.User, Domain: a.Domain, Today: today, Learning: c.Learning.Mode, Limits: learning.Of(a), Days: days}
	if h.Days == nil {
		h.Days = []tfps.DayStats{}
	}
	if h.Learning == "" {
		h.Learning = config.LearningSuggest
	}
	if h.Learning != config.LearningOff {
		t := learning.Train(days, today, sched, learning.OptionsFrom(c))
		h.Trained = &t
		h.Differs = t.Suggested != nil && learning.Differs(h.Limits, *t.Suggested, c.Learning.DiffPercent)
	}
	return h, nil
}

// PINInput is the body of PUT /v1/accounts/{domain}/{user}/pin.
type PINInput struct {
	PIN string `json:"pin"`
}

// SetPIN gives the account its own PIN (4 digits), stored as a PBKDF2
// hash; the installation's TFPS_PIN no longer opens its verifications.
func (s *Local) SetPIN(ctx context.Context, user, domain, p string) (*Account, error) {
	if !pin.Valid(p) {
		return nil, invalid("pin", "must be exactly %d digits", pin.Length)
	}
	h, err := pin.Hash(p)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, user, domain, func(a *tfps.Account) error {
		a.PINHash = h
		return nil
	})
}

// ClearPIN removes the account's own PIN: TFPS_PIN applies again.
func (s *Local) ClearPIN(ctx context.Context, user, domain string) (*Account, error) {
	return s.change(ctx, user, domain, func(a *tfps.Account) error {
		a.PINHash = ""
		return nil
	})
}

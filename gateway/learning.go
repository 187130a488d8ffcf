package gateway

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/learning"
	"github.com/voipshield/tfps/store"
)

// learnEvery is how often the learning loop looks at the accounts: an
// account's limits change within this time after its local midnight.
const learnEvery = 5 * time.Minute

// startLearning runs the learning loop unless TFPS_LEARNING=off. In apply
// mode, the first round that sees an account on a new local date sets its
// limits to the trained values (its local midnight; the first date a
// gateway sees only marks it, so a restart at noon changes nothing before
// the next midnight). In suggest mode, an account whose limits differ from
// the trained values is mailed at most every TFPS_LEARNING_DIGEST_EVERY.
// Marks live in SQL (account_learning) and mails have fixed ids, so
// several gateways may run it.
func (m *Main) startLearning() error {
	mode := m.Config.Learning.Mode
	if mode == config.LearningOff {
		return nil
	}
	changed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tfps_learning_actions_total",
		Help: "Learning actions: limits applied at an account's local midnight, digest mails queued.",
	}, []string{"action"})
	if err := m.Registry.Register(changed); err != nil {
		return fmt.Errorf("start learning: %w", err)
	}
	every := learnEvery
	if m.LearnEvery > 0 {
		every = m.LearnEvery
	}
	m.every(every, every, func(ctx context.Context) {
		applied, mailed, err := m.learnRound(ctx, m.clock())
		changed.WithLabelValues("applied").Add(float64(applied))
		changed.WithLabelValues("digest").Add(float64(mailed))
		if err != nil && ctx.Err() == nil {
			m.Logger.Warn("learning round", "err", err)
		}
	})
	return nil
}

// learnRound looks at every account once at now.
func (m *Main) learnRound(ctx context.Context, now time.Time) (applied, mailed int, err error) {
	const page = 500
	for offset := 0; ; offset += page {
		list, total, err := m.Store.ListAccounts(ctx, tfps.AccountFilter{Offset: offset, Limit: page})
		if err != nil {
			return applied, mailed, err
		}
		for _, a := range list {
			did, err := m.learnAccount(ctx, a, now)
			if err != nil {
				m.Logger.Warn("learning", "user", a.User, "domain", a.Domain, "err", err)
				continue
			}
			if did && m.Config.Learning.Mode == config.LearningApply {
				applied++
			} else if did {
				mailed++
			}
		}
		if offset+len(list) >= total || len(list) == 0 {
			break
		}
	}
	if applied > 0 {
		_ = m.Engine.Refresh(ctx) // other gateways see the change version
	}
	return applied, mailed, nil
}

func limitsText(l learning.Limits) string {
	return fmt.Sprintf("%d/%d concurrent calls, %d/%d calls a day (in/off hours)", l.ConcurrentCalls, l.ConcurrentCallsOff, l.DailyQuota, l.DailyQuotaOff)
}

// learnAccount applies or mails what a's history trains; true when it did.
func (m *Main) learnAccount(ctx context.Context, a *tfps.Account, now time.Time) (bool, error) {
	h, err := api.AccountHistory(ctx, m.Store, m.Config, a, now)
	if err != nil {
		return false, err
	}
	if m.Config.Learning.Mode == config.LearningApply {
		return m.applyTrained(ctx, a, h, now)
	}
	if h.Trained == nil || h.Trained.Suggested == nil || !h.Differs {
		return false, nil
	}
	last, err := m.Store.LearningMark(ctx, a.User, a.Domain, store.MarkDigest)
	if err != nil {
		return false, err
	}
	if last != "" {
		if t, err := time.Parse("2006-01-02", last); err == nil && now.Sub(t) < m.Config.Learning.DigestEvery {
			return false, nil
		}
	}
	sug := *h.Trained.Suggested
	n := &tfps.Notification{
		ID: "learning-digest-" + a.User + "@" + a.Domain + "-" + h.Today, Kind: tfps.NotifyLearningDigest, At: now,
		User: a.User, Domain: a.Domain, Email: a.Email,
		ConcurrentCalls: a.ConcurrentCalls, ConcurrentCallsOff: a.ConcurrentCallsOff, DailyQuota: a.DailyQuota, DailyQuotaOff: a.DailyQuotaOff,
		Fields: map[string]string{"trained": limitsText(sug), "percent": strconv.Itoa(m.Config.Learning.DiffPercent)},
		Detail: fmt.Sprintf("Trained from %d days of history (%s to %s).", h.Trained.Days, h.Trained.From, h.Trained.To),
	}
	err = m.Store.MarkLearningDigest(ctx, a.User, a.Domain, h.Today, now, n)
	return err == nil, err
}

// applyTrained sets a's limits to the trained values on the first round
// of a new local date, recording and mailing the change.
func (m *Main) applyTrained(ctx context.Context, a *tfps.Account, h *api.History, now time.Time) (bool, error) {
	last, err := m.Store.LearningMark(ctx, a.User, a.Domain, store.MarkApply)
	if err != nil || last == h.Today {
		return false, err
	}
	var change func(cur *tfps.Account) (*tfps.Notification, error)
	var before, sug learning.Limits
	if last != "" && h.Trained != nil && h.Trained.Suggested != nil {
		change = func(cur *tfps.Account) (*tfps.Notification, error) {
			before, sug = learning.Of(cur), *h.Trained.Suggested
			if before == sug {
				return nil, nil
			}
			cur.ConcurrentCalls, cur.ConcurrentCallsOff, cur.DailyQuota, cur.DailyQuotaOff = sug.ConcurrentCalls, sug.ConcurrentCallsOff, sug.DailyQuota, sug.DailyQuotaOff
			return &tfps.Notification{
				ID: "limits-learned-" + a.User + "@" + a.Domain + "-" + h.Today, Kind: tfps.NotifyLimitsLearned, At: now,
				User: a.User, Domain: a.Domain, Email: a.Email,
				ConcurrentCalls: sug.ConcurrentCalls, ConcurrentCallsOff: sug.ConcurrentCallsOff, DailyQuota: sug.DailyQuota, DailyQuotaOff: sug.DailyQuotaOff,
				Fields: map[string]string{"before": limitsText(before)},
				Detail: fmt.Sprintf("Trained from %d days of history (%s to %s).", h.Trained.Days, h.Trained.From, h.Trained.To),
			}, nil
		}
	}
	changed, err := m.Store.MarkLearningApply(ctx, a.User, a.Domain, h.Today, now, change)
	if changed {
		m.Logger.Info("limits learned", "user", a.User, "domain", a.Domain, "date", h.Today, "before", limitsText(before), "after", limitsText(sug))
	}
	return changed, err
}

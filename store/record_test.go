package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
)

// A verification is stored whole or not at all: when its mail cannot be
// queued, the account change and the event are gone too; when it can, the
// account, the allowed range, the event and the mail are all there.
func TestRecordVerificationIsAtomic(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.CreateAccount(ctx, &tfps.Account{User: "1001", Domain: "pbx.example", DailyQuota: 3}); err != nil {
			t.Fatal(err)
		}
		rec := func(kind tfps.NotificationKind) *tfps.VerificationRecord {
			return &tfps.VerificationRecord{
				User: "1001", Domain: "pbx.example", AllowRange: "4470",
				Update: func(a *tfps.Account) error { a.DailyQuota = 10; return nil },
				Event:  tfps.VerificationEvent{User: "1001", Domain: "pbx.example", Flow: "quota", Outcome: "success"},
				Notify: func(a *tfps.Account) []tfps.Notification {
					return []tfps.Notification{{ID: "ivr:t1:" + string(kind), Kind: kind, User: a.User, Domain: a.Domain, DailyQuota: a.DailyQuota}}
				},
			}
		}
		if err := s.RecordVerification(ctx, rec("no such kind")); tfps.ErrorCode(err) != tfps.EINVALID {
			t.Fatalf("bad notification: %v, want EINVALID", err)
		}
		a, err := s.GetAccount(ctx, "1001", "pbx.example")
		if err != nil || a.DailyQuota != 3 {
			t.Fatalf("after a failed record: quota %d, %v; want 3", a.DailyQuota, err)
		}
		if ev, err := s.VerificationEvents(ctx, "1001", "pbx.example", 10); err != nil || len(ev) != 0 {
			t.Fatalf("after a failed record: events %v, %v", ev, err)
		}

		if err := s.RecordVerification(ctx, rec(tfps.NotifyQuotaRaised)); err != nil {
			t.Fatal(err)
		}
		a, err = s.GetAccount(ctx, "1001", "pbx.example")
		if err != nil || a.DailyQuota != 10 {
			t.Fatalf("quota %d, %v; want 10", a.DailyQuota, err)
		}
		if ev, err := s.VerificationEvents(ctx, "1001", "pbx.example", 10); err != nil || len(ev) != 1 || ev[0].Outcome != "success" {
			t.Fatalf("events %+v, %v; want the one success", ev, err)
		}
		_, allowed, err := s.RangeEntries(ctx)
		if err != nil || len(allowed) != 1 || allowed[0].Prefix != "4470" {
			t.Fatalf("allowed ranges %+v, %v", allowed, err)
		}
		rows, err := s.OutboxRows(ctx, "", 0)
		if err != nil || len(rows) != 1 || rows[0].Notification.DailyQuota != 10 {
			t.Fatalf("outbox %+v, %v; want the quota_raised mail with the new quota", rows, err)
		}
	})
}

// ChangeAccount stores what the function changed, and nothing when it fails.
func TestChangeAccount(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.CreateAccount(ctx, &tfps.Account{User: "1001", Domain: "pbx.example", ConcurrentCalls: 2}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("refused")
		if _, err := s.ChangeAccount(ctx, "1001", "pbx.example", func(a *tfps.Account) error { a.ConcurrentCalls = 9; return boom }); !errors.Is(err, boom) {
			t.Fatalf("failing change: %v", err)
		}
		got, err := s.ChangeAccount(ctx, "1001", "pbx.example", func(a *tfps.Account) error { a.ConcurrentCalls++; return nil })
		if err != nil || got.ConcurrentCalls != 3 {
			t.Fatalf("ChangeAccount = %+v, %v; want 3 concurrent calls", got, err)
		}
		if _, err := s.ChangeAccount(ctx, "nobody", "pbx.example", func(*tfps.Account) error { return nil }); tfps.ErrorCode(err) != tfps.ENOTFOUND {
			t.Errorf("unknown account: %v, want ENOTFOUND", err)
		}
	})
}

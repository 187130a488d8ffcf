package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
)

var t0 = time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)

func alert(id string, kind tfps.NotificationKind, user string, at time.Time) *tfps.Notification {
	return &tfps.Notification{ID: id, Kind: kind, At: at, User: user, Domain: "pbx.example.com", Count: 7, Limit: 5}
}

func TestEnqueueIsIdempotentAndTransactional(t *testing.T) {
	forEachDialectAtT0(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		n := alert("same-id", tfps.NotifyNewAccount, "1001", t0)
		for range 2 {
			if err := s.Enqueue(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		// The account change fails after the outbox row was written: neither stays.
		boom := errors.New("account update failed")
		err := s.WithTx(ctx, func(tx *sql.Tx) error {
			if err := s.EnqueueIn(ctx, tx, alert("rolled-back", tfps.NotifyNewAccount, "1002", t0)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("withTx: %v", err)
		}
		rows, err := s.OutboxRows(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Notification.ID != "same-id" || rows[0].State != tfps.OutboxPending {
			t.Fatalf("outbox %+v, want only same-id pending", rows)
		}
		if got := rows[0].Notification; got.Count != 7 || !got.At.Equal(t0) || got.Account() != "1001@pbx.example.com" {
			t.Errorf("notification did not survive the round trip: %+v", got)
		}

		generated := &tfps.Notification{Kind: tfps.NotifyQuotaRaised}
		if err := s.Enqueue(ctx, generated); err != nil {
			t.Fatal(err)
		}
		if len(generated.ID) != 32 || generated.At.IsZero() {
			t.Errorf("generated id %q at %v", generated.ID, generated.At)
		}
		if err := s.Enqueue(ctx, &tfps.Notification{Kind: "nonsense", At: t0}); tfps.ErrorCode(err) != tfps.EINVALID {
			t.Errorf("unknown kind: %v, want EINVALID", err)
		}
	})
}

func TestClaimLeasesEachRowToOneWorker(t *testing.T) {
	forEachDialectAtT0(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const n = 40
		for i := range n {
			if err := s.Enqueue(ctx, alert(fmt.Sprintf("n%02d", i), tfps.NotifyNewAccount, fmt.Sprint(i), t0)); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		claimedBy := map[string]string{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("w%d", w)
				for {
					got, err := s.ClaimOutbox(ctx, owner, t0, time.Minute, 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, e := range got {
						if prev, dup := claimedBy[e.Notification.ID]; dup {
							t.Errorf("%s claimed by %s and %s", e.Notification.ID, prev, owner)
						}
						claimedBy[e.Notification.ID] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(claimedBy) != n {
			t.Fatalf("%d rows claimed, want %d", len(claimedBy), n)
		}
		// While leased, nobody else gets them; after the lease, they are due again.
		if got, _ := s.ClaimOutbox(ctx, "late", t0.Add(30*time.Second), time.Minute, 100); len(got) != 0 {
			t.Errorf("claimed %d leased rows", len(got))
		}
		if got, _ := s.ClaimOutbox(ctx, "late", t0.Add(61*time.Second), time.Minute, 100); len(got) != n {
			t.Errorf("after the lease ended: claimed %d, want %d", len(got), n)
		}
	})
}

func TestRetryCompleteFail(t *testing.T) {
	forEachDialectAtT0(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		s.Enqueue(ctx, alert("a", tfps.NotifyNewAccount, "1001", t0))
		got, err := s.ClaimOutbox(ctx, "w1", t0, time.Minute, 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim: %v %v", got, err)
		}
		e := got[0]
		e.LastError = "smtp connect failed"
		if err := s.RetryOutbox(ctx, &e, "w1", t0.Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ClaimOutbox(ctx, "w1", t0.Add(29*time.Second), time.Minute, 10); len(got) != 0 {
			t.Errorf("claimed before its next attempt time")
		}
		got, _ = s.ClaimOutbox(ctx, "w2", t0.Add(30*time.Second), time.Minute, 10)
		if len(got) != 1 || got[0].Attempts != 1 || got[0].LastError != "smtp connect failed" {
			t.Fatalf("after retry: %+v", got)
		}
		// w1's lease is gone: it may not record an outcome any more.
		if err := s.CompleteOutbox(ctx, &e, "w1", t0, 0); !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("complete without the lease: %v, want ErrLeaseLost", err)
		}
		e = got[0]
		e.Delivered, e.LastError = []string{"email"}, ""
		if err := s.CompleteOutbox(ctx, &e, "w2", t0.Add(31*time.Second), 0); err != nil {
			t.Fatal(err)
		}
		rows, _ := s.OutboxRows(ctx, tfps.OutboxSent, 0)
		if len(rows) != 1 || !rows[0].SentAt.Equal(t0.Add(31*time.Second)) || rows[0].Delivered[0] != "email" {
			t.Fatalf("sent rows %+v", rows)
		}
		if got, _ := s.ClaimOutbox(ctx, "w3", t0.Add(time.Hour), time.Minute, 10); len(got) != 0 {
			t.Errorf("a sent row was claimed again")
		}

		s.Enqueue(ctx, alert("b", tfps.NotifyNewAccount, "1002", t0))
		got, _ = s.ClaimOutbox(ctx, "w1", t0, time.Minute, 10)
		got[0].LastError = "smtp auth failed"
		if err := s.FailOutbox(ctx, &got[0], "w1", t0); err != nil {
			t.Fatal(err)
		}
		if n, _, _ := s.OutboxBacklog(ctx); n != 0 {
			t.Errorf("backlog %d after failing the last row", n)
		}
		if err := s.RequeueOutbox(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if n, _, _ := s.OutboxBacklog(ctx); n != 1 {
			t.Errorf("backlog %d after requeue, want 1", n)
		}
		if err := s.RequeueOutbox(ctx, "a"); tfps.ErrorCode(err) != tfps.ENOTFOUND {
			t.Errorf("requeue of a sent row: %v", err)
		}
	})
}

func TestThrottleDefersAndMerges(t *testing.T) {
	forEachDialectAtT0(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const interval = 25 * time.Minute
		s.Now = func() time.Time { return t0 }
		claimOne := func(at time.Time) tfps.OutboxEntry {
			t.Helper()
			got, err := s.ClaimOutbox(ctx, "w", at, time.Minute, 1)
			if err != nil || len(got) != 1 {
				t.Fatalf("claim at %s: %v %v", at, got, err)
			}
			return got[0]
		}
		s.Enqueue(ctx, alert("q1", tfps.NotifyQuotaExceeded, "1001", t0))
		e := claimOne(t0)
		until, summary, err := s.ThrottleOutbox(ctx, &e, "w", t0, time.Minute)
		if err != nil || !until.IsZero() || len(summary) != 0 {
			t.Fatalf("first alert: until %v summary %v err %v", until, summary, err)
		}
		if err := s.CompleteOutbox(ctx, &e, "w", t0, interval); err != nil {
			t.Fatal(err)
		}

		s.Enqueue(ctx, alert("q2", tfps.NotifyQuotaExceeded, "1001", t0.Add(time.Minute)))
		s.Enqueue(ctx, alert("q3", tfps.NotifyQuotaExceeded, "1001", t0.Add(2*time.Minute)))
		// Not throttled: another kind of the same account goes at once.
		s.Enqueue(ctx, alert("other", tfps.NotifyNewAccount, "1001", t0.Add(3*time.Minute)))
		due, err := s.ClaimOutbox(ctx, "w", t0.Add(3*time.Minute), time.Minute, 10)
		if err != nil || len(due) != 3 {
			t.Fatalf("claim: %d rows, %v", len(due), err)
		}
		for _, e := range due {
			until, summary, err := s.ThrottleOutbox(ctx, &e, "w", t0.Add(3*time.Minute), time.Minute)
			switch id := e.Notification.ID; {
			case err != nil:
				t.Fatal(err)
			case id == "other" && (e.RateKey != "" || !until.IsZero() || summary != nil):
				t.Errorf("account change throttled: until %v", until)
			case id == "other":
				if err := s.CompleteOutbox(ctx, &e, "w", t0.Add(3*time.Minute), interval); err != nil {
					t.Fatal(err)
				}
			case id != "other" && !until.Equal(t0.Add(interval)):
				t.Errorf("%s deferred until %v, want %v", id, until, t0.Add(interval))
			}
		}

		// At the end of the window the first due alert carries the others.
		e = claimOne(t0.Add(interval))
		until, summary, err = s.ThrottleOutbox(ctx, &e, "w", t0.Add(interval), time.Minute)
		if err != nil || !until.IsZero() {
			t.Fatalf("after the window: until %v err %v", until, err)
		}
		if e.Notification.ID != "q2" || len(summary) != 1 || summary[0].ID != "q3" {
			t.Fatalf("sent %s with summary %v, want q2 with q3", e.Notification.ID, summary)
		}
		if got, _ := s.ClaimOutbox(ctx, "w", t0.Add(interval), time.Minute, 10); len(got) != 0 {
			t.Errorf("merged alert still claimable: %+v", got)
		}
		merged, _ := s.OutboxRows(ctx, tfps.OutboxMerged, 0)
		if len(merged) != 1 || merged[0].MergedInto != "q2" {
			t.Errorf("merged rows %+v", merged)
		}
	})
}

func TestReleaseHandsARowBackAtOnce(t *testing.T) {
	forEachDialectAtT0(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		s.Enqueue(ctx, alert("r", tfps.NotifyNewAccount, "1001", t0))
		if got, _ := s.ClaimOutbox(ctx, "stopping", t0, time.Hour, 10); len(got) != 1 {
			t.Fatal("claim failed")
		}
		if err := s.ReleaseOutbox(ctx, "r", "someone-else"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ClaimOutbox(ctx, "next", t0, time.Hour, 10); len(got) != 0 {
			t.Fatal("a release by another owner freed the row")
		}
		if err := s.ReleaseOutbox(ctx, "r", "stopping"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ClaimOutbox(ctx, "next", t0, time.Hour, 10); len(got) != 1 || got[0].Attempts != 0 {
			t.Fatalf("after release: %+v", got)
		}
	})
}

// forEachDialectAtT0 runs fn on both dialects with the store's clock fixed at
// t0, so rows are stamped at the same instant the test claims them: with the
// wall clock they would only be due once real time passed t0.
func forEachDialectAtT0(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		s.Now = func() time.Time { return t0 }
		fn(t, s)
	})
}

package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// lostReplies is a decision log whose first writes reach the database but
// whose replies are lost (the connection drops after COMMIT): the writer
// sees an error for rows that are stored.
type lostReplies struct {
	*store.Store
	lose atomic.Int32
}

func (l *lostReplies) WriteDecisions(ctx context.Context, rows []tfps.DecisionRecord) error {
	if err := l.Store.WriteDecisions(ctx, rows); err != nil {
		return err
	}
	if l.lose.Add(-1) >= 0 {
		return errors.New("read tcp 127.0.0.1:5432: connection reset by peer")
	}
	return nil
}

// A write whose commit reached the database but whose reply was lost is
// written again, by the journal's drain or by the writer's retry; the
// decision log still holds every decision exactly once.
func TestLostReplyLogsEachDecisionOnce(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		for _, spill := range []bool{true, false} {
			name := dialect + "/retry"
			if spill {
				name = dialect + "/journal"
			}
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				db := storetest.MustOpen(t, dialect)
				log := &lostReplies{Store: db}
				log.lose.Store(3)
				deps := engine.Deps{Accounts: db, Lists: db, Changes: db, Log: log,
					Counters: state.NewDecideCounters(statetest.MustOpen(t)), Reputation: &testReputation{}}
				if spill {
					deps.Journal = openJournal(t, 1<<20)
				}
				opts := baseOptions(t)
				opts.ABRepeatLimit = 1000
				eng, err := engine.New(ctx, deps, opts)
				if err != nil {
					t.Fatal(err)
				}
				busyAccount(t, db, 100, 1000)
				if err := eng.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
				var ids []string
				for i := range 60 {
					c := call()
					if _, err := eng.Decide(ctx, c); err != nil {
						t.Fatal(err)
					}
					ids = append(ids, c.CallID)
					if i%10 == 9 {
						time.Sleep(20 * time.Millisecond) // several batches
					}
				}
				closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				if err := eng.Close(closeCtx); err != nil {
					t.Fatal(err)
				}
				if log.lose.Load() >= 0 {
					t.Fatalf("only %d replies lost, want 3", 3-log.lose.Load())
				}
				repeated := 0
				for _, id := range ids {
					rows, err := db.Decisions(ctx, store.DecisionFilter{CallID: id})
					if err != nil {
						t.Fatal(err)
					}
					if len(rows) == 0 {
						t.Errorf("call %s not logged", id)
					}
					repeated += max(len(rows)-1, 0)
				}
				if repeated > 0 {
					t.Errorf("%d decision-log rows written twice, want each decision once", repeated)
				}
			})
		}
	}
}

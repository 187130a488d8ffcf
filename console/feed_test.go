package console_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/console"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// The live feed sits between the engine and the decision log: it must keep
// the log's pauses between statements (engine.PacedDecisionLog), or a
// gateway with the console on would lose them, and still publish each row.
func TestFeedKeepsTheLogsPauses(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t, store.SQLite)
	feed := console.NewFeed()
	sub := feed.Subscribe(100)
	defer sub.Close()
	paced, ok := feed.Wrap(db).(engine.PacedDecisionLog)
	if !ok {
		t.Fatal("the feed's decision log does not take pauses")
	}
	var rows []tfps.DecisionRecord
	for i := range 60 {
		rows = append(rows, tfps.DecisionRecord{Key: "f" + strconv.Itoa(i), At: time.Now(), CallID: "f" + strconv.Itoa(i),
			User: "1001", Domain: "pbx.example", Result: "approve", Code: "A00"})
	}
	pauses := 0
	if err := paced.WriteDecisionsPaced(ctx, rows, func(context.Context) { pauses++ }); err != nil {
		t.Fatal(err)
	}
	if pauses != 1 {
		t.Errorf("%d pauses for two 50-row statements, want 1", pauses)
	}
	if len(sub.C) != 60 {
		t.Errorf("%d rows published, want 60", len(sub.C))
	}
	if n, err := db.CountDecisions(ctx); err != nil || n != 60 {
		t.Errorf("CountDecisions = %d, %v; want 60", n, err)
	}
}

package journal_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/journal"
)

func recs(ids ...string) []tfps.DecisionRecord {
	var out []tfps.DecisionRecord
	for _, id := range ids {
		out = append(out, tfps.DecisionRecord{CallID: id, User: "u"})
	}
	return out
}

func callIDs(rs []tfps.DecisionRecord) (out []string) {
	for _, r := range rs {
		out = append(out, r.CallID)
	}
	return out
}

// Rows come back oldest first across a reopen; a drained position survives
// the reopen; a torn last line (a crash mid-write) is cut, not misread; a
// journal over its limit refuses the batch whole.
func TestJournalOrderReopenTornLineAndLimit(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(recs("a", "b")); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(recs("c")); err != nil {
		t.Fatal(err)
	}
	got, next, err := j.Peek(2)
	if err != nil || len(got) != 2 || got[0].CallID != "a" || got[1].CallID != "b" {
		t.Fatalf("peek %v %v", callIDs(got), err)
	}
	if err := j.Commit(next); err != nil {
		t.Fatal(err)
	}
	j.Close()
	f, _ := os.OpenFile(filepath.Join(dir, "decision-journal.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte(`{"CallID":"torn`))
	f.Close()
	j, err = journal.Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, next, err = j.Peek(10)
	if err != nil || len(got) != 1 || got[0].CallID != "c" {
		t.Fatalf("after reopen: %v %v, want [c]", callIDs(got), err)
	}
	if err := j.Commit(next); err != nil || j.Pending() != 0 || j.Size() != 0 {
		t.Fatalf("drained journal: pending %d size %d, %v", j.Pending(), j.Size(), err)
	}
	small, err := journal.Open(t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := small.Append(recs("x", "y", "z")); !errors.Is(err, journal.ErrFull) {
		t.Errorf("append over the limit: %v, want ErrFull", err)
	}
}

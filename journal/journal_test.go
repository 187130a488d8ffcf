package journal_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/journal"
)

func write(t *testing.T, j *journal.Journal, ids ...string) (end int64) {
	t.Helper()
	for _, id := range ids {
		_, e, err := j.Write(&tfps.DecisionRecord{CallID: id, User: "u"})
		if err != nil {
			t.Fatalf("write %s: %v", id, err)
		}
		end = e
	}
	return end
}

func callIDs(rs []tfps.DecisionRecord) (out []string) {
	for _, r := range rs {
		out = append(out, r.CallID)
	}
	return out
}

// Rows come back oldest first across a reopen; a drained position survives
// the reopen; a torn last line (a crash mid-write) is cut, not misread; a
// journal over its limit refuses the row.
func TestJournalOrderReopenTornLineAndLimit(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	write(t, j, "a", "b", "c")
	if err := j.Sync(); err != nil {
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
	files, _ := filepath.Glob(filepath.Join(dir, "decision-journal.*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("journal files %v", files)
	}
	f, _ := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
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
	if err := j.Commit(next); err != nil || j.Pending() != 0 {
		t.Fatalf("drained journal: pending %d, %v", j.Pending(), err)
	}
	small, err := journal.Open(t.TempDir(), 500)
	if err != nil {
		t.Fatal(err)
	}
	write(t, small, "x")
	if _, _, err := small.Write(&tfps.DecisionRecord{CallID: "y", User: strings.Repeat("u", 100)}); !errors.Is(err, journal.ErrFull) {
		t.Errorf("write over the limit: %v, want ErrFull", err)
	}
}

// Rows written and never synced or closed (the process killed) are read
// back by the next Open: write(2) put them in the kernel's hands.
func TestJournalRowsSurviveWithoutClose(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	write(t, j, "a", "b")
	// No Sync, no Close: a second Open sees what the first wrote.
	k, err := journal.Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := k.Peek(10)
	if err != nil || strings.Join(callIDs(got), ",") != "a,b" {
		t.Fatalf("after a kill: %v %v, want [a b]", callIDs(got), err)
	}
}

// Under a steady load the drained head is compacted away: the file stays
// small, offsets keep growing, the pending rows survive the move and a
// reopen, and one file is left.
func TestJournalCompactsDrainedHead(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	n, compacted := 0, false
	for !compacted && j.Size() < journal.CompactBytes+1<<20 {
		ids := make([]string, 1000)
		for i := range ids {
			ids[i] = "c" + string(rune('a'+n%26))
			n++
		}
		end := write(t, j, ids...)
		before := j.Size()
		// Drain all but the last row, as the writer does under load.
		rows, next, err := j.Peek(999)
		if err != nil || len(rows) != 999 {
			t.Fatalf("peek: %d rows, %v", len(rows), err)
		}
		if next >= end {
			t.Fatal("peek read the last row")
		}
		if err := j.Commit(next); err != nil {
			t.Fatal(err)
		}
		compacted = j.Size() < before
	}
	if j.Size() >= 1<<20 {
		t.Fatalf("not compacted: %d bytes in the file after %d rows", j.Size(), n)
	}
	last := write(t, j, "after")
	if last < journal.CompactBytes {
		t.Errorf("offset %d after compaction: offsets must keep growing", last)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "decision-journal.*"))
	if len(files) != 2 { // one journal file and the position
		t.Errorf("files after compaction: %v", files)
	}
	// A compaction cut short before its rename leaves a temporary file:
	// the next open removes it and reads the complete one.
	os.WriteFile(filepath.Join(dir, "decision-journal.99999999.jsonl.tmp"), []byte("{\"CallID\":\"half"), 0o640)
	k, err := journal.Open(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := k.Peek(100_000)
	if err != nil || len(rows) == 0 || rows[len(rows)-1].CallID != "after" || k.Pos() != j.Pos() {
		t.Fatalf("after reopen: %v %v, position %d want %d", callIDs(rows), err, k.Pos(), j.Pos())
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(files) > 0 {
		t.Errorf("left behind: %v", files)
	}
}

// A journal limited to less than four times CompactBytes compacts at a
// quarter of its limit, so a steady load never fills it.
func TestSmallJournalCompactsBeforeFull(t *testing.T) {
	j, err := journal.Open(t.TempDir(), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 { // ~700 KB in all, ten times the limit
		_, end, err := j.Write(&tfps.DecisionRecord{CallID: "small", User: "u"})
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if err := j.Commit(end); err != nil {
			t.Fatal(err)
		}
	}
}

// Lines appended together come back as separate rows in their order, and
// Append refuses bytes that do not end a line (they would join the next
// write's first row into one unreadable line).
func TestAppendWritesSeveralRows(t *testing.T) {
	j, err := journal.Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var lines []byte
	for _, id := range []string{"a", "b", "c"} {
		if lines, err = j.Encode(lines, &tfps.DecisionRecord{CallID: id}); err != nil {
			t.Fatal(err)
		}
	}
	start, end, err := j.Append(lines)
	if err != nil || start != 0 || end != int64(len(lines)) {
		t.Fatalf("Append = %d, %d, %v; want 0, %d", start, end, err, len(lines))
	}
	if _, _, err := j.Append(lines[:len(lines)-1]); err == nil {
		t.Fatal("Append of bytes not ending a line: no error")
	}
	rows, next, err := j.Peek(10)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(callIDs(rows), ","); got != "a,b,c" || next != end {
		t.Fatalf("rows %q up to %d, want a,b,c up to %d", got, next, end)
	}
}

// Encode writes what a journal of an earlier release wrote for the same
// row (json.Marshal and a newline: HTML characters escaped, odd bytes
// replaced), whichever earlier rows its buffers served, so journals left
// by an older gateway and by this one read the same.
func TestEncodeMatchesMarshal(t *testing.T) {
	j, err := journal.Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rows := []tfps.DecisionRecord{
		{CallID: "a<b>&c@host", Reason: strings.Repeat("long reason ", 500), UserAgent: "PBX \xff\xfe"},
		{CallID: "short", User: "1001", Domain: "pbx.example", Number: "+442071234567"},
	}
	for _, r := range append(rows, rows...) {
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := j.Encode([]byte("prefix;"), &r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "prefix;"+string(want)+"\n" {
			t.Errorf("Encode = %q\nwant      %q", got, "prefix;"+string(want)+"\n")
		}
	}
}

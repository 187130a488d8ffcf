package engine_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/journal"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// A decision is in the journal file before Decide returns: an engine
// killed while its rows wait for the next batch (here the batch never
// comes) loses none, and the next start drains them into the database,
// each once, in order, with its decision key.
func TestKilledEngineLosesNoAnsweredDecision(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t, store.Postgres)
	st := statetest.MustOpen(t)
	busyAccount(t, db, 1000, 1_000_000)
	dir := t.TempDir()
	open := func(flush time.Duration) (*engine.Engine, *journal.Journal) {
		jnl, err := journal.Open(dir, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		opts := baseOptions(t)
		opts.ABRepeatLimit = 1_000_000
		opts.LogFlush, opts.LogBatch = flush, 1_000_000
		eng, err := engine.New(ctx, journalDeps(db, st, jnl), opts)
		if err != nil {
			t.Fatal(err)
		}
		return eng, jnl
	}
	// The first engine would write its batch in an hour: it is "killed"
	// (abandoned) before that.
	first, _ := open(time.Hour)
	var ids []string
	for range 50 {
		c := call()
		if _, err := first.Decide(ctx, c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.CallID)
	}
	after, err := journal.Open(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := after.Peek(1000)
	if err != nil {
		t.Fatal(err)
	}
	var journaled []string
	keys := map[string]string{}
	for _, r := range rows {
		journaled = append(journaled, r.CallID)
		if len(r.Key) != 32 || keys[r.Key] != "" {
			t.Errorf("call %s: decision key %q missing or repeated", r.CallID, r.Key)
		}
		keys[r.Key] = r.CallID
	}
	if !slices.Equal(journaled, ids) {
		t.Fatalf("journal after the kill holds %d of %d answered decisions: %v", len(journaled), len(ids), journaled)
	}
	after.Close()

	second, jnl := open(5 * time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for jnl.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := second.Close(ctx); err != nil {
		t.Fatal(err)
	}
	logged, err := db.Decisions(ctx, store.DecisionFilter{Limit: tfps.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(logged) - 1; i >= 0; i-- { // newest first
		got = append(got, logged[i].CallID)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("decision log after the restart: %d rows %v, want the %d answered in order", len(got), got, len(ids))
	}
}

// busyAccount creates 1001@pbx.example, calling from the US to the US and
// GB, with room for calls concurrent calls and quota calls a day, in
// business hours and off them.
func busyAccount(tb testing.TB, db *store.Store, calls, quota int) {
	tb.Helper()
	if err := db.CreateAccount(context.Background(), &tfps.Account{User: "1001", Domain: "pbx.example", ConcurrentCalls: calls, ConcurrentCallsOff: calls,
		DailyQuota: quota, DailyQuotaOff: quota, SourceCountries: []string{"US"}, DestinationCountries: []string{"US", "GB"}, HomeCountry: "US"}); err != nil {
		tb.Fatal(err)
	}
}

// openJournal opens a decision journal of at most size bytes in a
// temporary directory; it is closed at cleanup.
func openJournal(tb testing.TB, size int64) *journal.Journal {
	tb.Helper()
	jnl, err := journal.Open(tb.TempDir(), size)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { jnl.Close() })
	return jnl
}

// journalDeps are an engine's dependencies for the decision-log tests:
// accounts, lists, changes, the decision log and ranges in db, counters in
// st's Redis, and jnl (nil: none) as the journal.
func journalDeps(db *store.Store, st *state.State, jnl *journal.Journal) engine.Deps {
	d := engine.Deps{Accounts: db, Lists: db, Changes: db, Log: db, Ranges: db,
		Counters: state.NewDecideCounters(st), Reputation: &testReputation{}}
	if jnl != nil {
		d.Journal = jnl
	}
	return d
}

// BenchmarkDecideJournal is the cost of writing each decision to the
// journal before it returns: the same approving decision on real Redis
// and SQLite without and with the journal (in a temporary directory on
// the test machine's disk), fsynced every flush interval (200 ms).
//
//	go test ./engine -run '^$' -bench DecideJournal -benchtime 20000x
func BenchmarkDecideJournal(b *testing.B) {
	for _, par := range []int{1, 16} {
		for _, on := range []bool{false, true} {
			name := "journal=off"
			if on {
				name = "journal=on"
			}
			b.Run(name+"/goroutines="+strconv.Itoa(par), func(b *testing.B) {
				ctx := context.Background()
				db := storetest.MustOpen(b, store.SQLite)
				st := statetest.MustOpen(b)
				busyAccount(b, db, 1000, 1<<30)
				deps := journalDeps(db, st, nil)
				if on {
					deps.Journal = openJournal(b, 1<<30)
				}
				opts := baseOptions(b)
				opts.RetryCacheTime = -1
				opts.ABRepeatLimit = 1 << 30
				opts.LogFlush = 0 // the production default, 200 ms
				eng, err := engine.New(ctx, deps, opts)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { eng.Close(ctx) })
				var seq atomic.Int64
				var wg sync.WaitGroup
				b.ReportAllocs()
				cpu0 := processCPU(b)
				b.ResetTimer()
				per := (b.N + par - 1) / par
				start := time.Now()
				for range par {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range per {
							n := seq.Add(1)
							c := call(func(c *engine.Call) { c.Caller = "b" + strconv.FormatInt(n, 10) })
							if d, err := eng.Decide(ctx, c); err != nil || d.Code != engine.A00 {
								b.Errorf("decide: %s %s %v", d.Code, d.Reason, err)
								return
							}
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
				b.ReportMetric(float64(per*par)/elapsed.Seconds(), "decisions/s")
			})
		}
	}
}

// slowJournal is a journal on a slow disk: every write takes 2 ms, and the
// writes are counted.
type slowJournal struct {
	*journal.Journal
	writes atomic.Int64
}

func (j *slowJournal) Append(lines []byte) (int64, int64, error) {
	j.writes.Add(1)
	time.Sleep(2 * time.Millisecond)
	return j.Journal.Append(lines)
}

// Decisions finishing while a journal write is under way share the next
// write (group commit): 200 decisions at once on a disk taking 2 ms a
// write need far fewer than 200 writes, each decision is in the file when
// Decide returns, and each is drained into the database exactly once.
func TestConcurrentDecisionsShareJournalWrites(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t, store.SQLite)
	st := statetest.MustOpen(t)
	busyAccount(t, db, 1000, 1_000_000)
	dir := t.TempDir()
	inner, err := journal.Open(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	jnl := &slowJournal{Journal: inner}
	deps := journalDeps(db, st, nil)
	deps.Journal = jnl
	opts := baseOptions(t)
	opts.ABRepeatLimit = 1_000_000
	opts.LogFlush, opts.LogBatch = 20*time.Millisecond, 1000
	eng, err := engine.New(ctx, deps, opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	var missing []string
	ids := make(map[string]bool, n)
	for i := range n {
		c := call(func(c *engine.Call) { c.Caller = "g" + strconv.Itoa(i) })
		ids[c.CallID] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := eng.Decide(ctx, c); err != nil {
				t.Error(err)
				return
			}
			// On return the row is in the file (the journal compacts
			// only past 16 MiB: one file holds every row here).
			files, _ := filepath.Glob(filepath.Join(dir, "decision-journal.*.jsonl"))
			var text []byte
			for _, f := range files {
				b, _ := os.ReadFile(f)
				text = append(text, b...)
			}
			if !bytes.Contains(text, []byte(`"CallID":"`+c.CallID+`"`)) {
				mu.Lock()
				missing = append(missing, c.CallID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(missing) > 0 {
		t.Fatalf("%d decisions returned before their row was in the journal file: %v", len(missing), missing)
	}
	if err := eng.Close(ctx); err != nil {
		t.Fatal(err)
	}
	writes := jnl.writes.Load()
	t.Logf("%d decisions, %d journal writes", n, writes)
	if writes > n/4 {
		t.Errorf("%d concurrent decisions took %d journal writes: each wrote alone", n, writes)
	}
	got, err := db.Decisions(ctx, store.DecisionFilter{Limit: 10 * n})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range got {
		seen[r.CallID]++
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("call %s logged %d times", id, seen[id])
		}
	}
	if len(got) != n {
		t.Errorf("database holds %d rows for %d decisions", len(got), n)
	}
	if jnl.Pending() != 0 {
		t.Errorf("journal still holds %d bytes not drained", jnl.Pending())
	}
}

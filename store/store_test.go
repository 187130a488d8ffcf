package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

func forEachDialect(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, storetest.MustOpen(t, d))
		})
	}
}

func TestMigrateFromEmptyAndAgain(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		cur, latest, err := s.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cur != latest || latest < 1 {
			t.Fatalf("after MustOpen: version %d of %d", cur, latest)
		}
		applied, err := s.Migrate(ctx)
		if err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if len(applied) != 0 {
			t.Errorf("second migrate applied %v, want nothing", applied)
		}
		// The tables exist and answer.
		for _, table := range []string{"accounts", "blacklist", "decision_log", "verification_events"} {
			var n int
			if err := s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
				t.Errorf("table %s: %v", table, err)
			}
		}
	})
}

func TestMigrateFreshDatabaseReportsVersions(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite://"+t.TempDir()+"/fresh.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[0] != 1 {
		t.Errorf("fresh database applied %v, want versions from 1", applied)
	}
}

func newAccount(user string) *tfps.Account {
	return &tfps.Account{User: user, Domain: "pbx.example.com", Email: user + "@example.com",
		ConcurrentCalls: 2, ConcurrentCallsOff: 1, DailyQuota: 10, DailyQuotaOff: 2,
		SourceCountries: []string{"US"}, DestinationCountries: []string{"US", "BR"}, Language: "en", HomeCountry: "US"}
}

func TestAccountLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a := newAccount("1001")
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		if a.ID == 0 || a.CreatedAt.IsZero() {
			t.Errorf("create did not fill id/created: %+v", a)
		}
		got, err := s.GetAccount(ctx, "1001", "pbx.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got.DailyQuota != 10 || len(got.DestinationCountries) != 2 || got.DestinationCountries[1] != "BR" || got.Blocked {
			t.Errorf("read back %+v", got)
		}
		got.Blocked = true
		got.DestinationCountries = append(got.DestinationCountries, "ES")
		if err := s.UpdateAccount(ctx, got); err != nil {
			t.Fatal(err)
		}
		again, _ := s.GetAccount(ctx, "1001", "pbx.example.com")
		if !again.Blocked || !again.AllowsDestination("ES") {
			t.Errorf("update not stored: %+v", again)
		}
		if err := s.DeleteAccount(ctx, "1001", "pbx.example.com"); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetAccount(ctx, "1001", "pbx.example.com")
		if tfps.ErrorCode(err) != tfps.ENOTFOUND {
			t.Errorf("after delete: %v", err)
		}
		if err := s.DeleteAccount(ctx, "1001", "pbx.example.com"); tfps.ErrorCode(err) != tfps.ENOTFOUND {
			t.Errorf("second delete: %v", err)
		}
	})
}

// Creating user+domain twice is a conflict the operator can read, not a
// driver message.
func TestDuplicateAccountIsAClearConflict(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.CreateAccount(ctx, newAccount("2002")); err != nil {
			t.Fatal(err)
		}
		err := s.CreateAccount(ctx, newAccount("2002"))
		if tfps.ErrorCode(err) != tfps.ECONFLICT {
			t.Fatalf("duplicate create: code %q, err %v", tfps.ErrorCode(err), err)
		}
		if msg := tfps.ErrorMessage(err); msg != "account 2002@pbx.example.com already exists" {
			t.Errorf("message %q", msg)
		}
		// Same user in another domain is a different account.
		other := newAccount("2002")
		other.Domain = "other.example.com"
		if err := s.CreateAccount(ctx, other); err != nil {
			t.Errorf("same user, other domain: %v", err)
		}
	})
}

func TestListAccountsPaging(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for i := range 5 {
			if err := s.CreateAccount(ctx, newAccount(fmt.Sprintf("u%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		page, total, err := s.ListAccounts(ctx, tfps.AccountFilter{Offset: 2, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if total != 5 || len(page) != 2 || page[0].User != "u2" || page[1].User != "u3" {
			t.Errorf("page: total %d, %d rows, first %s", total, len(page), page[0].User)
		}
		if _, _, err := s.ListAccounts(ctx, tfps.AccountFilter{Offset: -1}); tfps.ErrorCode(err) != tfps.EINVALID {
			t.Errorf("negative offset: %v", err)
		}
	})
}

func TestInvalidAccountRejected(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		a := newAccount("")
		if err := s.CreateAccount(context.Background(), a); tfps.ErrorCode(err) != tfps.EINVALID || !strings.Contains(err.Error(), "user") {
			t.Errorf("empty user: %v", err)
		}
		b := newAccount("x")
		b.DailyQuota = -1
		if err := s.CreateAccount(context.Background(), b); tfps.ErrorCode(err) != tfps.EINVALID {
			t.Errorf("negative quota: %v", err)
		}
	})
}

func TestBlacklist(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, e := range []tfps.BlacklistEntry{
			{Kind: tfps.BlacklistUserAgent, Value: "friendly-scanner"},
			{Kind: tfps.BlacklistIP, Value: "203.0.113.7/24"},
			{Kind: tfps.BlacklistNumber, Value: "+53"},
		} {
			if err := s.AddBlacklist(ctx, &e); err != nil {
				t.Fatalf("add %v: %v", e, err)
			}
		}
		ips, _ := s.ListBlacklist(ctx, tfps.BlacklistIP)
		if len(ips) != 1 || ips[0].Value != "203.0.113.0/24" {
			t.Errorf("CIDR not canonical: %+v", ips)
		}
		if err := s.AddBlacklist(ctx, &tfps.BlacklistEntry{Kind: tfps.BlacklistIP, Value: "203.0.113.9/24"}); tfps.ErrorCode(err) != tfps.ECONFLICT {
			t.Errorf("same network twice: %v", err)
		}
		for _, bad := range []tfps.BlacklistEntry{
			{Kind: tfps.BlacklistUserAgent, Value: "(unclosed"},
			{Kind: tfps.BlacklistIP, Value: "300.1.1.1"},
			{Kind: tfps.BlacklistNumber, Value: "53' OR 1=1"},
			{Kind: "phone", Value: "1"},
		} {
			if err := s.AddBlacklist(ctx, &bad); tfps.ErrorCode(err) != tfps.EINVALID {
				t.Errorf("bad entry %+v accepted or wrong error: %v", bad, err)
			}
		}
		all, _ := s.ListBlacklist(ctx, "")
		if len(all) != 3 {
			t.Errorf("list all: %d", len(all))
		}
		if err := s.RemoveBlacklist(ctx, tfps.BlacklistNumber, "53"); err != nil {
			t.Errorf("remove: %v", err)
		}
		if err := s.RemoveBlacklist(ctx, tfps.BlacklistNumber, "53"); tfps.ErrorCode(err) != tfps.ENOTFOUND {
			t.Errorf("remove twice: %v", err)
		}
	})
}

func TestDecisionLogBatch(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		at := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
		var recs []tfps.DecisionRecord
		for i := range 1203 { // more than one statement's worth
			recs = append(recs, tfps.DecisionRecord{At: at.Add(time.Duration(i) * time.Millisecond), CallID: fmt.Sprintf("c%d", i),
				SourceIP: "198.51.100.4", Caller: "1001", Number: "5511999990000", User: "1001", Domain: "pbx.example.com",
				Result: "approve", Code: "A00", OffHours: i%2 == 0, ConcurrentCalls: 1, SourceCountry: "US", DestinationCountry: "BR", Transport: "sip"})
		}
		if err := s.WriteDecisions(ctx, recs); err != nil {
			t.Fatal(err)
		}
		n, _ := s.CountDecisions(ctx)
		if n != 1203 {
			t.Fatalf("count %d", n)
		}
		last, err := s.Decisions(ctx, store.DecisionFilter{User: "1001", Domain: "pbx.example.com", Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(last) != 2 || last[0].CallID != "c1202" || !last[0].OffHours || last[0].DestinationCountry != "BR" || !last[0].At.Equal(at.Add(1202*time.Millisecond)) {
			t.Errorf("newest first: %+v", last[0])
		}
		tail, _ := s.Decisions(ctx, store.DecisionFilter{AfterID: last[1].ID})
		if len(tail) != 1 || tail[0].CallID != "c1202" {
			t.Errorf("tail after id: %+v", tail)
		}
	})
}

func TestVerificationEvents(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := &tfps.VerificationEvent{User: "1001", Domain: "pbx.example.com", Flow: "destination_country", Method: "captcha", Outcome: "success", Country: "BR"}
		if err := s.InsertVerificationEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := s.VerificationEvents(ctx, "1001", "pbx.example.com", 10)
		if err != nil || len(got) != 1 || got[0].Country != "BR" {
			t.Errorf("events %+v %v", got, err)
		}
		if err := s.InsertVerificationEvent(ctx, &tfps.VerificationEvent{User: "x"}); tfps.ErrorCode(err) != tfps.EINVALID {
			t.Errorf("incomplete event: %v", err)
		}
	})
}

// A failed step inside withTx leaves nothing behind.
func TestWithTxRollsBack(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := s.WithTx(ctx, func(tx *sql.Tx) error {
			if err := s.CreateAccountIn(ctx, tx, newAccount("3003")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("withTx error %v", err)
		}
		if _, err := s.GetAccount(ctx, "3003", "pbx.example.com"); tfps.ErrorCode(err) != tfps.ENOTFOUND {
			t.Errorf("account survived a rolled-back transaction: %v", err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := store.Open(ctx, "mysql://root@localhost/tfps"); err == nil || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("mysql URL: %v", err)
	}
	_, err := store.Open(ctx, "postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, store.ErrUnavailable) || strings.Contains(err.Error(), "secret") {
		t.Errorf("unreachable postgres: %v", err)
	}
}

// A SQLite store keeps a decision log's index pages in memory and
// checkpoints its WAL seldom (see Open): every connection of the pool,
// not only the first, has the 32 MiB page cache and the 16,384-page
// checkpoint, or a log of a million rows costs a third more CPU per row.
func TestSQLiteConnectionsKeepIndexPagesCached(t *testing.T) {
	ctx := context.Background()
	s := storetest.MustOpen(t, store.SQLite)
	var conns []*sql.Conn
	for range 3 {
		c, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var cache, checkpoint int
		if err := c.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cache); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&checkpoint); err != nil {
			t.Fatal(err)
		}
		if cache != -32768 || checkpoint != 16384 {
			t.Errorf("connection %d: cache_size %d, wal_autocheckpoint %d; want -32768 (32 MiB) and 16384", i, cache, checkpoint)
		}
		c.Close()
	}
}

// Package storetest gives each test its own migrated store: a temporary
// SQLite file, or a private schema in the test PostgreSQL database.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/voipshield/tfps/store"
)

// Dialects lists both dialects, for tests that run one suite on each.
var Dialects = []string{store.SQLite, store.Postgres}

// PostgresURL is the PostgreSQL server tests use: TFPS_TEST_POSTGRES_URL,
// or the local server with trust auth and database "test".
func PostgresURL() string {
	if v := os.Getenv("TFPS_TEST_POSTGRES_URL"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// MustOpen opens a fresh, migrated store for a test: a temporary SQLite file,
// or a private schema in the test PostgreSQL database (dropped at cleanup), so
// tests running at the same time never see each other's rows. A database that
// cannot be reached fails the test: nothing is skipped.
func MustOpen(tb testing.TB, dialect string) *store.Store {
	tb.Helper()
	ctx := context.Background()
	var s *store.Store
	var err error
	switch dialect {
	case store.SQLite:
		s, err = store.Open(ctx, "sqlite://"+filepath.Join(tb.TempDir(), "tfps.db"))
	case store.Postgres:
		s, err = openSchema(tb)
	default:
		tb.Fatalf("storetest.MustOpen: unknown dialect %q", dialect)
	}
	if err != nil {
		tb.Fatalf("storetest.MustOpen(%s): %v", dialect, err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		tb.Fatalf("storetest.MustOpen(%s): %v", dialect, err)
	}
	return s
}

// SchemaURL creates a private PostgreSQL schema for a test and returns a
// URL whose connections use it; the schema is dropped at cleanup.
func SchemaURL(tb testing.TB) string {
	tb.Helper()
	base := PostgresURL()
	admin, err := store.Open(context.Background(), base)
	if err != nil {
		tb.Fatalf("PostgreSQL for tests at %s: %v (start it, or set TFPS_TEST_POSTGRES_URL)", base, err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.DB().Exec(`CREATE SCHEMA ` + schema); err != nil {
		tb.Fatalf("create test schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a, err := store.Open(ctx, base)
		if err != nil {
			return
		}
		defer a.Close()
		a.DB().ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`)
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openSchema(tb testing.TB) (*store.Store, error) {
	s, err := store.Open(context.Background(), SchemaURL(tb))
	if err != nil {
		return nil, fmt.Errorf("open test schema: %w", err)
	}
	return s, nil
}

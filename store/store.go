// Package store keeps the durable data in SQL: accounts, operator
// blacklists, the decision log and verification events. SQLite (pure Go,
// WAL) is the default so nothing needs installing; PostgreSQL serves
// deployments with several machines. The same parameterised queries ($1, $2,
// times as Unix milliseconds) run on both.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/voipshield/tfps/migrations"
)

// Dialects the store speaks.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// ErrUnavailable is wrapped when the database cannot be reached.
var ErrUnavailable = errors.New("database unavailable")

// Store is a handle on the SQL database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect string
	// Now stamps created/updated times; tests may replace it.
	Now func() time.Time
}

// MemoryURL opens a private in-memory SQLite database, gone when the store
// closes (the what-if replay works on one).
const MemoryURL = "sqlite::memory:"

// Open connects to the database named by rawURL: sqlite:///abs/path.db,
// sqlite:relative/path.db, MemoryURL or postgres://user:pass@host:port/db.
// It does not migrate; call Migrate.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	s := &Store{Now: time.Now}
	switch {
	case rawURL == MemoryURL:
		// One connection, kept open: every connection to ":memory:" is a
		// database of its own, and closing the last one drops it.
		db, err := sql.Open("sqlite", "file::memory:?_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open in-memory sqlite: %w", err)
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s.db, s.dialect = db, SQLite
	case strings.HasPrefix(rawURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//")
		if path == "" {
			return nil, fmt.Errorf("open store: empty SQLite path in %q", rawURL)
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("open store: create directory for %s: %w", path, err)
			}
		}
		// WAL lets readers run beside the writer; busy_timeout makes a
		// second writer wait instead of failing with SQLITE_BUSY.
		//
		// The decision log's indexes on call_id and on the account take
		// each new row at a random place: with SQLite's default 2 MiB
		// page cache and a checkpoint every 1,000 WAL pages, a log of a
		// million rows cost 56 us of CPU per row written (pages read back,
		// and every dirty page written to the WAL, then copied into the
		// database at a checkpoint after nearly every batch). A 32 MiB
		// cache per connection (filled only as pages are read) and a
		// checkpoint every 16,384 pages (a WAL of up to 64 MiB) write a
		// page that several batches change once per checkpoint: 41 us
		// (BenchmarkWriteDecisionsIntoALargeLog).
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(16384)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		s.db, s.dialect = db, SQLite
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if _, err := url.Parse(rawURL); err != nil {
			return nil, fmt.Errorf("open store: bad PostgreSQL URL: %w", err)
		}
		db, err := sql.Open("pgx", rawURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(10)
		db.SetConnMaxIdleTime(5 * time.Minute)
		s.db, s.dialect = db, Postgres
	default:
		return nil, fmt.Errorf("open store: unsupported database URL %q: use sqlite:///path.db or postgres://", redactURL(rawURL))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.db.PingContext(pingCtx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open store %s: %w: %w", redactURL(rawURL), ErrUnavailable, err)
	}
	return s, nil
}

// redactURL hides a password in a database URL for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Dialect returns SQLite or Postgres.
func (s *Store) Dialect() string { return s.dialect }

// DB exposes the handle for tests that look at rows directly; the
// product's SQL lives in this package.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers, for health checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w: %w", s.dialect, ErrUnavailable, err)
	}
	return nil
}

func (s *Store) provider() (*goose.Provider, error) {
	fsys, err := migrations.FS(s.dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", s.dialect, err)
	}
	var opts []goose.ProviderOption
	dialect := goose.DialectSQLite3
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
		// Several gateways starting at once take turns on an advisory lock.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migration provider: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration and returns the versions applied.
// Running it again is a no-op.
func (s *Store) Migrate(ctx context.Context) ([]int64, error) {
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", s.dialect, err)
	}
	var applied []int64
	for _, r := range res {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// MigrationStatus reports the current and the latest known schema version.
func (s *Store) MigrationStatus(ctx context.Context) (current, latest int64, err error) {
	p, err := s.provider()
	if err != nil {
		return 0, 0, err
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("schema version: %w", err)
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return current, latest, nil
}

// withTx runs fn in one transaction: committed when fn returns nil, rolled
// back otherwise. Every change of several rows (an IVR outcome with its
// account change, event and mail) goes through it, so it lands whole or
// not at all; callers outside the package use the intent-level methods
// (RecordVerification, ChangeAccount, MarkLearningApply ...).
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// queryer is met by *sql.DB and *sql.Tx, so helpers serve both.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

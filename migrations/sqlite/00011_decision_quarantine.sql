-- +goose Up
-- Decision-log rows the database refused (see the PostgreSQL twin: SQLite
-- itself stores any text, so rows land here only by the same writer path).
-- The writer splits a refused batch until it finds the row, writes the
-- rest, and sets the row aside here with the error. record is the row as
-- JSON.
CREATE TABLE decision_quarantine (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    quarantined_at INTEGER NOT NULL,
    call_id        TEXT    NOT NULL DEFAULT '',
    error          TEXT    NOT NULL,
    record         BLOB    NOT NULL
);

-- +goose Down
DROP TABLE decision_quarantine;

-- +goose Up
-- Decision-log rows the database refused (a value PostgreSQL can not
-- store, such as a NUL byte or invalid UTF-8 that slipped past the SIP
-- front's repair). The writer splits a refused batch until it finds the
-- row, writes the rest, and sets the row aside here with the error, so one
-- bad row never stalls the log. record is the row as JSON (bytes, so any
-- value fits).
CREATE TABLE decision_quarantine (
    id             BIGSERIAL PRIMARY KEY,
    quarantined_at BIGINT NOT NULL,
    call_id        TEXT   NOT NULL DEFAULT '',
    error          TEXT   NOT NULL,
    record         BYTEA  NOT NULL
);

-- +goose Down
DROP TABLE decision_quarantine;

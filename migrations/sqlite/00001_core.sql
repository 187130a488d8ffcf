-- +goose Up
-- Times are stored as Unix milliseconds (BIGINT) in both dialects so the same
-- queries and scans work on SQLite and PostgreSQL.
CREATE TABLE accounts (
    id                    INTEGER PRIMARY KEY,
    username              TEXT    NOT NULL,
    domain                TEXT    NOT NULL,
    email                 TEXT    NOT NULL DEFAULT '',
    cc_calls              INTEGER NOT NULL DEFAULT 0 CHECK (cc_calls >= 0),
    cc_calls_off          INTEGER NOT NULL DEFAULT 0 CHECK (cc_calls_off >= 0),
    daily_quota           INTEGER NOT NULL DEFAULT 0 CHECK (daily_quota >= 0),
    daily_quota_off       INTEGER NOT NULL DEFAULT 0 CHECK (daily_quota_off >= 0),
    source_countries      TEXT    NOT NULL DEFAULT '',
    destination_countries TEXT    NOT NULL DEFAULT '',
    blocked               INTEGER NOT NULL DEFAULT 0,
    language              TEXT    NOT NULL DEFAULT '',
    pin_hash              TEXT    NOT NULL DEFAULT '',
    home_country          TEXT    NOT NULL DEFAULT '',
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL,
    CONSTRAINT accounts_user_domain_key UNIQUE (username, domain)
);

CREATE TABLE blacklist (
    id         INTEGER PRIMARY KEY,
    kind       TEXT   NOT NULL CHECK (kind IN ('user_agent', 'ip', 'number')),
    value      TEXT   NOT NULL,
    note       TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    CONSTRAINT blacklist_kind_value_key UNIQUE (kind, value)
);

CREATE TABLE decision_log (
    id                  INTEGER PRIMARY KEY,
    at                  BIGINT  NOT NULL,
    call_id             TEXT    NOT NULL DEFAULT '',
    source_ip           TEXT    NOT NULL DEFAULT '',
    caller              TEXT    NOT NULL DEFAULT '',
    number              TEXT    NOT NULL DEFAULT '',
    user_agent          TEXT    NOT NULL DEFAULT '',
    abuse_score         INTEGER NOT NULL DEFAULT 0,
    username            TEXT    NOT NULL DEFAULT '',
    domain              TEXT    NOT NULL DEFAULT '',
    result              TEXT    NOT NULL,
    code                TEXT    NOT NULL,
    reason              TEXT    NOT NULL DEFAULT '',
    flow                TEXT    NOT NULL DEFAULT '',
    ticket              TEXT    NOT NULL DEFAULT '',
    off_hours           INTEGER NOT NULL DEFAULT 0,
    concurrent_calls    INTEGER NOT NULL DEFAULT 0,
    source_country      TEXT    NOT NULL DEFAULT '',
    destination_country TEXT    NOT NULL DEFAULT '',
    transport           TEXT    NOT NULL DEFAULT '',
    latency_us          BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX decision_log_account_at ON decision_log (username, domain, at);
CREATE INDEX decision_log_at ON decision_log (at);
CREATE INDEX decision_log_call_id ON decision_log (call_id);

CREATE TABLE verification_events (
    id        INTEGER PRIMARY KEY,
    at        BIGINT NOT NULL,
    username  TEXT   NOT NULL,
    domain    TEXT   NOT NULL,
    ticket    TEXT   NOT NULL DEFAULT '',
    flow      TEXT   NOT NULL DEFAULT '',
    method    TEXT   NOT NULL DEFAULT '',
    outcome   TEXT   NOT NULL,
    source_ip TEXT   NOT NULL DEFAULT '',
    country   TEXT   NOT NULL DEFAULT '',
    caller    TEXT   NOT NULL DEFAULT '',
    number    TEXT   NOT NULL DEFAULT '',
    detail    TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX verification_events_account_at ON verification_events (username, domain, at);

-- +goose Down
DROP TABLE verification_events;
DROP TABLE decision_log;
DROP TABLE blacklist;
DROP TABLE accounts;

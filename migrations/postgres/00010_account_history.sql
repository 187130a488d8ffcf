-- +goose Up
-- Daily statistics per account, one row per local date of the account's
-- business-hours time zone. The decision-log writer adds each batch's
-- counts in the same transaction as its log rows (store.WriteDecisions),
-- so the statistics never need the log re-read and survive its retention.
-- Rows older than TFPS_HISTORY_DAYS are deleted by the gateways.
CREATE TABLE account_daily (
    username     TEXT    NOT NULL,
    domain       TEXT    NOT NULL,
    local_date   TEXT    NOT NULL, -- YYYY-MM-DD
    approved     INTEGER NOT NULL DEFAULT 0,
    approved_off INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    rejected_off INTEGER NOT NULL DEFAULT 0,
    verified     INTEGER NOT NULL DEFAULT 0,
    verified_off INTEGER NOT NULL DEFAULT 0,
    peak         INTEGER NOT NULL DEFAULT 0, -- most concurrent calls reported on an approved call, in hours
    peak_off     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (username, domain, local_date)
);
CREATE INDEX account_daily_date ON account_daily (local_date);

-- Countries seen on approved calls, per local date: a country seen on
-- enough distinct days is shown as usual for the account.
CREATE TABLE account_daily_countries (
    username   TEXT NOT NULL,
    domain     TEXT NOT NULL,
    local_date TEXT NOT NULL,
    direction  TEXT NOT NULL CHECK (direction IN ('source', 'destination')),
    country    TEXT NOT NULL,
    PRIMARY KEY (username, domain, direction, country, local_date)
);
CREATE INDEX account_daily_countries_date ON account_daily_countries (local_date);

-- What learning last did for an account: the local date limits were last
-- set from the trained values (apply) and when the last digest was mailed
-- (suggest), so a restart or a second gateway does not do it twice.
CREATE TABLE account_learning (
    username   TEXT   NOT NULL,
    domain     TEXT   NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('apply', 'digest')),
    last_date  TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (username, domain, kind)
);

-- +goose Down
DROP TABLE account_learning;
DROP TABLE account_daily_countries;
DROP TABLE account_daily;

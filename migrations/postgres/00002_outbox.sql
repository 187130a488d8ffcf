-- +goose Up
-- The notification outbox. A row is written (in the caller's transaction
-- where there is one) before any sending is attempted; a worker claims due
-- rows with a lease, delivers them and records the outcome here, so a mail
-- survives restarts and a down relay. Times are Unix milliseconds.
CREATE TABLE outbox (
    id              TEXT    PRIMARY KEY,               -- idempotent id; also the Message-ID
    kind            TEXT    NOT NULL,
    username        TEXT    NOT NULL DEFAULT '',
    domain          TEXT    NOT NULL DEFAULT '',
    rate_key        TEXT    NOT NULL DEFAULT '',       -- kind|user@domain for threshold alerts, '' otherwise
    payload         TEXT    NOT NULL,                  -- the tfps.Notification as JSON
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed', 'merged')),
    event_at        BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,        -- failed tries so far
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     BIGINT  NOT NULL DEFAULT 0,
    delivered       TEXT    NOT NULL DEFAULT '',       -- channels done, comma separated (email, webhook)
    last_error      TEXT    NOT NULL DEFAULT '',
    sent_at         BIGINT  NOT NULL DEFAULT 0,
    merged_into     TEXT    NOT NULL DEFAULT ''        -- the row whose mail summarised this throttled one
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_rate_key ON outbox (rate_key, state);
CREATE INDEX outbox_merged_into ON outbox (merged_into);
CREATE INDEX outbox_created_at ON outbox (created_at);

-- One row per throttled (kind, account): no other mail of that key goes out
-- before window_until, except from the row holding the window.
CREATE TABLE outbox_rate (
    rate_key     TEXT   PRIMARY KEY,
    window_until BIGINT NOT NULL,
    holder       TEXT   NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE outbox_rate;
DROP TABLE outbox;

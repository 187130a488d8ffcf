-- +goose Up
-- High-risk number ranges loaded by the operator (tfpsctl ranges import,
-- /v1/ranges): a dialled number under a prefix with level 'reject' is
-- rejected (R21), under one with level 'verify' it needs a voice
-- verification (V06) unless the account has verified that range before
-- (account_ranges). The engine holds both in memory; the triggers bump the
-- change version (00003) so every gateway reloads them.
CREATE TABLE number_ranges (
    prefix     TEXT   PRIMARY KEY CHECK (prefix <> ''),
    level      TEXT   NOT NULL CHECK (level IN ('reject', 'verify')),
    source     TEXT   NOT NULL DEFAULT '',
    comment    TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE account_ranges (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    prefix     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (account_id, prefix)
);

-- +goose StatementBegin
CREATE TRIGGER number_ranges_changed_insert AFTER INSERT ON number_ranges
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER number_ranges_changed_update AFTER UPDATE ON number_ranges
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER number_ranges_changed_delete AFTER DELETE ON number_ranges
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_ranges_changed_insert AFTER INSERT ON account_ranges
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_ranges_changed_delete AFTER DELETE ON account_ranges
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER account_ranges_changed_delete;
DROP TRIGGER account_ranges_changed_insert;
DROP TRIGGER number_ranges_changed_delete;
DROP TRIGGER number_ranges_changed_update;
DROP TRIGGER number_ranges_changed_insert;
DROP TABLE account_ranges;
DROP TABLE number_ranges;

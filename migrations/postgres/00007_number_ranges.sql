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
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    prefix     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, prefix)
);

CREATE TRIGGER number_ranges_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON number_ranges
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_version();
CREATE TRIGGER account_ranges_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON account_ranges
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_version();

-- +goose Down
DROP TRIGGER account_ranges_changed ON account_ranges;
DROP TRIGGER number_ranges_changed ON number_ranges;
DROP TABLE account_ranges;
DROP TABLE number_ranges;

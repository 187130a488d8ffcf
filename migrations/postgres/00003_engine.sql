-- +goose Up
-- One row counting changes to accounts and blacklists. A statement trigger
-- bumps it on every insert, update, delete and truncate, whoever writes
-- (gateway API, IVR, an operator's own SQL), so every gateway's engine
-- notices a change by reading one number (TFPS_CACHE_REFRESH) and reloads
-- its in-memory cache.
CREATE TABLE change_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO change_version (id, version) VALUES (1, 1);

-- +goose StatementBegin
CREATE FUNCTION bump_change_version() RETURNS trigger AS $$
BEGIN
    UPDATE change_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER accounts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_version();
CREATE TRIGGER blacklist_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON blacklist
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_version();

-- +goose Down
DROP TRIGGER blacklist_changed ON blacklist;
DROP TRIGGER accounts_changed ON accounts;
DROP FUNCTION bump_change_version();
DROP TABLE change_version;

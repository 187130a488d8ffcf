-- +goose Up
-- One row counting changes to accounts and blacklists. Triggers bump it on
-- every insert, update and delete, whoever writes (gateway API, IVR, an
-- operator's own SQL), so every gateway's engine notices a change by reading
-- one number (TFPS_CACHE_REFRESH) and reloads its in-memory cache.
CREATE TABLE change_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO change_version (id, version) VALUES (1, 1);

-- +goose StatementBegin
CREATE TRIGGER accounts_changed_insert AFTER INSERT ON accounts
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER accounts_changed_update AFTER UPDATE ON accounts
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER accounts_changed_delete AFTER DELETE ON accounts
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER blacklist_changed_insert AFTER INSERT ON blacklist
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER blacklist_changed_update AFTER UPDATE ON blacklist
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER blacklist_changed_delete AFTER DELETE ON blacklist
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER blacklist_changed_delete;
DROP TRIGGER blacklist_changed_update;
DROP TRIGGER blacklist_changed_insert;
DROP TRIGGER accounts_changed_delete;
DROP TRIGGER accounts_changed_update;
DROP TRIGGER accounts_changed_insert;
DROP TABLE change_version;

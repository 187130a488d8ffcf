-- +goose Up
-- Service-provider domains: what the engine does with a call from a user of
-- the domain that has no account of its own. default_user names the
-- account (same domain) whose limits, countries and rule profile such a
-- user gets, with counters kept per real user; unknown says what happens:
-- '' (default when default_user is set, else onboarding), 'default',
-- 'onboarding' (the V01 verification) or 'reject' (R23). profile names the
-- domain's default rule profile. The triggers bump the change version
-- (00003) so every gateway reloads the domains.
CREATE TABLE domains (
    domain       TEXT   PRIMARY KEY CHECK (domain <> ''),
    default_user TEXT   NOT NULL DEFAULT '',
    unknown      TEXT   NOT NULL DEFAULT '' CHECK (unknown IN ('', 'default', 'onboarding', 'reject')),
    profile      TEXT   NOT NULL DEFAULT '',
    updated_at   BIGINT NOT NULL
);

-- +goose StatementBegin
CREATE TRIGGER domains_changed_insert AFTER INSERT ON domains
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER domains_changed_update AFTER UPDATE ON domains
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER domains_changed_delete AFTER DELETE ON domains
BEGIN UPDATE change_version SET version = version + 1 WHERE id = 1; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER domains_changed_delete;
DROP TRIGGER domains_changed_update;
DROP TRIGGER domains_changed_insert;
DROP TABLE domains;

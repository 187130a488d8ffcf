-- +goose Up
-- Service-provider domains: what the engine does with a call from a user of
-- the domain that has no account of its own. default_user names the
-- account (same domain) whose limits, countries and rule profile such a
-- user gets, with counters kept per real user; unknown says what happens:
-- '' (default when default_user is set, else onboarding), 'default',
-- 'onboarding' (the V01 verification) or 'reject' (R23). profile names the
-- domain's default rule profile. The trigger bumps the change version
-- (00003) so every gateway reloads the domains.
CREATE TABLE domains (
    domain       TEXT   PRIMARY KEY CHECK (domain <> ''),
    default_user TEXT   NOT NULL DEFAULT '',
    unknown      TEXT   NOT NULL DEFAULT '' CHECK (unknown IN ('', 'default', 'onboarding', 'reject')),
    profile      TEXT   NOT NULL DEFAULT '',
    updated_at   BIGINT NOT NULL
);

CREATE TRIGGER domains_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON domains
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_version();

-- +goose Down
DROP TRIGGER domains_changed ON domains;
DROP TABLE domains;

-- +goose Up
-- Fraud rules (the feature set of OpenSIPS's fraud_detection table): each
-- rule belongs to a profile, and an account names its profile. Thresholds
-- of 0 are disabled. The engine holds the rules in memory; the triggers
-- bump the change version (00003) so every gateway reloads them.
CREATE TABLE fraud_rules (
    id                  BIGINT  PRIMARY KEY,
    profile             TEXT    NOT NULL CHECK (profile <> ''),
    prefix              TEXT    NOT NULL DEFAULT '',
    start_time          TEXT    NOT NULL DEFAULT '00:00',
    end_time            TEXT    NOT NULL DEFAULT '00:00',
    days                TEXT    NOT NULL DEFAULT 'Mon-Sun',
    cpm_warning         INTEGER NOT NULL DEFAULT 0,
    cpm_critical        INTEGER NOT NULL DEFAULT 0,
    total_warning       INTEGER NOT NULL DEFAULT 0,
    total_critical      INTEGER NOT NULL DEFAULT 0,
    concurrent_warning  INTEGER NOT NULL DEFAULT 0,
    concurrent_critical INTEGER NOT NULL DEFAULT 0,
    sequential_warning  INTEGER NOT NULL DEFAULT 0,
    sequential_critical INTEGER NOT NULL DEFAULT 0,
    duration_warning    INTEGER NOT NULL DEFAULT 0,
    duration_critical   INTEGER NOT NULL DEFAULT 0,
    warning_action      TEXT    NOT NULL DEFAULT 'approve' CHECK (warning_action IN ('approve', 'verify')),
    created_at          BIGINT  NOT NULL
);
CREATE INDEX fraud_rules_profile ON fraud_rules (profile, prefix);

-- The account's fraud-rule profile ('' none; the domain's default then).
ALTER TABLE accounts ADD COLUMN profile TEXT NOT NULL DEFAULT '';

CREATE TRIGGER fraud_rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON fraud_rules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_version();

-- +goose Down
DROP TRIGGER fraud_rules_changed ON fraud_rules;
ALTER TABLE accounts DROP COLUMN profile;
DROP TABLE fraud_rules;

-- +goose Up
-- Monitor (detection-only) mode. accounts.mode overrides the gateway's
-- TFPS_MODE for one account: '' inherits it, 'enforce' or 'monitor'.
-- decision_log.enforced is 0 for a monitor-mode decision: its result and
-- code are what enforcement would have answered, and the caller was
-- approved. Rows written before this migration were all enforced.
ALTER TABLE accounts ADD COLUMN mode TEXT NOT NULL DEFAULT '' CONSTRAINT accounts_mode_check CHECK (mode IN ('', 'enforce', 'monitor'));
ALTER TABLE decision_log ADD COLUMN enforced INTEGER NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE decision_log DROP COLUMN enforced;
ALTER TABLE accounts DROP COLUMN mode;

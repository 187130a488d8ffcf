-- +goose Up
-- Each account's own context: the time zone its business hours and daily
-- counters follow, its own business-hours rule (empty: the operator's rule
-- moved to that zone), and the limits its callers proved by passing a
-- verification, each with the end of its grace (JSON list).
ALTER TABLE accounts ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN business_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN verified_limits TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE accounts DROP COLUMN verified_limits;
ALTER TABLE accounts DROP COLUMN business_hours;
ALTER TABLE accounts DROP COLUMN timezone;

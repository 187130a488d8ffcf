-- +goose Up
-- Each decision's unique key (see the PostgreSQL twin): inserts skip a key
-- already logged, so a batch written twice adds no row. Rows from before
-- have none (NULL, never equal).
ALTER TABLE decision_log ADD COLUMN decision_key TEXT;
CREATE UNIQUE INDEX decision_log_key ON decision_log (decision_key);

-- +goose Down
DROP INDEX decision_log_key;
ALTER TABLE decision_log DROP COLUMN decision_key;

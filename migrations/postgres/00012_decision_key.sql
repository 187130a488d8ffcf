-- +goose Up
-- Each decision's unique key, given by the engine when it decides: the
-- writer inserts with ON CONFLICT (decision_key) DO NOTHING, so a batch
-- written twice (the journal's drain after a commit whose reply was cut by
-- an outage) adds no row. Rows from before have none (NULL, never equal).
ALTER TABLE decision_log ADD COLUMN decision_key TEXT;
CREATE UNIQUE INDEX decision_log_key ON decision_log (decision_key);

-- +goose Down
DROP INDEX decision_log_key;
ALTER TABLE decision_log DROP COLUMN decision_key;

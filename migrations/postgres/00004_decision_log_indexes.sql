-- +goose Up
-- The account history query (WHERE username, domain ORDER BY id DESC LIMIT n)
-- could not use (username, domain, at) for its order and sorted every row
-- of the account for each page; (username, domain, id) reads just the page.
-- Nothing queries by "at" alone (ids grow with time), so that index only
-- cost a B-tree write per decision.
DROP INDEX decision_log_at;
DROP INDEX decision_log_account_at;
CREATE INDEX decision_log_account ON decision_log (username, domain, id);
-- SQLite's call_id index carries the rowid already; here the id is added so
-- a call id's rows come back in order without a sort.
DROP INDEX decision_log_call_id;
CREATE INDEX decision_log_call_id ON decision_log (call_id, id);

-- +goose Down
DROP INDEX decision_log_call_id;
CREATE INDEX decision_log_call_id ON decision_log (call_id);
DROP INDEX decision_log_account;
CREATE INDEX decision_log_account_at ON decision_log (username, domain, at);
CREATE INDEX decision_log_at ON decision_log (at);

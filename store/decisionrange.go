package store

import (
	"context"
	"fmt"
	"time"

	"github.com/voipshield/tfps"
)

// EachDecision calls fn with every decision-log record whose time lies in
// [since, until), in id order (the order the gateways wrote them, which
// is time order up to the few milliseconds a batch waits), reading row by
// row so a month of log never sits in memory. A zero until means no end.
// fn's error stops the scan and is returned.
func (s *Store) EachDecision(ctx context.Context, since, until time.Time, fn func(*tfps.DecisionRecord) error) error {
	end := int64(1<<63 - 1)
	if !until.IsZero() {
		end = ms(until)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, `+decisionColumns+` FROM decision_log WHERE at >= $1 AND at < $2 ORDER BY id`, ms(since), end)
	if err != nil {
		return fmt.Errorf("query decisions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r tfps.DecisionRecord
		if err := scanDecision(rows, &r); err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read decisions: %w", err)
	}
	return nil
}

// VerificationOutcomes returns the outcome of the voice verifications
// recorded in [since, until) by ticket id (success, failure, timeout,
// hangup, blocked, expired): what the caller of a logged verify decision
// did. A zero until means no end.
func (s *Store) VerificationOutcomes(ctx context.Context, since, until time.Time) (map[string]string, error) {
	end := int64(1<<63 - 1)
	if !until.IsZero() {
		end = ms(until)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT ticket, outcome FROM verification_events WHERE at >= $1 AND at < $2 AND ticket <> '' ORDER BY id`, ms(since), end)
	if err != nil {
		return nil, fmt.Errorf("query verification outcomes: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var ticket, outcome string
		if err := rows.Scan(&ticket, &outcome); err != nil {
			return nil, fmt.Errorf("scan verification outcome: %w", err)
		}
		out[ticket] = outcome
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read verification outcomes: %w", err)
	}
	return out, nil
}

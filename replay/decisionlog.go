package replay

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/store"
)

// logReader reads the configured database's decision log: each recorded
// attempt becomes a line, decided again with today's settings. A logged
// verify whose voice session was recorded replays what that caller did
// (success: pass, failure: fail, timeout: silent, hangup: hangup); other
// lines take the default.
type logReader struct {
	ch     chan *Line
	err    error // read after ch closes
	cancel context.CancelFunc
	last   time.Time
}

// outcomeIVR maps a recorded verification outcome to the simulated caller.
// It is the API's, so an exported decision log replays the same way.
var outcomeIVR = api.IVROfOutcome

// NewDecisionLogReader reads the decision-log records of db in [since,
// until) (until zero: to the end). Lines without a recorded verification
// outcome get defIVR. Close it (or read to the end) to stop its query.
func NewDecisionLogReader(ctx context.Context, db *store.Store, since, until time.Time, defIVR string) (Reader, error) {
	outcomes, err := db.VerificationOutcomes(ctx, since, time.Time{})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &logReader{ch: make(chan *Line, 1024), cancel: cancel}
	go func() {
		defer close(r.ch)
		r.err = db.EachDecision(ctx, since, until, func(d *tfps.DecisionRecord) error {
			cc := d.ConcurrentCalls
			l := &Line{Source: "decision-log", N: d.ID, Time: d.At, IVR: defIVR, Check: api.CheckRequest{
				User: d.User, Domain: d.Domain, SourceIP: d.SourceIP, UserAgent: d.UserAgent, ConcurrentCalls: &cc,
				Number: d.Number, Caller: d.Caller, CallID: d.CallID,
			}}
			if v, ok := outcomeIVR[outcomes[d.Ticket]]; ok && d.Ticket != "" {
				l.IVR = v
			}
			select {
			case r.ch <- l:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return r, nil
}

// Next implements Reader. Gateways write their batches a few milliseconds
// apart, so ids and times may disagree slightly; such a record is decided
// at the time of the one before it.
func (r *logReader) Next() (*Line, error) {
	l, ok := <-r.ch
	if !ok {
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			return nil, r.err
		}
		return nil, io.EOF
	}
	if l.Time.Before(r.last) {
		l.Time = r.last
	}
	r.last = l.Time
	return l, nil
}

// Close stops the query.
func (r *logReader) Close() error {
	r.cancel()
	for range r.ch {
	}
	return nil
}

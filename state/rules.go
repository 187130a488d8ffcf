package state

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
)

var _ engine.Calls = DecideCounters{}

// endCallScript ends a call the fraud rules counted.
//
//	KEYS[1] calls in progress, KEYS[2] the call's key, KEYS[3] its ended key
//	ARGV[1] call id, ARGV[2] how long the ended key stays (ms)
//
// Reply {0, ”} unknown, {1, value} ended now, {2, value} ended before.
var endCallScript = redis.NewScript(`
local v = redis.call('GET', KEYS[2])
if not v then
  local d = redis.call('GET', KEYS[3])
  if d then return {2, d} end
  return {0, ''}
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SET', KEYS[3], v, 'PX', ARGV[2])
return {1, v}
`)

// EndCall implements engine.Calls: the call stops counting as in progress
// (at once, on every gateway), and a second end of it is recognised for
// maxDuration.
func (c DecideCounters) EndCall(ctx context.Context, user, domain, callID string, _ time.Time, maxDuration time.Duration) (engine.EndedCall, error) {
	s := c.s
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	keys := []string{s.keys.RuleCalls(user, domain), s.keys.RuleCall(user, domain, callID), s.keys.RuleCallEnded(user, domain, callID)}
	raw, err := endCallScript.Run(ctx, s.rdb, keys, callID, max(maxDuration.Milliseconds(), 1)).Slice()
	if err != nil {
		return engine.EndedCall{}, Wrap("end call", err)
	}
	if len(raw) != 2 {
		return engine.EndedCall{}, fmt.Errorf("end call: unexpected reply of %d values", len(raw))
	}
	st, _ := raw[0].(int64)
	if st == 0 {
		return engine.EndedCall{}, nil
	}
	v, _ := raw[1].(string)
	out := engine.EndedCall{Known: true, Already: st == 2}
	parts := strings.Split(v, "|")
	if len(parts) != 3 {
		return out, fmt.Errorf("end call %s: stored value %q is not inprogress|rule|start", callID, v)
	}
	out.InProgress = parts[0] == "1"
	out.Rule, _ = strconv.ParseInt(parts[1], 10, 64)
	startMS, _ := strconv.ParseInt(parts[2], 10, 64)
	out.Start = time.UnixMilli(startMS)
	return out, nil
}

// RuleStats returns an account's fraud-rule statistics at now (the
// sliding minute and the calls in progress are read as of now).
func (s *State) RuleStats(ctx context.Context, user, domain string, now time.Time, maxDuration time.Duration) (tfps.RuleStats, error) {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	ms := now.UnixMilli()
	pipe := s.rdb.Pipeline()
	h := pipe.HMGet(ctx, s.keys.RuleStats(user, domain), "rule", "win", "total", "seq", "last")
	cpm := pipe.ZCount(ctx, s.keys.RuleCPM(user, domain), "("+strconv.FormatInt(ms-60000, 10), strconv.FormatInt(ms, 10))
	conc := pipe.ZCount(ctx, s.keys.RuleCalls(user, domain), "("+strconv.FormatInt(ms-maxDuration.Milliseconds(), 10), "+inf")
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return tfps.RuleStats{}, Wrap("rule stats", err)
	}
	var out tfps.RuleStats
	num := func(v any) int64 {
		str, _ := v.(string)
		n, _ := strconv.ParseInt(str, 10, 64)
		return n
	}
	vals := h.Val()
	if len(vals) == 5 && vals[0] != nil {
		out.Rule = num(vals[0])
		out.WindowStart = time.UnixMilli(num(vals[1])).UTC()
		out.Total, out.Sequential = num(vals[2]), num(vals[3])
		out.LastNumber, _ = vals[4].(string)
		out.CPM, out.Concurrent = cpm.Val(), conc.Val()
	}
	return out, nil
}

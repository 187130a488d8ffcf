package state

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
)

// The Redis side of one engine decision, in one round trip: a Lua script
// runs the stateful steps in the engine's check order, stops at the first
// that fails (later counters stay untouched), and stores the verify ticket
// when the decision ends in verify. Every window carries its time in the
// data (sorted-set scores, the block's end instant, the local date in the
// daily key), taking "now" from the call; TTLs only collect garbage.
//
// Cluster: every key of the script is in the account's slot: its keys
// share a hash tag, the ticket id is drawn in that slot (TicketIDInSlot)
// and the source's open tickets (shared by every account, in another slot)
// are left to a second script after it, on a cluster only (sourceCap).

// DecideCounters implements engine.Counters. Concurrent decisions share
// round trips: while one pipeline is on the wire, the scripts of the
// decisions that arrive meanwhile queue up and go out together in the next
// (group commit, no timer, so a lone decision never waits for others). Each decision
// still makes exactly one script call; what is shared is the network
// round trip and its system calls, on both sides.
type DecideCounters struct {
	s *State
	b *batcher
}

var _ engine.Counters = DecideCounters{}

// NewDecideCounters returns the engine's Counters on s.
func NewDecideCounters(s *State) DecideCounters { return DecideCounters{s: s, b: &batcher{}} }

// dailyGC keeps a daily counter two days past its last use (the date in its
// name already separates the days).
const dailyGC = 48 * time.Hour

// Step kinds in the script (engine.StepKind values).
const (
	luaAB       = 1
	luaFailures = 2
	luaQuota    = 3
	luaRangeHop = 4
	luaRule     = 5
)

// ruleStatsGC keeps a rule's statistics two days past the account's last
// matched call (a window lasts at most a day; its start is in the data).
const ruleStatsGC = 48 * time.Hour

// decideScript
//
//	KEYS[1] ticket key, KEYS[2] account's open tickets, KEYS[3] source's open tickets,
//	then per step: AB: attempts, block, the account's blocked-pairs index; failures: set; quota: counter
//	ARGV[1] now ms, ARGV[2] number of steps, ARGV[3] ticket PX, ARGV[4] ticket if no step fails,
//	ARGV[5] open-ticket cap (0: none), ARGV[6] its window ms, ARGV[7] ticket id,
//	ARGV[8] 1 when KEYS[3] is used, ARGV[9] now ms of the failures' window
//	(-1: Redis's clock, see sharedNow),
//	then per step: kind, and
//	  AB:       limit, window ms, block ms, member, pair ("" keeps the index unwritten)
//	  failures: limit, window ms
//	  quota:    limit, gc ms, ticket if this step fails
//	  rangehop: limit, window ms, member (E.164 digits), ticket if this step fails
//	  rule:     rule id, window start ms, number, member, max call duration ms,
//	            8 thresholds (critical cpm, total, concurrent, sequential, then
//	            warning the same), ticket if a warning verifies, 1 when settled
//	            (2 in monitor mode: the call is dialled whatever the answer), 1
//	            when a warning verifies, then the 4 values proved by a passed
//	            rule-warning verification (cpm, total, concurrent, sequential) (keys: stats hash, cpm set, calls in progress, the call's key,
//	            the call's ended key)
//
// Reply: per step run {state, count, until}, state 0 pass, 1 failed, 2 failed
// because already blocked; then the index (0-based) of the failing step or
// -1, the open tickets counted, and 1 when the ticket was refused by the cap.
//
// The open-ticket cap applies to whichever ticket the decision would store:
// while the account or the source address has cap unclaimed tickets created
// within the window, no ticket is stored. A stored ticket joins both sets;
// ClaimTicket takes it out of them.
var decideScript = redis.NewScript(luaClock + `
local now = (ARGV[1] + 0)
local n = (ARGV[2] + 0)
local ki, ai = 4, 10
local out = {}
local failed = -1
local ticket = ARGV[4]
local rc = nil
local fnow = nil
-- Integers go to Redis as strings made with %d: a Lua number handed to
-- redis.call, or joined with .., is written with %.17g / %.14g, the costly
-- floating-point path of printf (a tenth of the script's instructions).
local function int(v) return string.format('%d', v) end
-- Numbers are read from the arguments by arithmetic (s + 0): tonumber(s)
-- converts its text twice (lua_isnumber, then lua_tonumber).
local nowS = ARGV[1]
for i = 0, n - 1 do
  local kind = ARGV[ai] -- compared as text: no string-to-number conversion
  local state, count, untilv = 0, 0, 0
  if kind == '1' then
    local attempts, block, index = KEYS[ki], KEYS[ki + 1], KEYS[ki + 2]
    local limit, window, blockms, member, pair = (ARGV[ai + 1] + 0), (ARGV[ai + 2] + 0), (ARGV[ai + 3] + 0), ARGV[ai + 4], ARGV[ai + 5]
    ki, ai = ki + 3, ai + 6
    -- One read for the block and the attempts (packed: see abAttempts).
    local got = redis.call('MGET', block, attempts)
    local b = (got[1] or 0) + 0
    if b > now then
      state, untilv = 2, b
    else
      -- The attempts within the window, this call's (by its member) last.
      local lo = now - window
      local kept = {}
      local v = got[2]
      if v then
        local pos = 1
        while pos <= #v do
          local sp = string.find(v, ' ', pos, true)
          local c = string.find(v, ':', sp + 1, true)
          local ts = string.sub(v, pos, sp - 1) + 0
          local e = c + (string.sub(v, sp + 1, c - 1) + 0)
          if ts > lo and string.sub(v, c + 1, e) ~= member then
            kept[#kept + 1] = string.sub(v, pos, e)
            if ts <= now then count = count + 1 end
          end
          pos = e + 1
        end
      end
      if now > lo then
        kept[#kept + 1] = string.format('%d %d:', now, #member) .. member
        count = count + 1
      end
      if count > limit then
        state, untilv = 1, now + blockms
        redis.call('SET', block, untilv, 'PX', blockms + 60000)
        redis.call('DEL', attempts)
        if pair ~= '' then
          redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
          redis.call('ZADD', index, untilv, pair)
          local last = redis.call('ZREVRANGE', index, 0, 0, 'WITHSCORES')
          redis.call('PEXPIREAT', index, tonumber(last[2]) + 60000)
        end
      else
        redis.call('SET', attempts, table.concat(kept), 'PX', int(window + 60000))
      end
    end
  elseif kind == '2' then
    -- The IVR writes these failures: their window runs on the clock the
    -- IVR's writes run on (ARGV[9]), not on the call's.
    local key = KEYS[ki]
    local limit, window = (ARGV[ai + 1] + 0), (ARGV[ai + 2] + 0)
    fnow = fnow or clock(ARGV[9]) -- one TIME for every failures step
    ki, ai = ki + 1, ai + 3
    local fnowS = int(fnow)
    count = redis.call('ZCOUNT', key, '(' .. int(fnow - window), fnowS)
    if limit > 0 and count >= limit then
      state = 1
      local nth = redis.call('ZREVRANGEBYSCORE', key, fnowS, '(' .. int(fnow - window), 'WITHSCORES', 'LIMIT', int(limit - 1), 1)
      if nth[2] then untilv = tonumber(nth[2]) + window end
    end
  elseif kind == '3' then
    local key = KEYS[ki]
    local limit, gc, t = (ARGV[ai + 1] + 0), ARGV[ai + 2], ARGV[ai + 3]
    ki, ai = ki + 1, ai + 4
    count = redis.call('INCR', key)
    if count == 1 then redis.call('PEXPIRE', key, gc) end
    if count > limit then
      redis.call('DECR', key)
      count = count - 1
      state = 1
      ticket = t
    end
  elseif kind == '4' then
    local key = KEYS[ki]
    local limit, window, num, t = (ARGV[ai + 1] + 0), (ARGV[ai + 2] + 0), ARGV[ai + 3], ARGV[ai + 4]
    ki, ai = ki + 1, ai + 5
    redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now - window))
    count = redis.call('ZCARD', key)
    if redis.call('ZRANK', key, num) then -- ZSCORE's reply is a double to format
      redis.call('ZADD', key, nowS, num)
    elseif count >= limit then
      count = count + 1
      state = 1
      ticket = t
    else
      redis.call('ZADD', key, nowS, num)
      count = count + 1
    end
    redis.call('PEXPIRE', key, int(window + 60000))
  elseif kind == '5' then
    local h, c, p, k, kd = KEYS[ki], KEYS[ki + 1], KEYS[ki + 2], KEYS[ki + 3], KEYS[ki + 4]
    local rid, win, num, member, maxdur = ARGV[ai + 1], ARGV[ai + 2], ARGV[ai + 3], ARGV[ai + 4], (ARGV[ai + 5] + 0)
    local th = {}
    for j = 1, 8 do th[j] = (ARGV[ai + 5 + j] + 0) end
    local t, settled, wv = ARGV[ai + 14], ARGV[ai + 15], ARGV[ai + 16]
    local pv = {(ARGV[ai + 17] + 0), (ARGV[ai + 18] + 0), (ARGV[ai + 19] + 0), (ARGV[ai + 20] + 0)}
    ki, ai = ki + 5, ai + 21
    local cur = redis.call('HMGET', h, 'rule', 'win')
    if cur[1] ~= rid or cur[2] ~= win then
      redis.call('DEL', h, c, p)
      redis.call('HSET', h, 'rule', rid, 'win', win, 'total', 0, 'seq', 0, 'last', '')
    end
    local again = redis.call('EXISTS', k, kd) > 0
    local total, seq
    if again then
      total = tonumber(redis.call('HGET', h, 'total'))
      seq = tonumber(redis.call('HGET', h, 'seq'))
    else
      total = redis.call('HINCRBY', h, 'total', 1)
      if redis.call('HGET', h, 'last') == num then
        seq = redis.call('HINCRBY', h, 'seq', 1)
      else
        redis.call('HSET', h, 'last', num, 'seq', 1)
        seq = 1
      end
      redis.call('ZADD', c, now, member)
    end
    redis.call('ZREMRANGEBYSCORE', c, '-inf', now - 60000)
    local cpm = redis.call('ZCARD', c)
    redis.call('ZREMRANGEBYSCORE', p, '-inf', now - maxdur)
    local conc = redis.call('ZCARD', p)
    if not redis.call('ZSCORE', p, member) then conc = conc + 1 end
    local vals = {cpm, total, conc, seq}
    local trip, value = 0, total
    for j = 1, 4 do
      if th[j] > 0 and vals[j] >= th[j] then trip, value = 16 + j, vals[j] break end
    end
    -- A warning up to what a passed verification proved (pv) is reported
    -- but asks nothing; one beyond it is preferred, as it asks.
    local ask = false
    if trip == 0 then
      for j = 1, 4 do
        if th[4 + j] > 0 and vals[j] >= th[4 + j] then
          local beyond = vals[j] > pv[j]
          if trip == 0 or (beyond and not ask) then trip, value, ask = 8 + j, vals[j], beyond end
        end
      end
    end
    count, untilv = value, trip
    if trip > 16 then
      state, ticket = 1, ''
    elseif trip > 0 and wv == '1' and ask then
      -- The ticket carries the statistic and its value: what the caller proves.
      -- (None in monitor mode: nothing is handed to the IVR.)
      state, ticket = 1, t
      if t ~= '' then
        local names = {'cpm', 'total', 'concurrent', 'sequential'}
        ticket = '{"rule_stat":"' .. names[trip - 8] .. '","observed":' .. value .. ',' .. string.sub(t, 2)
      end
    end
    redis.call('PEXPIRE', h, 172800000) -- ruleStatsGC
    redis.call('PEXPIRE', c, 120000)
    rc = {p = p, k = k, member = member, rid = rid, again = again, settled = settled, maxdur = maxdur}
  else
    return redis.error_reply('unknown step kind ' .. tostring(kind))
  end
  out[#out + 1] = state
  out[#out + 1] = count
  out[#out + 1] = untilv
  if state ~= 0 then
    failed = i
    if kind ~= '3' and kind ~= '4' and kind ~= '5' then ticket = '' end
    break
  end
end
if rc and not rc.again then
  -- The call counts as in progress only when it will be dialled.
  local inprog = rc.settled == '2' or (failed == -1 and ticket == '' and rc.settled == '0')
  local v = (inprog and '1' or '0') .. '|' .. rc.rid .. '|' .. now
  redis.call('SET', rc.k, v, 'PX', rc.maxdur)
  if inprog then
    redis.call('ZADD', rc.p, now, rc.member)
    redis.call('PEXPIRE', rc.p, rc.maxdur + 60000)
  end
end
local open, refused = 0, 0
if ticket ~= '' then
  local cap = (ARGV[5] + 0)
  if cap > 0 then
    local lo = now - (ARGV[6] + 0)
    local src = ARGV[8] == '1'
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', lo)
    open = redis.call('ZCARD', KEYS[2])
    if src then
      redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', lo)
      open = math.max(open, redis.call('ZCARD', KEYS[3]))
    end
    if open >= cap then
      refused, ticket = 1, ''
    else
      local gc = (ARGV[6] + 0) + 60000
      redis.call('ZADD', KEYS[2], now, ARGV[7])
      redis.call('PEXPIRE', KEYS[2], gc)
      if src then
        redis.call('ZADD', KEYS[3], now, ARGV[7])
        redis.call('PEXPIRE', KEYS[3], gc)
      end
    end
  end
end
if ticket ~= '' then
  redis.call('SET', KEYS[1], ticket, 'PX', ARGV[3])
end
out[#out + 1] = failed
out[#out + 1] = open
out[#out + 1] = refused
return out
`)

// Count runs req in one round trip (EVALSHA; EVAL once after a Redis restart).
func (c DecideCounters) Count(ctx context.Context, req *engine.CountRequest) (engine.CountResult, error) {
	s := c.s
	now := req.Now.UnixMilli()
	keys := make([]string, 3, 3+2*len(req.Steps))
	args := make([]any, 9, 9+5*len(req.Steps))
	args[0], args[1], args[8] = now, len(req.Steps), s.sharedNow(req.Now)
	keys[1] = s.keys.OpenTickets(req.User, req.Domain)
	slot := s.keys.AccountSlot(req.User, req.Domain)
	keys[2], args[7] = keys[1], 0 // declared, not used without a source address
	var srcKey string             // the source's open tickets, counted after the script on a cluster
	if req.SourceIP != "" {
		if s.keys.cluster {
			srcKey = s.keys.SourceOpenTickets(req.SourceIP)
		} else {
			keys[2], args[7] = s.keys.SourceOpenTickets(req.SourceIP), 1
		}
	}
	args[4], args[5] = req.MaxOpenTickets, req.OpenTicketWindow.Milliseconds()

	// One id serves every candidate ticket: at most one is stored.
	var id string
	var px int64
	ticket := func(t *engine.Ticket) (string, error) {
		if t == nil {
			return "", nil
		}
		if id == "" {
			var err error
			if id, err = s.ticketID(); err != nil {
				return "", err
			}
			// In the account's slot, so the script's keys share one slot.
			id = TicketIDInSlot(id, slot)
			keys[0] = s.keys.Ticket(id)
			px = t.Expires.Sub(t.Created).Milliseconds() + ticketGrace.Milliseconds()
		}
		t.ID = id
		b := appendTicketJSON(make([]byte, 0, 384), t)
		return string(b), nil
	}
	if req.Monitor {
		// Monitor mode never hands a call to the IVR: whatever the engine
		// prepared, no ticket is written.
		req.Ticket = nil
		for i := range req.Steps {
			req.Steps[i].Ticket = nil
		}
	}
	pass, err := ticket(req.Ticket)
	if err != nil {
		return engine.CountResult{}, err
	}
	args[3] = pass
	withTicket := make([]bool, len(req.Steps)) // the step stores a ticket when it fails
	for i := range req.Steps {
		st := &req.Steps[i]
		switch st.Kind {
		case engine.StepABRepeat:
			block := s.keys.ABBlock(req.User, req.Domain, req.Caller, req.Number)
			pair := pairMember(req.Caller, req.Number)
			if req.Monitor {
				// Monitor-mode blocks are not listed: nothing was refused.
				block, pair = s.keys.ABBlockMonitor(req.User, req.Domain, req.Caller, req.Number), ""
			}
			keys = append(keys, s.keys.ABAttempts(req.User, req.Domain, req.Caller, req.Number), block, s.keys.ABBlocks(req.User, req.Domain))
			args = append(args, luaAB, st.Limit, st.Window.Milliseconds(), st.Block.Milliseconds(), req.Member, pair)
		case engine.StepFailures:
			keys = append(keys, s.keys.VerifyFailuresIn(req.User, req.Domain, st.Scope))
			args = append(args, luaFailures, st.Limit, st.Window.Milliseconds())
		case engine.StepQuota:
			t, err := ticket(st.Ticket)
			if err != nil {
				return engine.CountResult{}, err
			}
			withTicket[i] = t != ""
			keys = append(keys, s.keys.Daily(req.User, req.Domain, st.Day, st.OffHours))
			args = append(args, luaQuota, st.Limit, dailyGC.Milliseconds(), t)
		case engine.StepRangeHop:
			if st.Member == "" || st.Range == "" {
				return engine.CountResult{}, fmt.Errorf("count: range-hop step without its range or number")
			}
			t, err := ticket(st.Ticket)
			if err != nil {
				return engine.CountResult{}, err
			}
			withTicket[i] = t != ""
			keys = append(keys, s.keys.RangeHop(req.User, req.Domain, st.Range))
			args = append(args, luaRangeHop, st.Limit, st.Window.Milliseconds(), st.Member, t)
		case engine.StepRule:
			t, err := ticket(st.Ticket)
			if err != nil {
				return engine.CountResult{}, err
			}
			r := st.Rule
			keys = append(keys, s.keys.RuleStats(req.User, req.Domain), s.keys.RuleCPM(req.User, req.Domain),
				s.keys.RuleCalls(req.User, req.Domain), s.keys.RuleCall(req.User, req.Domain, req.Member),
				s.keys.RuleCallEnded(req.User, req.Domain, req.Member))
			settled, wv := 0, 0
			switch {
			case req.Monitor:
				settled = 2 // approved whatever the checks found
			case req.Settled:
				settled = 1
			}
			if r.WarningAction == tfps.RuleWarningVerify {
				wv = 1
			}
			args = append(args, luaRule, r.ID, st.Since.UnixMilli(), req.Number, req.Member, max(st.Window.Milliseconds(), 1),
				r.CPMCritical, r.TotalCritical, r.ConcurrentCritical, r.SequentialCritical,
				r.CPMWarning, r.TotalWarning, r.ConcurrentWarning, r.SequentialWarning, t, settled, wv,
				st.Proved[0], st.Proved[1], st.Proved[2], st.Proved[3])
		default:
			return engine.CountResult{}, fmt.Errorf("count: unknown step kind %d", st.Kind)
		}
	}
	if keys[0] == "" {
		keys[0] = s.keys.Ticket(TicketIDInSlot(strings.Repeat("0", engine.TicketIDDigits), slot)) // declared, never written
	}
	args[2], args[6] = px, id

	// A decision whose caller gave up (a CANCELled INVITE, its deadline)
	// before its turn does no Redis work; once its batch is on the wire
	// the script runs, and the caller need not wait for it.
	if err := ctx.Err(); err != nil {
		return engine.CountResult{}, fmt.Errorf("decide: %w", err)
	}
	p := &pending{keys: keys, args: args, wake: make(chan struct{}, 1)}
	if err := c.b.submit(ctx, s, p); err != nil {
		return engine.CountResult{}, Wrap("decide", err)
	}
	if p.err != nil {
		return engine.CountResult{}, Wrap("decide", p.err)
	}
	raw := p.raw
	if len(raw) < 3 || len(raw)%3 != 0 {
		return engine.CountResult{}, fmt.Errorf("decide: unexpected reply of %d values", len(raw))
	}
	tail := raw[len(raw)-3:]
	raw = raw[:len(raw)-3]
	res := engine.CountResult{Steps: make([]engine.StepResult, len(raw)/3), Failed: int(tail[0]), OpenTickets: tail[1], TicketRefused: tail[2] == 1}
	for i := range res.Steps {
		st, count, until := raw[3*i], raw[3*i+1], raw[3*i+2]
		r := engine.StepResult{Failed: st != 0, Blocked: st == 2, Count: count}
		if req.Steps[i].Kind == engine.StepRule {
			r.Blocked, r.Trip = false, until
		} else if until > 0 {
			r.Until = time.UnixMilli(until)
		}
		res.Steps[i] = r
	}
	stored := !res.TicketRefused && (res.Failed < 0 && pass != "" || res.Failed >= 0 && res.Failed < len(withTicket) && withTicket[res.Failed])
	if stored && srcKey != "" && req.MaxOpenTickets > 0 {
		refused, open, err := c.sourceCap(ctx, srcKey, id, req)
		if err != nil {
			return engine.CountResult{}, err
		}
		res.OpenTickets = max(res.OpenTickets, open)
		res.TicketRefused = refused
	}
	return res, nil
}

// sourceCapScript counts a source address's open tickets on a Redis
// Cluster, where the set sits in another slot than the account's keys:
// KEYS[1] the set; ARGV now ms, window ms, cap, ticket id. Under the cap
// it adds the ticket; the reply is {refused, open before}.
var sourceCapScript = redis.NewScript(`
local now, window, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local open = redis.call('ZCARD', KEYS[1])
if open >= cap then return {1, open} end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window + 60000)
return {0, open}
`)

// sourceCap applies the open-ticket cap of the source address to the
// ticket id the decide script just stored (on a cluster only). Over the cap
// the ticket is taken back (deleted, out of the account's open set) before
// anyone heard of it, and the decision sees it refused, as the decide
// script would have on a single Redis; only verify decisions pay this
// second round trip.
func (c DecideCounters) sourceCap(ctx context.Context, srcKey, id string, req *engine.CountRequest) (refused bool, open int64, err error) {
	s := c.s
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	r, err := sourceCapScript.Run(ctx, s.rdb, []string{srcKey}, req.Now.UnixMilli(), req.OpenTicketWindow.Milliseconds(), req.MaxOpenTickets, id).Int64Slice()
	if err != nil {
		return false, 0, Wrap("decide: source open tickets", err)
	}
	if len(r) != 2 {
		return false, 0, fmt.Errorf("decide: source open tickets: unexpected reply of %d values", len(r))
	}
	if r[0] == 0 {
		return false, r[1], nil
	}
	p := s.rdb.Pipeline()
	p.Del(ctx, s.keys.Ticket(id))
	p.ZRem(ctx, s.keys.OpenTickets(req.User, req.Domain), id)
	if _, err := p.Exec(ctx); err != nil {
		return false, 0, Wrap("decide: take back a ticket over the source's cap", err)
	}
	return true, r[1], nil
}

// maxBatch bounds the scripts sent in one pipeline.
const maxBatch = 128

// pending is one decision's script call waiting for its round trip.
type pending struct {
	keys []string
	args []any
	raw  []int64
	err  error
	wake chan struct{} // buffered 1, signalled once raw/err are the answer
}

// batcher runs pending calls in pipelines, one pipeline at a time, from a
// goroutine that lives while there is work: it sends everything queued,
// answers every caller of that batch, and sends the next while more have
// arrived. A caller waits for its answer or its context, whichever comes
// first: behind a slow or blackholed Redis the decision returns at its
// deadline (the engine then applies the error policy) instead of waiting
// for the batches before its own. A caller that gives up while still
// queued is taken out of the queue (its script never runs); one whose
// batch is already on the wire leaves its answer unread.
type batcher struct {
	mu      sync.Mutex
	queue   []*pending
	running bool
}

func (b *batcher) submit(ctx context.Context, s *State, p *pending) error {
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if !b.running {
		b.running = true
		go b.run(s)
	}
	b.mu.Unlock()
	select {
	case <-p.wake:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		for i, q := range b.queue {
			if q == p {
				b.queue = append(b.queue[:i], b.queue[i+1:]...)
				break
			}
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

func (b *batcher) run(s *State) {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), maxBatch)
		batch := make([]*pending, n)
		copy(batch, b.queue)
		b.queue = append(b.queue[:0], b.queue[n:]...)
		b.mu.Unlock()
		runBatch(s, batch)
		for _, q := range batch {
			q.wake <- struct{}{}
		}
	}
}

// runBatch sends the scripts of batch in one pipeline under the decide
// deadline (Options.DecideTimeout, else the operation deadline; not any one
// caller's context: a cancelled call must not fail the others). A script
// missing from Redis (restart, SCRIPT FLUSH) is sent again in full once.
func runBatch(s *State, batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), s.decideTimeout)
	defer cancel()
	cmds := make([]*redis.Cmd, len(batch))
	exec := func(full bool) {
		pipe := s.decideRdb.Pipeline()
		for i, p := range batch {
			switch {
			case !full:
				cmds[i] = pipe.EvalSha(ctx, decideScript.Hash(), p.keys, p.args...)
			case redis.HasErrorPrefix(cmds[i].Err(), "NOSCRIPT"):
				cmds[i] = decideScript.Eval(ctx, pipe, p.keys, p.args...)
			}
		}
		pipe.Exec(ctx) // errors are read per command below
	}
	exec(false)
	for _, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			exec(true)
			break
		}
	}
	for i, p := range batch {
		p.raw, p.err = cmds[i].Int64Slice()
	}
}

// fastTicketID draws a ticket id (engine.TicketIDDigits uniform decimal digits)
// from crypto/rand: one 8-byte read, rejection-sampled.
func fastTicketID() (string, error) {
	const span = 10_000_000_000_000_000 // 10^16
	const limit = (1<<64 - 1) / span * span
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("ticket id: %w", err)
		}
		if v := binary.LittleEndian.Uint64(b[:]); v < limit {
			s := strconv.FormatUint(v%span, 10)
			return strings.Repeat("0", engine.TicketIDDigits-len(s)) + s, nil
		}
	}
}

// DailyCount returns an account's approved-call counter of a local date (in
// or off hours), for the admin API.
func (s *State) DailyCount(ctx context.Context, user, domain, localDate string, offHours bool) (int64, error) {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	v, err := s.rdb.Get(ctx, s.keys.Daily(user, domain, localDate, offHours)).Result()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, Wrap("daily count", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("daily count of %s@%s: %w", user, domain, err)
	}
	return n, nil
}

// ResetDaily clears an account's in-hours and off-hours counters of a local
// date (tfpsctl reset: the quota starts again today).
func (s *State) ResetDaily(ctx context.Context, user, domain, localDate string) error {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	err := s.rdb.Del(ctx, s.keys.Daily(user, domain, localDate, false), s.keys.Daily(user, domain, localDate, true)).Err()
	return Wrap("reset daily counters", err)
}

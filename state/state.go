// Package state owns the real-time state in Redis: every key name, TTL and
// script lives here. Correctness never waits for a key to expire: windowed
// data carries its own time (sorted sets of timestamps, dates in key names,
// end instants inside values), and TTLs only collect garbage. That lets the
// engine take the call's time as an argument and lets tests cross midnight
// in microseconds.
//
// Every operation runs under a deadline (Options.Timeout): when Redis is down
// the caller gets an error wrapping ErrUnavailable within that time, never a
// hang. The client is a go-redis UniversalClient, so Sentinel and Cluster can
// be configured later; keys of one account share a hash tag so an account's
// scripts stay on one Cluster slot.
package state

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voipshield/tfps"
)

// Sentinel errors; callers check them with errors.Is. A ticket that cannot
// be claimed is one of the engine's (engine.ErrTicketUnknown, ...).
var (
	// ErrUnavailable wraps tfps.ErrUnavailable, so a caller that knows
	// only the domain's errors can tell "Redis is down, try again".
	ErrUnavailable = fmt.Errorf("redis %w", tfps.ErrUnavailable)
)

// Options configure a State.
type Options struct {
	Prefix  string        // prepended to every key; default "tfps:"
	Timeout time.Duration // deadline of every operation; default 500ms
	// DecideTimeout, when longer than Timeout, is the deadline of a
	// decision's counting script (DecideCounters.Count), on connections of
	// its own. A decision has its own, longer budget (the SIP decide
	// timeout; 2 s for an HTTP check): a Redis or a gateway that stalls
	// half a second then answers makes those calls late, not refused by
	// the error policy. Each caller still stops waiting at its own
	// deadline.
	DecideTimeout time.Duration
	// TicketIDs, when set, draws ticket ids instead of crypto/rand: a
	// replay gives a seeded source so its runs repeat exactly. Ids must
	// still be unique among live tickets.
	TicketIDs func() (string, error)
	// CallerTime measures the windows that gateways and IVRs share (failed
	// verifications, PIN attempts, a ticket's life) on the times the
	// callers pass in, as every other window is. By default they run on
	// Redis's own clock (TIME inside the scripts, a ticket key's remaining
	// TTL), so hosts whose clocks disagree still agree on them, and the
	// times passed for them are not used. A replay sets it: it runs on the
	// file's time.
	CallerTime bool
	// Cluster reads the URL as a Redis Cluster's (go-redis
	// ParseClusterURL: redis://host:port?addr=host2:port2&addr=...) and
	// talks to it through the cluster client (TFPS_REDIS_CLUSTER=on).
	Cluster bool
}

// State is the handle on Redis. It is safe for concurrent use.
type State struct {
	rdb     redis.UniversalClient
	keys    Keys
	timeout time.Duration
	// decideRdb runs the decide script's pipelines, under decideTimeout:
	// rdb itself unless Options.DecideTimeout asked for longer.
	decideRdb     redis.UniversalClient
	decideTimeout time.Duration
	ticketID      func() (string, error)
	callerTime    bool
}

// DefaultTimeout bounds every Redis operation unless Options say otherwise.
const DefaultTimeout = 500 * time.Millisecond

// Open connects to the Redis named by rawURL (redis:// or rediss://) and
// checks that it answers.
func Open(ctx context.Context, rawURL string, opt Options) (*State, error) {
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var rdb, decideRdb redis.UniversalClient
	var addr string
	if opt.Cluster {
		co, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis cluster URL: %w", err)
		}
		co.DialTimeout, co.ReadTimeout, co.WriteTimeout = timeout, timeout, timeout
		co.MaxRetries, co.Protocol, co.PoolSize, co.MinIdleConns = 1, 2, 64, 4
		addr = strings.Join(co.Addrs, ",")
		rdb = redis.NewClusterClient(co)
		if opt.DecideTimeout > timeout {
			dco := *co
			dco.ReadTimeout, dco.WriteTimeout, dco.PoolSize, dco.MinIdleConns = opt.DecideTimeout, opt.DecideTimeout, 8, 0
			decideRdb = redis.NewClusterClient(&dco)
		}
	} else {
		ro, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis URL: %w", err)
		}
		addr = ro.Addr
		uo := redis.UniversalOptions{
			Addrs:     []string{ro.Addr},
			DB:        ro.DB,
			Username:  ro.Username,
			Password:  ro.Password,
			TLSConfig: ro.TLSConfig,
			// Fail fast: the operation deadline, not retries, bounds the wait.
			DialTimeout:  timeout,
			ReadTimeout:  timeout,
			WriteTimeout: timeout,
			MaxRetries:   1,
			// RESP2: nothing here uses RESP3 push messages, and with RESP3 the
			// client checks the connection for pending pushes on every reply
			// (2% of a gateway's CPU under load).
			Protocol:     2,
			PoolSize:     64,
			MinIdleConns: 4,
		}
		rdb = redis.NewUniversalClient(&uo)
		if opt.DecideTimeout > timeout {
			// One pipeline at a time goes out (the batcher): a few
			// connections are enough.
			uo.ReadTimeout, uo.WriteTimeout, uo.PoolSize, uo.MinIdleConns = opt.DecideTimeout, opt.DecideTimeout, 8, 0
			decideRdb = redis.NewUniversalClient(&uo)
		}
	}
	s := New(rdb, opt)
	if decideRdb != nil {
		s.decideRdb, s.decideTimeout = decideRdb, opt.DecideTimeout
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to redis %s: %w", addr, err)
	}
	return s, nil
}

// New wraps an existing client.
func New(rdb redis.UniversalClient, opt Options) *State {
	if opt.Prefix == "" {
		opt.Prefix = "tfps:"
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.TicketIDs == nil {
		opt.TicketIDs = fastTicketID
	}
	_, cluster := rdb.(*redis.ClusterClient)
	return &State{rdb: rdb, keys: Keys{prefix: opt.Prefix, cluster: cluster || opt.Cluster}, timeout: opt.Timeout, ticketID: opt.TicketIDs, callerTime: opt.CallerTime,
		decideRdb: rdb, decideTimeout: opt.Timeout}
}

// sharedNow is the "now" argument of a script measuring a shared window:
// the caller's time in Unix ms with Options.CallerTime, else -1, which the
// script reads as "Redis's clock" (luaClock).
func (s *State) sharedNow(t time.Time) int64 {
	if s.callerTime {
		return t.UnixMilli()
	}
	return -1
}

// luaClock starts the scripts of shared windows: clock(v) is v, a time in
// Unix ms, or Redis's own time when v is negative.
const luaClock = `
local function clock(v)
  local n = tonumber(v)
  if n >= 0 then return n end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// Client returns the underlying client, for packages that add their own
// operations in files of this package.
func (s *State) Client() redis.UniversalClient { return s.rdb }

// Keys returns the key builders.
func (s *State) Keys() Keys { return s.keys }

// Timeout is the deadline applied to every operation.
func (s *State) Timeout() time.Duration { return s.timeout }

// Close releases the connections.
func (s *State) Close() error {
	err := s.rdb.Close()
	if s.decideRdb != s.rdb {
		err = errors.Join(err, s.decideRdb.Close())
	}
	return err
}

// WithDeadline returns ctx bounded by the operation timeout.
func (s *State) WithDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// Ping checks that Redis answers within the deadline.
func (s *State) Ping(ctx context.Context) error {
	ctx, cancel := s.WithDeadline(ctx)
	defer cancel()
	return Wrap("ping", s.rdb.Ping(ctx).Err())
}

// Wrap classifies a go-redis error: network failures and deadlines wrap
// ErrUnavailable so callers can tell "Redis is down" from a bug.
func Wrap(op string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &ne) ||
		errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) {
		return fmt.Errorf("redis %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("redis %s: %w", op, err)
}

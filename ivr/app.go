package ivr

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// App is the Stasis application: one session (goroutine) per channel that
// enters it. It depends on the ari.Client interface only; the service
// (ivrservice) connects the native client.
type App struct {
	client  ari.Client
	name    string
	flows   *Flows
	drain   time.Duration
	log     *slog.Logger
	metrics *metrics

	mu    sync.Mutex
	stops map[*ariCall]context.CancelCauseFunc // live sessions
}

// AppOptions configure an App.
type AppOptions struct {
	Name       string        // Stasis application name (TFPS_ARI_APP)
	Drain      time.Duration // on shutdown, wait this long for live sessions
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// NewApp returns the Stasis app for client.
func NewApp(client ari.Client, flows *Flows, o AppOptions) *App {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := newMetrics(o.Registerer)
	flows.metrics = m
	if flows.Log == nil {
		flows.Log = log
	}
	return &App{client: client, name: o.Name, flows: flows, drain: o.Drain, log: log, metrics: m, stops: map[*ariCall]context.CancelCauseFunc{}}
}

// ErrARILost ends the sessions of Disconnected, ErrEndedByAsterisk those
// whose channel Asterisk hung up itself (a restart or shutdown, an
// operator's command) rather than the caller: a session ended so before its
// outcome records no hang-up and gives its ticket back
// (Tickets.ReleaseTicket), so the caller can call again with it.
var (
	ErrARILost         = errors.New("ARI websocket lost")
	ErrEndedByAsterisk = errors.New("call hung up by Asterisk, not the caller")
)

// Disconnected ends every live session: the ARI websocket broke (Asterisk
// restarted or the network failed), so their events are lost and, after a
// restart, their channels are gone. Without it a session would wait for
// keys that never come and count a failure against a caller who did
// nothing wrong. A session that had not reached its outcome hangs up the
// channel if it still exists, records nothing and gives its ticket back.
// The service calls it when the websocket is lost, and only then: a failed
// request or poll leaves live calls alone.
func (a *App) Disconnected() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.stops) > 0 {
		a.log.Warn("ARI connection lost: ending live sessions", "sessions", len(a.stops))
	}
	for c, stop := range a.stops {
		stop(ErrARILost)
		delete(a.stops, c)
	}
}

// ErrBusClosed is returned by Run when the ARI client's event bus closes.
var ErrBusClosed = errors.New("ARI event bus closed")

// Run takes calls until ctx ends. Then it takes no new calls (they are hung
// up), waits up to the drain time for live sessions, stops the rest and
// returns once every session goroutine has ended.
func (a *App) Run(ctx context.Context) error {
	sub := a.client.Bus().Subscribe(nil, ari.Events.StasisStart)
	defer sub.Cancel()

	// Sessions outlive ctx during the drain; stopAll ends them afterwards.
	sessions, stopAll := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAll()
	var wg sync.WaitGroup
	defer wg.Wait()

	events := sub.Events()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return ErrBusClosed
			}
			a.start(sessions, &wg, e)
		case <-ctx.Done():
			a.log.Info("ivr stopping: no new calls, waiting for live sessions", "drain", a.drain)
			return a.drainSessions(events, &wg, stopAll)
		}
	}
}

func (a *App) drainSessions(events <-chan ari.Event, wg *sync.WaitGroup, stopAll context.CancelFunc) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(a.drain)
	defer timer.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-timer.C:
			a.log.Warn("drain time over, ending live sessions")
			stopAll()
			<-done
			return nil
		case e, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if st, ok := e.(*ari.StasisStart); ok && st.GetApplication() == a.name {
				a.log.Info("call refused while stopping", "channel", st.Channel.ID)
				_ = a.client.Channel().Hangup(st.Key(ari.ChannelKey, st.Channel.ID), "congestion")
			}
		}
	}
}

// start subscribes to the channel's events, then runs its session.
func (a *App) start(ctx context.Context, wg *sync.WaitGroup, e ari.Event) {
	st, ok := e.(*ari.StasisStart)
	if !ok || (a.name != "" && st.GetApplication() != a.name) {
		return
	}
	h := a.client.Channel().Get(st.Key(ari.ChannelKey, st.Channel.ID))
	ctx, cancel := context.WithCancelCause(ctx)
	log := a.log.With("channel", st.Channel.ID)
	call, stop := newARICall(a.client, h, cancel, log, a.metrics)
	a.mu.Lock()
	a.stops[call] = cancel
	a.mu.Unlock()
	a.metrics.active.Inc()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer a.metrics.active.Dec()
		defer stop()
		defer cancel(nil)
		defer func() {
			a.mu.Lock()
			delete(a.stops, call)
			a.mu.Unlock()
		}()
		began := time.Now()
		info := CallInfo{Channel: st.Channel.ID}
		if st.Channel.Caller != nil {
			info.CallerID = st.Channel.Caller.Number
		}
		if st.Channel.Dialplan != nil {
			info.Context = st.Channel.Dialplan.Context
		}
		out := OutcomeHangup
		if err := h.Answer(); err != nil {
			log.Warn("answer failed", "err", err)
		} else {
			info.Answered = a.flows.now()
			out = a.flows.Handle(ctx, call, st.Args, info)
		}
		a.metrics.sessions.WithLabelValues(string(out)).Inc()
		a.metrics.duration.Observe(time.Since(began).Seconds())
	}()
}

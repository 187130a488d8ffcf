package sipfront

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
)

// Decider decides one call attempt; *engine.Engine satisfies it.
type Decider interface {
	Decide(ctx context.Context, call engine.Call) (engine.Decision, error)
}

var _ Decider = (*engine.Engine)(nil)

// ErrClosed is returned by Serve* after Close.
var ErrClosed = errors.New("sip front closed")

// Options configure a Server. OptionsFrom fills them from the configuration.
type Options struct {
	// Method is 302 or 503 (TFPS_AUTHORIZE_METHOD).
	Method int
	// ContactHost is host[:port] of A00/Rnn Contacts; empty: the host of
	// each request's Request-URI.
	ContactHost  string
	VerifyPrefix string // default "V"
	// IVRAddress is host[:port] of the IVR Asterisk; empty: the Contact
	// host at port 5080.
	IVRAddress string
	Allow      []netip.Prefix // empty: nobody may ask
	// TrustHeaders lists the sources whose identity headers (P-tfps,
	// X-tfps, P-Received, P-UA, P-Calls) are believed: the proxies that
	// remove what their callers sent and add their own. A request from any
	// other source is decided on its From, its packet source and its
	// User-Agent, and the ignored headers are logged. nil: the Allow list;
	// an empty non-nil list: nobody.
	TrustHeaders  []netip.Prefix
	DenyDrop      bool          // true: say nothing to a denied source; false: 403
	FloodLimit    int           // requests per source per second; 0: off
	ErrorStatus   int           // answer when the engine errs; default 500, never 503
	DecideTimeout time.Duration // default 2s
	MaxInFlight   int           // default 4096
	// TCPMaxConns and TCPMaxPerSource cap the TCP connections open at
	// once, in all and per source address (defaults 1024 and 64); TCPIdle
	// closes one that sent no complete message or keep-alive for that
	// long (default 60s).
	TCPMaxConns     int
	TCPMaxPerSource int
	TCPIdle         time.Duration
	AnswerTTL       time.Duration // how long answers are kept for retransmissions; default 32s (Timer B)
	ServerName      string        // Server header; default "tfps-gateway"

	Registerer prometheus.Registerer // nil: metrics not registered
	Logger     *slog.Logger          // nil: slog.Default()
	Now        func() time.Time      // the call's time; nil: time.Now
}

// OptionsFrom returns the options the configuration sets.
func OptionsFrom(c *config.Config) Options {
	o := Options{
		Method:        c.AuthorizeMethod,
		ContactHost:   c.SIP.ContactHost,
		VerifyPrefix:  c.SIP.VerifyPrefix,
		IVRAddress:    c.SIP.IVRAddress,
		Allow:         c.SIP.Allow,
		TrustHeaders:  c.SIP.TrustHeaders,
		DenyDrop:      c.SIP.DenyAction == config.DenyDrop,
		FloodLimit:    c.SIP.FloodLimit,
		ErrorStatus:   c.SIP.ErrorCode,
		DecideTimeout: c.SIP.DecideTimeout,
		MaxInFlight:   c.SIP.MaxInFlight,

		TCPMaxConns:     c.SIP.TCPMaxConns,
		TCPMaxPerSource: c.SIP.TCPMaxPerSource,
		TCPIdle:         c.SIP.TCPIdle,
	}
	if o.ContactHost == "" {
		switch {
		case c.PublicIP.IsValid():
			o.ContactHost = hostLiteral(c.PublicIP)
		case c.PrivateIP.IsValid():
			o.ContactHost = hostLiteral(c.PrivateIP)
		}
	}
	return o
}

func hostLiteral(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return "[" + a.String() + "]"
	}
	return a.Unmap().String()
}

func (o *Options) defaults() error {
	if o.Method == 0 {
		o.Method = 302
	}
	if o.Method != 302 && o.Method != 503 {
		return fmt.Errorf("authorize method %d: must be 302 or 503", o.Method)
	}
	if o.VerifyPrefix == "" {
		o.VerifyPrefix = "V"
	}
	if o.ErrorStatus == 0 {
		o.ErrorStatus = 500
	}
	if o.ErrorStatus == 503 || o.ErrorStatus < 400 || o.ErrorStatus > 699 {
		return fmt.Errorf("error status %d: must be a 4xx-6xx other than 503 (503 approves in failover mode)", o.ErrorStatus)
	}
	if o.DecideTimeout <= 0 {
		o.DecideTimeout = 2 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 4096
	}
	if o.TCPMaxConns <= 0 {
		o.TCPMaxConns = 1024
	}
	if o.TCPMaxPerSource <= 0 {
		o.TCPMaxPerSource = 64
	}
	if o.TCPIdle <= 0 {
		o.TCPIdle = 60 * time.Second
	}
	if o.AnswerTTL <= 0 {
		o.AnswerTTL = 32 * time.Second
	}
	if o.ServerName == "" {
		o.ServerName = "tfps-gateway"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TrustHeaders == nil {
		o.TrustHeaders = o.Allow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Server is the SIP front. Serve it on any number of UDP sockets and TCP
// listeners; Close stops them and waits for decisions in flight.
type Server struct {
	d       Decider
	opts    Options
	log     *slog.Logger
	metrics *metrics
	parser  *sip.Parser
	answers *answerCache
	// buffers holds the buffers answers are written in: an answer is
	// copied into the answer cache and written to the socket before its
	// buffer goes back.
	buffers sync.Pool
	flood   *floodLimit
	sem     chan struct{}

	mu        sync.Mutex
	closed    bool
	closers   []func() error
	conns     map[net.Conn]struct{}
	perSource map[netip.Addr]int // open TCP connections per source
	wg        sync.WaitGroup     // serve loops, connections and decisions
	baseCtx   context.Context
	cancelAll context.CancelFunc
}

// New returns a Server that asks d.
func New(d Decider, opts Options) (*Server, error) {
	if d == nil {
		return nil, errors.New("new sip front: decider is required")
	}
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("new sip front: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("new sip front: register metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		d:         d,
		opts:      opts,
		log:       opts.Logger,
		metrics:   m,
		parser:    sip.NewParser(),
		answers:   newAnswerCache(opts.AnswerTTL, 200_000),
		flood:     newFloodLimit(opts.FloodLimit, 100_000),
		sem:       make(chan struct{}, opts.MaxInFlight),
		conns:     map[net.Conn]struct{}{},
		perSource: map[netip.Addr]int{},
		baseCtx:   ctx,
		cancelAll: cancel,
	}
	go s.ageAnswers(ctx)
	return s, nil
}

// ageAnswers ages the answer cache every quarter answer lifetime until ctx
// ends (Close), so the answers of a busy hour do not stay in memory once
// calls stop.
func (s *Server) ageAnswers(ctx context.Context) {
	t := time.NewTicker(s.opts.AnswerTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.answers.expire(s.opts.Now())
		}
	}
}

func (s *Server) track(closer func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		closer()
		return ErrClosed
	}
	s.closers = append(s.closers, closer)
	s.wg.Add(1)
	return nil
}

// Close stops every listener, cancels decisions in flight and waits for
// them (they still answer) or for ctx.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var errs []error
	for _, c := range s.closers {
		if err := c(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancelAll()
		<-done
	}
	s.cancelAll()
	return errors.Join(errs...)
}

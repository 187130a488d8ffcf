package sipfront

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
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
	return &Server{
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
	}, nil
}

// UDPReadBuffer is the receive buffer ListenUDP asks the kernel for: the
// default (~208 KB) drops datagrams from a few thousand calls per second.
const UDPReadBuffer = 4 << 20

// ListenUDP opens a UDP socket for the front with a 4 MiB read buffer.
func ListenUDP(addr string) (*net.UDPConn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("resolve sip udp %s: %w", addr, err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("listen sip udp %s: %w", addr, err)
	}
	if err := c.SetReadBuffer(UDPReadBuffer); err != nil {
		c.Close()
		return nil, fmt.Errorf("set sip udp read buffer: %w", err)
	}
	return c, nil
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

// ServeUDP answers requests arriving on c until Close (which closes c).
func (s *Server) ServeUDP(c net.PacketConn) error { return s.serveUDP(c, false) }

// ServeMonitorUDP is ServeUDP deciding every request in monitor mode
// (engine.Call.Monitor): the caller is approved and X-Tfps-Code carries the
// would-be code (TFPS_SIP_MONITOR_LISTEN).
func (s *Server) ServeMonitorUDP(c net.PacketConn) error { return s.serveUDP(c, true) }

func (s *Server) serveUDP(c net.PacketConn, monitor bool) error {
	if err := s.track(c.Close); err != nil {
		return err
	}
	defer s.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("read sip udp: %w", err)
		}
		src := addrPort(from)
		reply := func(b []byte) error {
			_, err := c.WriteTo(b, from)
			return err
		}
		s.datagram(buf[:n], src, "UDP", monitor, reply)
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// admit applies the flood limit and the allow list to a message's source.
// It returns false when the message must be dropped silently, and deny=true
// when it must get 403. The flood limit comes first and counts denied
// sources too: over UDP the source address is only claimed, and a 403 for
// every spoofed datagram would make the gateway reflect traffic at the
// address the attacker wrote.
func (s *Server) admit(src netip.AddrPort, now time.Time) (ok, deny bool) {
	if !s.flood.allow(src.Addr(), now) {
		s.metrics.flood.Inc()
		return false, false
	}
	if !s.allowed(src.Addr()) {
		if s.opts.DenyDrop {
			s.metrics.denied.WithLabelValues("drop").Inc()
			return false, false
		}
		s.metrics.denied.WithLabelValues("403").Inc()
		return true, true
	}
	return true, false
}

func (s *Server) allowed(a netip.Addr) bool { return inPrefixes(s.opts.Allow, a) }

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// datagram handles one UDP datagram.
func (s *Server) datagram(data []byte, src netip.AddrPort, transport string, monitor bool, reply func([]byte) error) {
	if len(bytes.Trim(data, "\r\n\x00 ")) == 0 {
		return // keep-alive
	}
	now := s.opts.Now()
	ok, deny := s.admit(src, now)
	if !ok {
		return
	}
	msg, err := s.parser.ParseSIP(data)
	if err != nil {
		s.metrics.parseErrors.WithLabelValues("udp").Inc()
		if s.log.Enabled(context.Background(), slog.LevelDebug) {
			s.log.Debug("sip datagram not parsed", "source", src, "bytes", len(data), "err", err)
		}
		return
	}
	req, isReq := msg.(*sip.Request)
	if !isReq {
		return // responses: we send no requests
	}
	s.request(req, src, transport, monitor, now, deny, reply)
}

// ServeTCP accepts SIP over TCP on ln until Close (which closes ln).
func (s *Server) ServeTCP(ln net.Listener) error { return s.serveTCP(ln, false) }

// ServeMonitorTCP is ServeTCP deciding every request in monitor mode, like
// ServeMonitorUDP.
func (s *Server) ServeMonitorTCP(ln net.Listener) error { return s.serveTCP(ln, true) }

func (s *Server) serveTCP(ln net.Listener, monitor bool) error {
	if err := s.track(ln.Close); err != nil {
		return err
	}
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors (EMFILE, ENFILE), a connection
			// aborted before it was accepted, a timeout: none of them ends
			// the listener. Wait a little longer each time and accept
			// again; connections closing meanwhile give descriptors back.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.metrics.acceptErrors.Inc()
			if backoff == time.Second || backoff == 5*time.Millisecond {
				s.log.Error("accept sip tcp: retrying", "backoff", backoff, "err", err)
			}
			select {
			case <-time.After(backoff):
			case <-s.baseCtx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		src := addrPort(c.RemoteAddr()).Addr()
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		if len(s.conns) >= s.opts.TCPMaxConns || s.perSource[src] >= s.opts.TCPMaxPerSource {
			s.mu.Unlock()
			c.Close()
			s.metrics.tcpRefused.Inc()
			continue
		}
		s.conns[c] = struct{}{}
		s.perSource[src]++
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c, src, monitor)
	}
}

func (s *Server) serveConn(c net.Conn, srcAddr netip.Addr, monitor bool) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		if s.perSource[srcAddr]--; s.perSource[srcAddr] <= 0 {
			delete(s.perSource, srcAddr)
		}
		s.mu.Unlock()
		c.Close()
	}()
	src := addrPort(c.RemoteAddr())
	var wmu sync.Mutex
	reply := func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Write(b)
		return err
	}
	if !s.allowed(src.Addr()) && s.opts.DenyDrop {
		s.metrics.denied.WithLabelValues("drop").Inc()
		return
	}
	stream := s.parser.NewSIPStream()
	defer stream.Close()
	buf := make([]byte, 65536)
	// The idle deadline moves only when a complete message or a CRLF
	// keep-alive arrives: a byte now and then of a message that never
	// ends keeps nothing open.
	c.SetReadDeadline(time.Now().Add(s.opts.TCPIdle))
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if len(bytes.Trim(buf[:n], "\r\n\x00 ")) == 0 {
			c.SetReadDeadline(time.Now().Add(s.opts.TCPIdle))
			continue
		}
		err = stream.ParseSIPStream(buf[:n], func(msg sip.Message) {
			c.SetReadDeadline(time.Now().Add(s.opts.TCPIdle))
			now := s.opts.Now()
			ok, deny := s.admit(src, now)
			if !ok {
				return
			}
			if req, isReq := msg.(*sip.Request); isReq {
				s.request(req, src, "TCP", monitor, now, deny, reply)
			}
		})
		if err != nil && !errors.Is(err, sip.ErrParseSipPartial) {
			// A stream can not resynchronise after garbage: drop it.
			s.metrics.parseErrors.WithLabelValues("tcp").Inc()
			s.log.Debug("sip tcp stream not parsed", "source", src, "err", err)
			return
		}
	}
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

// allowHeader lists what the front answers.
const allowHeader = "INVITE, ACK, CANCEL, BYE, OPTIONS"

// request handles one parsed request: exactly one final answer (none for
// ACK), now or from the decision goroutine. monitor: the request came to a
// monitor listener.
func (s *Server) request(req *sip.Request, src netip.AddrPort, transport string, monitor bool, now time.Time, deny bool, reply func([]byte) error) {
	method := string(req.Method)
	if req.CallID() == nil || req.Via() == nil || req.From() == nil || req.To() == nil || req.CSeq() == nil {
		// Not answerable (RFC 3261 8.1.1: mandatory headers); sipgo
		// normally refuses these at parse time.
		s.metrics.parseErrors.WithLabelValues(strings.ToLower(transport)).Inc()
		return
	}
	if method == "ACK" {
		s.metrics.requests.WithLabelValues("ACK").Inc()
		return // ACK of our non-2xx answer: hop by hop, nothing to say
	}
	if deny {
		s.send(req, src, transport, reply, 403, "Forbidden", nil)
		return
	}
	s.metrics.requests.WithLabelValues(methodLabel(method)).Inc()
	switch method {
	case "INVITE":
		s.invite(req, src, transport, monitor, now, reply)
	case "CANCEL":
		if s.answers.cancel(txKeyOf(req, monitor)) {
			s.send(req, src, transport, reply, 200, "OK", nil)
		} else {
			s.send(req, src, transport, reply, 481, "Call/Transaction Does Not Exist", nil)
		}
	case "OPTIONS":
		s.send(req, src, transport, reply, 200, "OK", []header{{"Allow", allowHeader}, {"Accept", "application/sdp"}})
	case "BYE":
		// A redirect server never has a dialog to end.
		s.send(req, src, transport, reply, 481, "Call/Transaction Does Not Exist", nil)
	default:
		s.send(req, src, transport, reply, 405, "Method Not Allowed", []header{{"Allow", allowHeader}})
	}
}

type header struct{ name, value string }

// preAdmit applies TFPS's INVITE sanity checks in TFPS's order. It returns
// a final status (0: pass) or an R12 decision for injection.
func preAdmit(req *sip.Request) (status int, reason string, inject bool) {
	user := req.Recipient.User
	switch {
	case strings.HasPrefix(user, "A") || strings.HasPrefix(user, "R"):
		return 482, "Loop Detected", false
	case user == "":
		return 484, "Address Incomplete", false
	}
	if mf := req.MaxForwards(); mf != nil && *mf == 0 {
		return 483, "Too Many Hops", false
	}
	from := req.From()
	if injectionLooking(user) || injectionLooking(req.Recipient.Host) || injectionLooking(from.Address.User) || injectionLooking(from.Address.Host) {
		return 0, "", true
	}
	if c := req.Contact(); c != nil && (injectionLooking(c.Address.User) || injectionLooking(c.Address.Host)) {
		return 0, "", true
	}
	return 0, "", false
}

func (s *Server) invite(req *sip.Request, src netip.AddrPort, transport string, monitor bool, now time.Time, reply func([]byte) error) {
	if name := repeatedIdentityHeader(req); name != "" {
		// Two identity headers mean something on the path added one
		// without removing the caller's: which one to believe is a guess,
		// and a wrong guess decides the call as another account.
		s.metrics.identity.WithLabelValues("repeated").Inc()
		s.log.Warn("sip identity header repeated: invalid call", "call_id", req.CallID().Value(), "source", src, "header", name)
		s.send(req, src, transport, reply, s.opts.ErrorStatus, "Invalid Call", nil)
		return
	}
	if status, reason, inject := preAdmit(req); status != 0 {
		s.send(req, src, transport, reply, status, reason, nil)
		return
	} else if inject {
		d := engine.Decision{Result: engine.Reject, Code: engine.R12, Reason: "injection-looking From, Request-URI or Contact"}
		if monitor {
			// Decided here, before any account is known: only the
			// monitor listener's own mode applies.
			d = engine.Decision{Result: engine.Approve, Code: engine.A00, Reason: "monitor mode, not enforced", WouldBe: &engine.Outcome{Result: d.Result, Code: d.Code, Reason: d.Reason}}
		}
		s.answer(req, src, transport, reply, d, nil)
		return
	}
	key := txKeyOf(req, monitor)
	e, fresh := s.answers.begin(key, now)
	if !fresh {
		s.metrics.retransmissions.Inc()
		if b := e.answer(); b != nil {
			reply(b)
		}
		return // still deciding: the answer goes out when it is ready
	}
	// The reader never waits for a slot: with MaxInFlight decisions
	// waiting (a slow Redis), a further INVITE is decided with no time
	// left for dependencies, so it gets the error policy's answer at once
	// and OPTIONS, CANCEL and retransmissions behind it are still read.
	timeout, slot := s.opts.DecideTimeout, true
	select {
	case s.sem <- struct{}{}:
	default:
		timeout, slot = 0, false
		s.metrics.overflow.Inc()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if slot {
			<-s.sem
		}
		b := s.send(req, src, transport, reply, s.opts.ErrorStatus, "Server Shutting Down", nil)
		e.finish(b)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	s.metrics.inFlight.Inc()
	ctx, cancel := context.WithTimeout(s.baseCtx, timeout)
	e.setCancel(cancel)
	go func() {
		defer s.wg.Done()
		defer func() {
			if slot {
				<-s.sem
			}
			s.metrics.inFlight.Dec()
		}()
		defer cancel()
		start := time.Now()
		// The answer is stored before it is sent, so a retransmission
		// arriving right after it gets the same bytes.
		s.decide(ctx, req, src, transport, monitor, now, e, func(b []byte) error {
			e.finish(b)
			return reply(b)
		})
		s.metrics.latency.Observe(time.Since(start).Seconds())
	}()
}

// identityHeaders are the headers through which a proxy tells who is
// calling; only a trusted source may send them, and each at most once.
var identityHeaders = [...]string{"P-tfps", "X-tfps", "P-Received", "P-UA", "P-Calls"}

// repeatedIdentityHeader returns the name of an identity header the request
// carries more than once, or "".
func repeatedIdentityHeader(req *sip.Request) string {
	for _, name := range identityHeaders {
		if len(req.GetHeaders(name)) > 1 {
			return name
		}
	}
	return ""
}

// hasIdentityHeader reports whether the request carries any identity header.
func hasIdentityHeader(req *sip.Request) bool {
	for _, name := range identityHeaders {
		if req.GetHeader(name) != nil {
			return true
		}
	}
	return false
}

// callOf builds the engine's Call from the request, reading the identity
// headers exactly as TFPS did: P-tfps, else X-tfps + P-Received + P-UA +
// P-Calls, else From user/domain, the packet's source, User-Agent, 1 call.
// trusted is false for a source outside TrustHeaders: its identity headers
// are not read.
func callOf(req *sip.Request, src netip.Addr, now time.Time, trusted bool) engine.Call {
	from := req.From()
	c := engine.Call{
		User:            from.Address.User,
		Domain:          from.Address.Host,
		SourceIP:        src,
		ConcurrentCalls: 1,
		Number:          req.Recipient.User,
		Caller:          from.Address.User,
		CallID:          req.CallID().Value(),
		Time:            now,
		Transport:       "sip",
	}
	c.FromTag, _ = from.Params.Get("tag")
	if h := req.GetHeader("User-Agent"); h != nil {
		c.UserAgent = h.Value()
	}
	if !trusted {
		return c
	}
	if h := req.GetHeader("P-tfps"); h != nil {
		if id, ok := ParsePTFPS(h.Value()); ok {
			c.User = id.User
			if id.Domain != "" {
				c.Domain = id.Domain
			}
			if id.SourceIP.IsValid() {
				c.SourceIP = id.SourceIP
			}
			if id.UserAgent != "" {
				c.UserAgent = id.UserAgent
			}
			if id.Calls > 0 {
				c.ConcurrentCalls = id.Calls
			}
			return c
		}
	}
	if h := req.GetHeader("X-tfps"); h != nil {
		if u, d, ok := ParseXTFPS(h.Value()); ok {
			c.User, c.Domain = u, d
		}
	}
	if h := req.GetHeader("P-Received"); h != nil {
		if a := parseAddr(h.Value()); a.IsValid() {
			c.SourceIP = a
		}
	}
	if h := req.GetHeader("P-UA"); h != nil && h.Value() != "" {
		c.UserAgent = h.Value()
	}
	if h := req.GetHeader("P-Calls"); h != nil {
		if n := parseCalls(h.Value()); n > 0 {
			c.ConcurrentCalls = n
		}
	}
	return c
}

// repairedField is a call field that carried invalid UTF-8 or NUL, as received.
type repairedField struct{ name, raw string }

// repairCall replaces invalid UTF-8 and NUL bytes in c's text fields by
// U+FFFD and returns the fields it changed, with their raw values.
func repairCall(c *engine.Call) []repairedField {
	var out []repairedField
	for _, f := range [...]struct {
		name string
		v    *string
	}{{"user", &c.User}, {"domain", &c.Domain}, {"number", &c.Number}, {"caller", &c.Caller}, {"user_agent", &c.UserAgent}, {"call_id", &c.CallID}, {"from_tag", &c.FromTag}} {
		if utf8.ValidString(*f.v) && strings.IndexByte(*f.v, 0) < 0 {
			continue
		}
		out = append(out, repairedField{f.name, *f.v})
		*f.v = strings.ReplaceAll(strings.ToValidUTF8(*f.v, "\uFFFD"), "\x00", "\uFFFD")
	}
	return out
}

func (s *Server) decide(ctx context.Context, req *sip.Request, src netip.AddrPort, transport string, monitor bool, now time.Time, e *answerEntry, reply func([]byte) error) []byte {
	trusted := inPrefixes(s.opts.TrustHeaders, src.Addr())
	if !trusted && hasIdentityHeader(req) {
		s.metrics.identity.WithLabelValues("untrusted").Inc()
		s.log.Warn("sip identity headers from an untrusted source ignored (TFPS_SIP_TRUST_HEADERS_FROM)", "call_id", req.CallID().Value(), "source", src.Addr())
	}
	call := callOf(req, src.Addr(), now, trusted)
	call.Monitor = monitor
	for _, f := range repairCall(&call) {
		// Decided and logged with U+FFFD in place of each bad byte: the
		// decision log's database refuses NUL and invalid UTF-8, and a
		// refused row would have to be split out of its batch.
		s.metrics.repaired.WithLabelValues(f.name).Inc()
		s.log.Warn("sip field repaired: invalid UTF-8 or NUL replaced", "call_id", call.CallID, "source", src.Addr(), "field", f.name, "raw_hex", hex.EncodeToString([]byte(f.raw)))
	}
	d, err := s.d.Decide(ctx, call)
	if e.canceled() {
		return s.send(req, src, transport, reply, 487, "Request Terminated", nil)
	}
	if err != nil {
		// TFPS_SIP_ERROR_CODE for a dependency failure (error policy) and
		// for a call the engine finds invalid alike: never 503.
		status, reason := s.opts.ErrorStatus, "Server Internal Error"
		if status != 500 {
			reason = "Decision Unavailable"
		}
		if tfps.ErrorCode(err) == tfps.EINVALID {
			reason = "Invalid Call"
		}
		s.log.Warn("sip decision failed", "call_id", call.CallID, "user", call.User, "domain", call.Domain, "status", status, "err", err)
		return s.send(req, src, transport, reply, status, reason, nil)
	}
	return s.answer(req, src, transport, reply, d, &call)
}

// answer sends the SIP answer of decision d.
func (s *Server) answer(req *sip.Request, src netip.AddrPort, transport string, reply func([]byte) error, d engine.Decision, call *engine.Call) []byte {
	o := AnswerOptions{Method: s.opts.Method, ContactHost: s.opts.ContactHost, VerifyPrefix: s.opts.VerifyPrefix, IVRAddress: s.opts.IVRAddress}
	if o.ContactHost == "" {
		o.ContactHost = req.Recipient.Host
	}
	if o.IVRAddress == "" {
		host := o.ContactHost
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
			if strings.Contains(h, ":") {
				host = "[" + h + "]"
			}
		}
		o.IVRAddress = host + ":5080"
	}
	a, ok := AnswerFor(d, req.Recipient.User, o)
	if !ok {
		s.log.Error("sip decision has no answer", "call_id", req.CallID().Value(), "result", d.Result, "code", d.Code)
	}
	var hs []header
	if a.Contact != "" {
		hs = append(hs, header{"Contact", "<" + a.Contact + ">"})
	}
	if c := d.Effective().Code; c.Info().Code != 0 {
		hs = append(hs, header{"X-Tfps-Code", a.Code})
	}
	if !d.Enforced() {
		hs = append(hs, header{"X-Tfps-Mode", "monitor"})
	}
	if call != nil && s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("sip answer", "call_id", call.CallID, "user", call.User, "domain", call.Domain, "code", a.Code, "status", a.Status, "replayed", d.Replayed, "enforced", d.Enforced())
	}
	return s.send(req, src, transport, reply, a.Status, a.Reason, hs)
}

// send writes a final response and returns its bytes.
func (s *Server) send(req *sip.Request, src netip.AddrPort, transport string, reply func([]byte) error, status int, reason string, extra []header) []byte {
	b := s.response(req, src, status, reason, extra)
	if err := reply(b); err != nil {
		s.log.Debug("sip answer not sent", "source", src, "status", status, "err", err)
	}
	s.metrics.responses.WithLabelValues(statusLabel(status)).Inc()
	return b
}

// toTag derives the To tag from the request, as Kamailio's sl module does,
// so a retransmission is answered with the same tag even without state.
func toTag(req *sip.Request) string {
	h := fnv.New64a()
	h.Write([]byte(req.CallID().Value()))
	if tag, ok := req.From().Params.Get("tag"); ok {
		h.Write([]byte(tag))
	}
	if b, ok := req.Via().Params.Get("branch"); ok {
		h.Write([]byte(b))
	}
	h.Write([]byte(strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)))
	return "tfps" + strconv.FormatUint(h.Sum64(), 36)
}

// response serialises a stateless final response to req (RFC 3261 8.2.6):
// the Vias (the top one with received/rport per RFC 3581), From, To with
// our tag, Call-ID, CSeq.
func (s *Server) response(req *sip.Request, src netip.AddrPort, status int, reason string, extra []header) []byte {
	var b strings.Builder
	b.Grow(512)
	b.WriteString("SIP/2.0 ")
	b.WriteString(strconv.Itoa(status))
	b.WriteByte(' ')
	b.WriteString(reason)
	b.WriteString("\r\n")
	for i, h := range req.GetHeaders("Via") {
		v, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		if i == 0 {
			v = v.Clone()
			if val, has := v.Params.Get("rport"); has && val == "" {
				v.Params.Remove("rport")
				v.Params.Add("rport", strconv.Itoa(int(src.Port())))
				if !v.Params.Has("received") {
					v.Params.Add("received", src.Addr().String())
				}
			} else if a, err := netip.ParseAddr(strings.Trim(v.Host, "[]")); (err != nil || a != src.Addr()) && !v.Params.Has("received") {
				v.Params.Add("received", src.Addr().String())
			}
		}
		b.WriteString("Via: ")
		b.WriteString(v.Value())
		b.WriteString("\r\n")
	}
	b.WriteString("From: ")
	b.WriteString(req.From().Value())
	b.WriteString("\r\nTo: ")
	to := req.To()
	b.WriteString(to.Value())
	if !to.Params.Has("tag") && status != 100 {
		b.WriteString(";tag=")
		b.WriteString(toTag(req))
	}
	b.WriteString("\r\nCall-ID: ")
	b.WriteString(req.CallID().Value())
	b.WriteString("\r\nCSeq: ")
	b.WriteString(req.CSeq().Value())
	b.WriteString("\r\n")
	for _, h := range extra {
		b.WriteString(h.name)
		b.WriteString(": ")
		b.WriteString(h.value)
		b.WriteString("\r\n")
	}
	b.WriteString("Server: ")
	b.WriteString(s.opts.ServerName)
	b.WriteString("\r\nContent-Length: 0\r\n\r\n")
	return []byte(b.String())
}

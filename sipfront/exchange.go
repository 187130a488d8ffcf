package sipfront

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
)

// exchange is one request and the way back to its sender.
type exchange struct {
	req       *sip.Request
	src       netip.AddrPort // the packet's source
	transport string         // "UDP" or "TCP"
	monitor   bool           // arrived on a monitor listener
	now       time.Time      // when it arrived, by Options.Now: the call's time
	read      time.Time      // when it was read, by the monotonic clock: answer latency
	reply     func([]byte) error
	id        identity        // INVITE: its identity headers
	extra     [8]engine.Field // INVITE: room for the call's Extra fields
	// entry is the INVITE's place in the answer cache once it is being
	// decided: the answer is stored there before it is sent, so a
	// retransmission arriving right after it gets the same bytes.
	entry *answerEntry
	key   txKey
}

// request handles one parsed request: exactly one final answer (none for
// ACK), now or from the decision goroutine. deny: the source is outside
// the allow list and gets 403.
func (s *Server) request(x *exchange, deny bool) {
	req := x.req
	method := string(req.Method)
	if req.CallID() == nil || req.Via() == nil || req.From() == nil || req.To() == nil || req.CSeq() == nil ||
		!echoable(&req.From().Address, req.From().Value) || !echoable(&req.To().Address, req.To().Value) {
		// Not answerable (RFC 3261 8.1.1: mandatory headers; a From or
		// To an answer could not carry back as the peer sent it); sipgo
		// normally refuses missing headers at parse time.
		s.metrics.parseErrors.WithLabelValues(strings.ToLower(x.transport)).Inc()
		return
	}
	if !isToken(method) {
		// RFC 3261 25.1: a method is a token; an empty or odd one is a
		// malformed request, not an unknown method.
		s.send(x, 400, "Bad Request", nil)
		return
	}
	if method == "ACK" {
		s.metrics.requests.WithLabelValues("ACK").Inc()
		return // ACK of our non-2xx answer: hop by hop, nothing to say
	}
	if deny {
		s.send(x, 403, "Forbidden", nil)
		return
	}
	s.metrics.requests.WithLabelValues(methodLabel(method)).Inc()
	switch method {
	case "INVITE":
		s.invite(x)
	case "CANCEL":
		if s.answers.cancel(txKeyOf(req, x.monitor)) {
			s.send(x, 200, "OK", nil)
		} else {
			s.send(x, 481, "Call/Transaction Does Not Exist", nil)
		}
	case "OPTIONS":
		s.send(x, 200, "OK", []header{{"Allow", allowHeader}, {"Accept", "application/sdp"}})
	case "BYE":
		// A redirect server never has a dialog to end.
		s.send(x, 481, "Call/Transaction Does Not Exist", nil)
	default:
		s.send(x, 405, "Method Not Allowed", []header{{"Allow", allowHeader}})
	}
}

// preAdmit applies TFPS's INVITE sanity checks in TFPS's order. It returns
// a final status, 0 when the INVITE goes to the engine. Injection-looking
// fields are the engine's R12.
func preAdmit(req *sip.Request) (status int, reason string) {
	user := req.Recipient.User
	switch {
	case strings.HasPrefix(user, "A") || strings.HasPrefix(user, "R"):
		return 482, "Loop Detected"
	case user == "":
		return 484, "Address Incomplete"
	}
	if mf := req.MaxForwards(); mf != nil && *mf == 0 {
		return 483, "Too Many Hops"
	}
	return 0, ""
}

func (s *Server) invite(x *exchange) {
	req := x.req
	x.id = readIdentity(req)
	if name := x.id.repeated(); name != "" {
		// Two identity headers mean something on the path added one
		// without removing the caller's: which one to believe is a guess,
		// and a wrong guess decides the call as another account.
		s.metrics.identity.WithLabelValues("repeated").Inc()
		s.log.Warn("sip identity header repeated: invalid call", "call_id", req.CallID().Value(), "source", x.src, "header", name)
		s.send(x, s.opts.ErrorStatus, "Invalid Call", nil)
		return
	}
	if status, reason := preAdmit(req); status != 0 {
		s.send(x, status, reason, nil)
		return
	}
	k := txKeyOf(req, x.monitor)
	e, fresh := s.answers.begin(k, x.now)
	if !fresh {
		s.metrics.retransmissions.Inc()
		if b := e.answer(); b != nil {
			x.reply(b)
		}
		return // still deciding: the answer goes out when it is ready
	}
	x.entry, x.key = e, k
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
		s.send(x, s.opts.ErrorStatus, "Server Shutting Down", nil)
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
		s.decide(ctx, x)
		// From the read, so time spent waiting to be scheduled counts.
		s.metrics.latency.Observe(time.Since(x.read).Seconds())
	}()
}

func (s *Server) decide(ctx context.Context, x *exchange) {
	req, src := x.req, x.src.Addr()
	trusted := inPrefixes(s.opts.TrustHeaders, src)
	if !trusted && x.id.any() {
		s.metrics.identity.WithLabelValues("untrusted").Inc()
		s.log.Warn("sip identity headers from an untrusted source ignored (TFPS_SIP_TRUST_HEADERS_FROM)", "call_id", req.CallID().Value(), "source", src)
	}
	call := callOf(req, &x.id, x.extra[:], src, x.now, trusted)
	call.Monitor = x.monitor
	for _, f := range repairCall(&call) {
		// Decided and logged with U+FFFD in place of each bad byte: the
		// decision log's database refuses NUL and invalid UTF-8, and a
		// refused row would have to be split out of its batch.
		s.metrics.repaired.WithLabelValues(f.name).Inc()
		s.log.Warn("sip field repaired: invalid UTF-8 or NUL replaced", "call_id", call.CallID, "source", src, "field", f.name, "raw_hex", hex.EncodeToString([]byte(f.raw)))
	}
	d, err := s.d.Decide(ctx, call)
	if x.entry.canceled() {
		s.send(x, 487, "Request Terminated", nil)
		return
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
		s.send(x, status, reason, nil)
		return
	}
	s.answer(x, d, &call)
}

// answer sends the SIP answer of decision d about call.
func (s *Server) answer(x *exchange, d engine.Decision, call *engine.Call) {
	req := x.req
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
	var buf [3]header
	hs := buf[:0]
	if a.Contact != "" {
		hs = append(hs, header{"Contact", "<" + a.Contact + ">"})
	}
	if c := d.Effective().Code; c.Info().Code != 0 {
		hs = append(hs, header{"X-Tfps-Code", a.Code})
	}
	if !d.Enforced() {
		hs = append(hs, header{"X-Tfps-Mode", "monitor"})
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("sip answer", "call_id", call.CallID, "user", call.User, "domain", call.Domain, "code", a.Code, "status", a.Status, "replayed", d.Replayed, "enforced", d.Enforced())
	}
	s.send(x, a.Status, a.Reason, hs)
}

// send writes a final response. An INVITE's answer is stored in its cache
// entry first.
func (s *Server) send(x *exchange, status int, reason string, extra []header) {
	buf, _ := s.buffers.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
		buf.Grow(1024)
	}
	buf.Reset()
	s.response(buf, x.req, x.src, status, reason, extra)
	b := buf.Bytes()
	if x.entry != nil {
		s.answers.finish(x.key, x.entry, b)
	}
	if err := x.reply(b); err != nil {
		s.metrics.sendErrors.Inc()
		s.log.Debug("sip answer not sent", "source", x.src, "status", status, "err", err)
	}
	if buf.Cap() <= 4096 {
		s.buffers.Put(buf)
	}
	s.metrics.responses.WithLabelValues(statusLabel(status)).Inc()
}

// echoable reports whether a From or To header written back from its parsed
// form (as every answer does) reads as the same address: a sip or sips URI
// with a host always does; anything else is parsed again from what would be
// written. A header that does not survive would give the peer an answer it
// cannot match to its request.
func echoable(u *sip.Uri, value func() string) bool {
	if (u.Scheme == "sip" || u.Scheme == "sips") && u.Host != "" {
		return true
	}
	v := value()
	var again sip.Uri
	params := sip.NewParams()
	if _, err := sip.ParseAddressValue(v, &again, &params); err != nil {
		return false
	}
	return again.String() == u.String()
}

// isToken reports whether s is an RFC 3261 token (25.1): one or more of
// alphanumerics and -.!%*_+`'~
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

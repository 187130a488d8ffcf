package sipfront

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/net/ipv4"
)

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
	if uc, ok := c.(*net.UDPConn); ok && runtime.GOOS == "linux" {
		return s.serveUDPBatch(uc, monitor)
	}
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if again, stop := readFailed(err); !again {
				return stop
			}
			continue
		}
		src := addrPort(from)
		reply := func(b []byte) error {
			_, err := c.WriteTo(b, from)
			return err
		}
		s.datagram(buf[:n], src, monitor, reply)
	}
}

// udpBatch is the most datagrams one read takes (recvmmsg): under load the
// socket holds several when the reader comes back to it, and each system
// call and wait in the poller saved is CPU the decisions get.
const udpBatch = 16

// serveUDPBatch is serveUDP reading up to udpBatch datagrams a system call
// and writing answers ready together in one (Linux). Each datagram is
// handled, as serveUDP does, before the next read reuses its buffer: the
// parser copies what it keeps.
func (s *Server) serveUDPBatch(c *net.UDPConn, monitor bool) error {
	pc := ipv4.NewPacketConn(c) // the batch read and write are the same for IPv6 sockets
	out := newUDPSender(c, func(err error) {
		s.metrics.sendErrors.Inc()
		s.log.Debug("sip answer not sent", "err", err)
	})
	ms := make([]ipv4.Message, udpBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 65536)}
	}
	for {
		n, err := pc.ReadBatch(ms, 0)
		if err != nil {
			if again, stop := readFailed(err); !again {
				return stop
			}
			continue
		}
		for i := range ms[:n] {
			m := &ms[i]
			from := m.Addr
			if from == nil {
				continue
			}
			reply := func(b []byte) error {
				out.send(b, from)
				return nil // a refused datagram is counted by out
			}
			s.datagram(m.Buffers[0][:m.N], addrPort(from), monitor, reply)
		}
	}
}

// readFailed says what a failed UDP read means for the serve loop: read
// again after a timeout; otherwise stop, with nil once the socket is
// closed (Close) and the error for anything else.
func readFailed(err error) (again bool, stop error) {
	if errors.Is(err, net.ErrClosed) {
		return false, nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true, nil
	}
	return false, fmt.Errorf("read sip udp: %w", err)
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
func (s *Server) datagram(data []byte, src netip.AddrPort, monitor bool, reply func([]byte) error) {
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
	s.request(&exchange{req: req, src: src, transport: "UDP", monitor: monitor, now: now, read: time.Now(), reply: reply}, deny)
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
				s.request(&exchange{req: req, src: src, transport: "TCP", monitor: monitor, now: now, read: time.Now(), reply: reply}, deny)
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

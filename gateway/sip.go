package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/voipshield/tfps/sipfront"
)

// startSIP opens the SIP front on TFPS_SIP_LISTEN, UDP (4 MiB read buffer)
// and TCP on the same port, answering from m.Engine. Its closer stops both
// listeners and waits for decisions in flight, so it must run before the
// engine closes (it is registered after the engine, and closers run in
// reverse order).
func (m *Main) startSIP(ctx context.Context) error {
	opts := sipfront.OptionsFrom(m.Config)
	opts.Registerer, opts.Logger = m.Registry, m.Logger
	if m.Now != nil {
		opts.Now = m.Now
	}
	front, err := sipfront.New(m.Engine, opts)
	if err != nil {
		return fmt.Errorf("start sip: %w", err)
	}
	var uc *net.UDPConn
	var ln net.Listener
	if m.Config.SIP.TCPOnly {
		// TFPS_SIP_TRANSPORTS=tcp: no UDP socket at all, so no source
		// address the front acts on can be forged.
		ln, err = net.Listen("tcp", m.Config.SIPListen)
	} else {
		uc, ln, err = listenSIP(m.Config.SIPListen)
	}
	if err != nil {
		return fmt.Errorf("start sip: %w", err)
	}
	m.sipTCP = ln.Addr().String()
	if uc != nil {
		m.sipUDP = uc.LocalAddr().String()
		go func() {
			if err := front.ServeUDP(uc); err != nil && !errors.Is(err, sipfront.ErrClosed) {
				m.Logger.Error("sip udp stopped", "err", err)
			}
		}()
	}
	go func() {
		if err := front.ServeTCP(ln); err != nil && !errors.Is(err, sipfront.ErrClosed) {
			m.Logger.Error("sip tcp stopped", "err", err)
		}
	}()
	m.closers.Push(front.Close)
	m.Logger.Info("sip front listening", "udp", m.sipUDP, "tcp", m.sipTCP, "method", opts.Method, "allow", len(opts.Allow))
	if addr := m.Config.SIP.MonitorListen; addr != "" {
		// The same front serves the monitor listener (one allow list,
		// flood limit, in-flight bound and set of metrics); front.Close
		// closes its sockets too.
		muc, mln, err := listenSIP(addr)
		if err != nil {
			return fmt.Errorf("start sip monitor listener: %w", err)
		}
		m.sipMonUDP, m.sipMonTCP = muc.LocalAddr().String(), mln.Addr().String()
		go func() {
			if err := front.ServeMonitorUDP(muc); err != nil && !errors.Is(err, sipfront.ErrClosed) {
				m.Logger.Error("sip monitor udp stopped", "err", err)
			}
		}()
		go func() {
			if err := front.ServeMonitorTCP(mln); err != nil && !errors.Is(err, sipfront.ErrClosed) {
				m.Logger.Error("sip monitor tcp stopped", "err", err)
			}
		}()
		m.Logger.Info("sip monitor listener: every request decided in monitor mode", "udp", m.sipMonUDP, "tcp", m.sipMonTCP)
	}
	return nil
}

// listenSIP opens UDP (4 MiB read buffer) and TCP on the same port. With
// port 0 the kernel picks the UDP port, whose TCP twin may be taken (for
// instance by an outgoing connection): then another pair is tried.
func listenSIP(addr string) (*net.UDPConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	tries := 1
	if port == "0" {
		tries = 20
	}
	for i := 0; ; i++ {
		uc, err := sipfront.ListenUDP(addr)
		if err != nil {
			return nil, nil, err
		}
		got := uc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(got)))
		if err == nil {
			return uc, ln, nil
		}
		uc.Close()
		if i+1 >= tries {
			return nil, nil, fmt.Errorf("listen sip tcp %s: %w", net.JoinHostPort(host, fmt.Sprint(got)), err)
		}
	}
}

// SIPAddr is the UDP address the SIP front got (useful with port 0); empty
// when it serves TCP only.
func (m *Main) SIPAddr() string { return m.sipUDP }

// SIPTCPAddr is the TCP address of the SIP front.
func (m *Main) SIPTCPAddr() string { return m.sipTCP }

// SIPMonitorAddr is the UDP address of the monitor listener
// (TFPS_SIP_MONITOR_LISTEN), "" when it is off.
func (m *Main) SIPMonitorAddr() string { return m.sipMonUDP }

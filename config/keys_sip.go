package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// SIPConfig holds the settings of the SIP front (TFPS-compatible INVITE
// answers). Its keys are declared in sipKeys.
type SIPConfig struct {
	// Allow lists the addresses and networks of the PBXs and proxies that
	// may ask; every other source gets DenyAction.
	Allow []netip.Prefix
	// TrustHeaders lists the sources whose identity headers (P-tfps,
	// X-tfps, P-Received, P-UA, P-Calls) are believed. nil: Allow; empty
	// (not nil): nobody ("none").
	TrustHeaders []netip.Prefix
	// DenyAction is "drop" (say nothing, the default) or "403".
	DenyAction string
	// TCPOnly serves SIP over TCP alone (TFPS_SIP_TRANSPORTS=tcp), where
	// the handshake proves the source address.
	TCPOnly bool
	// VerifyPrefix goes before the ticket in the request user of a verify
	// redirect (sip:<prefix><ticket>@<IVRAddress>); the IVR box's dialplan
	// matches it (exten _VXXXXXXXXXXXXXXXX: the prefix and the ticket's 16 digits).
	VerifyPrefix string
	// IVRAddress is host[:port] of the Asterisk box that runs the voice
	// checks. Empty: the Contact host at port 5080.
	IVRAddress string
	// ContactHost is host[:port] of A00/Rnn redirect Contacts. Empty: as
	// TFPS, TFPS_PUBLIC_IP, else TFPS_PRIVATE_IP, else the host the request
	// was addressed to (its Request-URI host).
	ContactHost string
	// FloodLimit is the number of requests one source address may send per
	// second; the excess is dropped silently, as TFPS's pike did. 0: off.
	FloodLimit int
	// ErrorCode answers a call the engine could not decide (only under
	// TFPS_ENGINE_ERROR_POLICY=error, or an invalid call): 500, 480 or 603.
	// Never 503: in failover mode 503 means approved.
	ErrorCode int
	// DecideTimeout bounds one decision; a dependency still unanswered at
	// the deadline gives the error policy's answer.
	DecideTimeout time.Duration
	// MaxInFlight bounds the decisions running at once; a further INVITE
	// is decided with no time for Redis (the error policy's answer), so
	// the reader never waits and OPTIONS and CANCEL are still answered.
	MaxInFlight int
	// TCPMaxConns caps the SIP TCP connections open at once, and
	// TCPMaxPerSource those of one source address; a connection over
	// either cap is closed at once.
	TCPMaxConns, TCPMaxPerSource int
	// TCPIdle closes a SIP TCP connection that sent no complete message
	// (nor a CRLF keep-alive) for this long: a byte now and then of a
	// message that never ends does not keep it open.
	TCPIdle time.Duration
	// MonitorListen is a second SIP listen address (UDP and TCP) where
	// every request is decided in monitor mode, for proxies that fork a
	// copy of each call just to watch. Empty: off.
	MonitorListen string
}

// DenyAction values (TFPS_SIP_DENY_ACTION).
const (
	DenyForbidden = "403"
	DenyDrop      = "drop"
)

func sipKeys() []Key {
	return []Key{
		{Name: "TFPS_SIP_ALLOW", Default: "127.0.0.0/8,::1", Help: "Addresses and networks (CIDR) of the PBXs and proxies allowed to ask the SIP front, comma separated. Others get TFPS_SIP_DENY_ACTION and are counted in tfps_sip_denied_total. TFPS had no such check.", Set: func(c *Config, v string) error {
			p, err := ParseCIDRs(v)
			if err != nil {
				return err
			}
			c.SIP.Allow = p
			return nil
		}},
		{Name: "TFPS_SIP_TRUST_HEADERS_FROM", Help: "Addresses and networks (CIDR) whose identity headers (P-tfps, X-tfps, P-Received, P-UA, P-Calls) are believed: your proxies, which remove whatever their callers sent and add their own. Other sources are decided on From, the packet's source and User-Agent, and the ignored headers are logged. Empty: the TFPS_SIP_ALLOW list; none: nobody.", Set: func(c *Config, v string) error {
			if strings.EqualFold(v, "none") {
				c.SIP.TrustHeaders = []netip.Prefix{}
				return nil
			}
			p, err := ParseCIDRs(v)
			if err != nil {
				return fmt.Errorf("%w; or none", err)
			}
			c.SIP.TrustHeaders = p
			return nil
		}},
		choiceKey("TFPS_SIP_DENY_ACTION", DenyDrop, "What a source outside TFPS_SIP_ALLOW gets: drop (no answer, like a closed port) or 403 (403 Forbidden). Over UDP the source address can be forged, so a 403 would reflect traffic at whoever the forger names: keep drop unless every PBX reaches the gateway over TCP.", []string{DenyDrop, DenyForbidden}, func(c *Config) *string { return &c.SIP.DenyAction }),
		{Name: "TFPS_SIP_TRANSPORTS", Default: "udp,tcp", Help: "Transports of the SIP front: udp,tcp or tcp. tcp alone: the TCP handshake proves each source address, so TFPS_SIP_ALLOW, the flood limit and the source checks can not be fooled by forged UDP sources (see docs/security.md).", Set: func(c *Config, v string) error {
			switch strings.ToLower(strings.ReplaceAll(v, " ", "")) {
			case "udp,tcp", "tcp,udp":
				c.SIP.TCPOnly = false
			case "tcp":
				c.SIP.TCPOnly = true
			default:
				return fmt.Errorf("must be udp,tcp or tcp")
			}
			return nil
		}},
		{Name: "TFPS_SIP_VERIFY_PREFIX", Default: "V", Help: "Request-user prefix of verify redirects: sip:<prefix><ticket>@<TFPS_IVR_SIP_ADDRESS>. The IVR box's dialplan matches it (exten _VXXXXXXXXXXXXXXXX: the prefix and the ticket's 16 digits). Must not start with A or R (loop detection).", Set: func(c *Config, v string) error {
			if v == "" || strings.ContainsAny(v, "@:;<>\" \t") {
				return fmt.Errorf("must be a non-empty SIP user prefix such as V")
			}
			if v[0] == 'A' || v[0] == 'a' || v[0] == 'R' || v[0] == 'r' {
				return fmt.Errorf("must not start with A or R: those request users are answered 482 (loop)")
			}
			c.SIP.VerifyPrefix = v
			return nil
		}},
		{Name: "TFPS_IVR_SIP_ADDRESS", Help: "host[:port] of the Asterisk box running the voice checks, the target of verify redirects. Empty: the redirect Contact host (TFPS_SIP_CONTACT_HOST rules) at port 5080.", Set: func(c *Config, v string) error {
			if err := checkSIPHost(v); err != nil {
				return err
			}
			c.SIP.IVRAddress = v
			return nil
		}},
		{Name: "TFPS_SIP_CONTACT_HOST", Help: "host[:port] in the Contact of A00/Rnn redirects. Empty: as TFPS, TFPS_PUBLIC_IP, else TFPS_PRIVATE_IP, else the host of the request's Request-URI.", Set: func(c *Config, v string) error {
			if err := checkSIPHost(v); err != nil {
				return err
			}
			c.SIP.ContactHost = v
			return nil
		}},
		intKey("TFPS_SIP_FLOOD_LIMIT", "2000", "SIP requests one source address may send per second before the excess is dropped silently (TFPS's pike); 0 disables. The default leaves a proxy room for about 1,000 calls/s (INVITE and ACK each). A PBX's retransmissions count too: keep room above its peak call rate.", 0, 10_000_000, func(c *Config) *int { return &c.SIP.FloodLimit }),
		{Name: "TFPS_SIP_ERROR_CODE", Default: "500", Help: "SIP answer when the engine can not decide (TFPS_ENGINE_ERROR_POLICY=error, or a call it finds invalid): 500, 480 or 603. Never 503: in failover mode 503 means approved.", Set: func(c *Config, v string) error {
			switch v {
			case "500":
				c.SIP.ErrorCode = 500
			case "480":
				c.SIP.ErrorCode = 480
			case "603":
				c.SIP.ErrorCode = 603
			default:
				return fmt.Errorf("must be 500, 480 or 603 (503 would read as approved in failover mode)")
			}
			return nil
		}},
		durationKey("TFPS_SIP_DECIDE_TIMEOUT", "2s", "Longest time one INVITE may wait for its decision; a dependency still unanswered then gives the error policy's answer (TFPS_ENGINE_ERROR_POLICY: R19, A01, or TFPS_SIP_ERROR_CODE). Keep it below the PBX's Timer B (32s) and its own fail-over timer.", 10*time.Millisecond, 30*time.Second, func(c *Config) *time.Duration { return &c.SIP.DecideTimeout }),
		listenKey("TFPS_SIP_MONITOR_LISTEN", "", "Second SIP listen address (UDP and TCP) where every request is decided in monitor mode whatever TFPS_MODE and the account say: approved (A00 or 503) with the would-be code in X-Tfps-Code, logged with enforced=false. For proxies that fork a copy of each call just to watch, like TFPS's free detection route on port 9091. Empty: off.", func(c *Config) *string { return &c.SIP.MonitorListen }),
		intKey("TFPS_SIP_TCP_MAX_CONNS", "1024", "SIP TCP connections open at once (each holds a goroutine and 64 KiB); a connection over the cap is closed at once. Keep it below the process's file descriptor limit.", 1, 1_000_000, func(c *Config) *int { return &c.SIP.TCPMaxConns }),
		intKey("TFPS_SIP_TCP_MAX_PER_SOURCE", "64", "SIP TCP connections one source address may hold open; a connection over the cap is closed at once. A proxy normally needs one or a few.", 1, 1_000_000, func(c *Config) *int { return &c.SIP.TCPMaxPerSource }),
		durationKey("TFPS_SIP_TCP_IDLE", "60s", "A SIP TCP connection that sent no complete message and no CRLF keep-alive for this long is closed; bytes of a message that never ends do not keep it open.", 100*time.Millisecond, time.Hour, func(c *Config) *time.Duration { return &c.SIP.TCPIdle }),
		intKey("TFPS_SIP_MAX_IN_FLIGHT", "4096", "Decisions the SIP front runs at once; a further INVITE is decided at once with no time for Redis (the error policy's answer), so the socket is always read.", 1, 1_000_000, func(c *Config) *int { return &c.SIP.MaxInFlight }),
	}
}

// checkSIPHost accepts "", a host, or host:port.
func checkSIPHost(v string) error {
	if v == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(v); err == nil {
		return checkHostPort(v)
	}
	if net.ParseIP(strings.Trim(v, "[]")) == nil && !hostnameRE.MatchString(v) {
		return fmt.Errorf("must be host or host:port, e.g. 192.0.2.5 or ivr.example.com:5080")
	}
	return nil
}

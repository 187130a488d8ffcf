package sipfront

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests        *prometheus.CounterVec // method
	responses       *prometheus.CounterVec // status
	parseErrors     *prometheus.CounterVec // transport
	denied          *prometheus.CounterVec // action
	flood           prometheus.Counter
	identity        *prometheus.CounterVec // problem: repeated, untrusted
	retransmissions prometheus.Counter
	latency         prometheus.Histogram
	inFlight        prometheus.Gauge
	repaired        *prometheus.CounterVec // field
	overflow        prometheus.Counter
	acceptErrors    prometheus.Counter
	tcpRefused      prometheus.Counter
	sendErrors      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_sip_requests_total", Help: "SIP requests received from allowed sources, by method (INVITE, ACK, CANCEL, BYE, OPTIONS, other).",
		}, []string{"method"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_sip_responses_total", Help: "SIP final responses sent, by status code (retransmitted copies included).",
		}, []string{"status"}),
		parseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_sip_parse_errors_total", Help: "Datagrams or TCP streams that were not a SIP message, by transport.",
		}, []string{"transport"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_sip_denied_total", Help: "Messages from sources outside TFPS_SIP_ALLOW, by action (403 or drop).",
		}, []string{"action"}),
		flood: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_sip_flood_dropped_total", Help: "Requests dropped by the per-source flood limit (TFPS_SIP_FLOOD_LIMIT).",
		}),
		identity: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_sip_identity_refused_total", Help: "INVITEs whose identity headers (P-tfps, X-tfps, P-Received, P-UA, P-Calls) were not used, by problem: repeated (answered as an invalid call) or untrusted (source outside TFPS_SIP_TRUST_HEADERS_FROM; decided on From and the packet source).",
		}, []string{"problem"}),
		retransmissions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_sip_retransmissions_total", Help: "Retransmitted INVITEs answered from the answer cache (or swallowed while deciding).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tfps_sip_answer_seconds", Help: "Time from receiving an INVITE to sending its final answer.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfps_sip_decisions_in_flight", Help: "INVITEs waiting for their decision.",
		}),
		overflow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_sip_decisions_overflow_total", Help: "INVITEs that arrived while TFPS_SIP_MAX_IN_FLIGHT decisions were waiting: decided at once with no time for Redis (the error policy's answer).",
		}),
		acceptErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_sip_tcp_accept_errors_total", Help: "Failed TCP accepts (out of file descriptors, aborted connections); the listener waits a little and accepts again.",
		}),
		tcpRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_sip_tcp_refused_total", Help: "TCP connections closed at once because TFPS_SIP_TCP_MAX_CONNS or TFPS_SIP_TCP_MAX_PER_SOURCE was reached.",
		}),
		sendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_sip_send_errors_total", Help: "Responses the socket refused to send (the caller retransmits and gets the stored answer).",
		}),
		repaired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_sip_fields_repaired_total", Help: "INVITE fields (user, domain, number, caller, user_agent, call_id, from_tag) that carried invalid UTF-8 or a NUL byte, replaced by U+FFFD before the decision.",
		}, []string{"field"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.responses, m.parseErrors, m.denied, m.flood, m.identity, m.retransmissions, m.latency, m.inFlight, m.repaired, m.overflow, m.acceptErrors, m.tcpRefused, m.sendErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// methodLabel keeps the method label to a fixed set.
func methodLabel(m string) string {
	switch m {
	case "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS":
		return m
	}
	return "other"
}

// statusLabel keeps the status label to the codes the front sends.
func statusLabel(s int) string {
	switch s {
	case 200, 302, 400, 403, 405, 480, 481, 482, 483, 484, 487, 500, 503, 603:
		return strconv.Itoa(s)
	}
	return strconv.Itoa(s/100) + "xx"
}

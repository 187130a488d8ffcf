package ivr

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the IVR; label sets are small and fixed.
type metrics struct {
	active           prometheus.Gauge
	sessions         *prometheus.CounterVec // outcome
	verifications    *prometheus.CounterVec // method, result
	duration         prometheus.Histogram
	playbackFailures prometheus.Counter
	codeHeard        prometheus.Histogram // answer -> end of the first reading of the code
	verified         prometheus.Histogram // answer -> verified outcome recorded
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfps_ivr_sessions_active", Help: "Calls in the Stasis app now.",
		}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_ivr_sessions_total", Help: "Finished IVR sessions by outcome (verified, failed, blocked, hangup, ticket_invalid, error).",
		}, []string{"outcome"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_ivr_verifications_total", Help: "Captcha/PIN entries by method and result (success, wrong, no_input).",
		}, []string{"method", "result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tfps_ivr_session_seconds", Help: "Length of IVR sessions, from StasisStart to the end.",
			Buckets: []float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300},
		}),
		playbackFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_ivr_playback_failures_total", Help: "Prompts Asterisk could not play (missing or unreadable media).",
		}),
		codeHeard: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tfps_ivr_code_heard_seconds", Help: "From answering the call to the end of the first reading of the captcha code.",
			Buckets: []float64{1, 2, 3, 4, 5, 6, 8, 10, 15, 20},
		}),
		verified: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tfps_ivr_verified_seconds", Help: "From answering the call to the verified outcome (the right code or PIN typed and checked).",
			Buckets: []float64{2, 4, 6, 8, 10, 12, 15, 20, 30, 45, 60},
		}),
	}
	for _, o := range Outcomes {
		m.sessions.WithLabelValues(string(o))
	}
	if reg != nil {
		reg.MustRegister(m.active, m.sessions, m.verifications, m.duration, m.playbackFailures, m.codeHeard, m.verified)
	}
	return m
}

package engine

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	decisions     *prometheus.CounterVec // result, code, enforced
	latency       prometheus.Histogram   // Decide, replays excluded
	depErrors     *prometheus.CounterVec // dependency
	replayed      prometheus.Counter     // retried requests answered from the replay cache
	logRows       *prometheus.CounterVec // outcome: written, lost, quarantined, journaled
	journalBytes  prometheus.Gauge
	journalWrites prometheus.Counter // write(2)s of journal rows: rows/writes is the group size
	logFull       prometheus.Counter // times Decide waited for a full log queue
	cacheLoads    prometheus.Counter
	alerts        *prometheus.CounterVec // outcome: queued, repeated, dropped, failed     // list/account cache reloads
	ruleTrips     *prometheus.CounterVec // level, stat
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_decisions_total", Help: "Decisions by result (approve, reject, verify), code (A00, Rnn, Vnn) and enforced (false: monitor mode, result and code are what enforcement would have answered and the call was approved).",
		}, []string{"result", "code", "enforced"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tfps_decide_seconds",
			Help:    "Time the engine took for one decision (Redis round trip included).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		depErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_dependency_errors_total", Help: "Failures of a dependency during decisions (accounts, lists, changes, counters, reputation, decision_log).",
		}, []string{"dependency"}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_decisions_replayed_total", Help: "Retried requests (same Call-ID and From-tag) answered with the earlier decision, not counted again.",
		}),
		logRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_decision_log_rows_total", Help: "Decision-log rows written, lost, quarantined (refused by the database, set aside with the error), or journaled (spilled to the local journal while the database was unreachable).",
		}, []string{"outcome"}),
		logFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_decision_log_queue_full_total", Help: "Times a decision waited because the decision-log queue was full.",
		}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_engine_alerts_total", Help: "Threshold alerts (A->B burst, concurrent calls, daily quota) by outcome: queued to the outbox, repeated within 10 s, dropped (queue full), failed.",
		}, []string{"outcome"}),
		ruleTrips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfps_rule_trips_total", Help: "Fraud-rule thresholds reached, by level (warning, critical) and stat (cpm, total, concurrent, sequential, duration).",
		}, []string{"level", "stat"}),
		journalBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfps_decision_log_journal_bytes", Help: "Size of the decision log's write-ahead journal file (TFPS_DATA_DIR): rows not yet in the database (all of them while it is unreachable), and drained ones until the file is compacted; at TFPS_DECISION_LOG_JOURNAL_MB decisions wait for the database.",
		}),
		journalWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_decision_log_journal_writes_total", Help: "Writes of decision rows to the journal: decisions finishing at the same moment share one write, so rows written divided by this is the rows per system call.",
		}),
		cacheLoads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfps_engine_cache_loads_total", Help: "Reloads of the cached blacklists and accounts after a change.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.decisions, m.latency, m.depErrors, m.replayed, m.logRows, m.logFull, m.cacheLoads, m.alerts, m.ruleTrips, m.journalBytes, m.journalWrites} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

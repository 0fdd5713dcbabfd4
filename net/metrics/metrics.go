// Package metrics is zabd's Prometheus endpoint: what Apache ZooKeeper
// 3.8's PrometheusMetricsProvider serves (metricsProvider.httpHost,
// metricsProvider.httpPort, GET /metrics), under ZooKeeper's metric names
// and types, so the public ZooKeeper dashboards and alerts work, plus
// zabd's own under the zabd_ prefix.
//
// ZooKeeper's figures come in three kinds, kept as ZooKeeper exports
// them: gauges read at scrape time from the server's status (the
// numbers mntr prints: znode_count, watch_count, avg_latency, ...);
// summaries with ZooKeeper's quantiles (0.5 for its basic ones; 0.5, 0.9
// and 0.99 for its advanced ones, over a 10-minute window), observed as
// things happen (readlatency, updatelatency, fsynctime, snapshottime,
// sync_processor_batch_size, dbinittime, startup_txns_loaded,
// election_time); and
// counters (stale_sessions_expired). zabd's own are histograms (request
// latency per operation, group commit size, fsync and snapshot
// durations), counters (txns per engine) and gauges.
//
// Invariants: a figure zabd does not measure is not exported (no
// constant zeros standing for ZooKeeper's JVM internals); observation
// methods are safe for concurrent use, never block on the endpoint, and
// cost a few atomic operations and at most one short mutex hold; the
// endpoint listens on exactly the address it was given.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"zabd/tree"
)

// ProviderClass is the metricsProvider.className that turns the endpoint
// on, ZooKeeper's.
const ProviderClass = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

// Objectives of ZooKeeper's summaries (PrometheusMetricsProvider).
var (
	basic    = map[float64]float64{0.5: 0.05}
	advanced = map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}
)

// zkGauges are ZooKeeper's gauges (ZooKeeperServer.registerMetrics, and
// a leader's and a member's own) that zabd has a true figure for, by the
// name mntr and monitor give them.
var zkGauges = []string{
	"avg_latency", "max_latency", "min_latency", "packets_received", "packets_sent",
	"num_alive_connections", "outstanding_requests", "uptime", "znode_count", "watch_count",
	"ephemerals_count", "approximate_data_size", "global_sessions", "open_file_descriptor_count",
	"max_file_descriptor_count", "auth_failed_count",
	// an ensemble's
	"quorum_size", "learners", "synced_followers", "synced_non_voting_followers", "synced_observers",
	"pending_syncs", "last_proposal_size", "max_proposal_size", "min_proposal_size",
}

// Metrics holds the observed metrics. The zero value is not usable; use
// New.
type Metrics struct {
	reg *prometheus.Registry

	readLatency, updateLatency prometheus.Summary
	fsyncTime, snapshotTime    prometheus.Summary
	batchSize                  prometheus.Summary
	dbInitTime, txnsLoaded     prometheus.Summary
	electionTime               prometheus.Summary
	sessionsExpired            prometheus.Counter

	requestSeconds  *prometheus.HistogramVec
	byOp            [opSlots]prometheus.Observer // by client op code (0..opSlots-1), made in New
	commitRecords   prometheus.Histogram
	fsyncSeconds    prometheus.Histogram
	txns            prometheus.Counter
	txnBytes        prometheus.Counter
	snapshotSeconds prometheus.Histogram
	snapshotBytes   prometheus.Gauge
	snapshotZnodes  prometheus.Gauge
}

// Options configures New.
type Options struct {
	// Engine labels zabd's storage metrics (native, pebble, badger).
	Engine string
	// Monitor returns the server's status as monitor (mntr as JSON)
	// gives it; the gauges are read from it at each scrape.
	Monitor func() map[string]any
	// Runtime adds the Go runtime's and the process's metrics (go_*,
	// process_*): metricsProvider.exportJvmInfo, zabd's counterpart of
	// ZooKeeper's JVM metrics.
	Runtime bool
}

// New registers every metric in a new registry.
func New(o Options) *Metrics {
	reg := prometheus.NewRegistry()
	summary := func(name, help string, obj map[float64]float64) prometheus.Summary {
		s := prometheus.NewSummary(prometheus.SummaryOpts{Name: name, Help: help, Objectives: obj,
			MaxAge: 10 * time.Minute, AgeBuckets: 5})
		reg.MustRegister(s)
		return s
	}
	engine := prometheus.Labels{"engine": o.Engine}
	m := &Metrics{
		reg:           reg,
		readLatency:   summary("readlatency", "latency of reads, ms, from the request read to its answer queued", advanced),
		updateLatency: summary("updatelatency", "latency of writes, ms, from the request read to its answer queued", advanced),
		fsyncTime:     summary("fsynctime", "time of each group commit's fsync of the txn log, ms", basic),
		snapshotTime:  summary("snapshottime", "time to write a snapshot, ms", basic),
		batchSize:     summary("sync_processor_batch_size", "txns made durable by one fsync (group commit size)", basic),
		dbInitTime:    summary("dbinittime", "time to load the data at start (snapshot and log replay), ms", basic),
		txnsLoaded:    summary("startup_txns_loaded", "txns replayed from the log at start", basic),
		electionTime:  summary("election_time", "time from looking for a leader to leading or following one, ms", basic),
		sessionsExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "stale_sessions_expired",
			Help: "sessions expired"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zabd_request_duration_seconds",
			Help:    "client request latency by operation, from the request read to its answer queued",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16)}, []string{"op"}),
		commitRecords: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zabd_group_commit_records",
			Help: "txns made durable by one group commit", ConstLabels: engine,
			Buckets: prometheus.ExponentialBuckets(1, 2, 13)}),
		fsyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zabd_fsync_duration_seconds",
			Help: "time of each group commit (write and fsync)", ConstLabels: engine,
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16)}),
		txns: prometheus.NewCounter(prometheus.CounterOpts{Name: "zabd_txns_total",
			Help: "txns made durable (rate() gives txns per second)", ConstLabels: engine}),
		txnBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "zabd_txn_bytes_total",
			Help: "bytes of txns made durable", ConstLabels: engine}),
		snapshotSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zabd_snapshot_duration_seconds",
			Help: "time to write a snapshot", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		snapshotBytes:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "zabd_snapshot_bytes", Help: "size of the last snapshot written"}),
		snapshotZnodes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "zabd_snapshot_znodes", Help: "znodes in the last snapshot written"}),
	}
	for i := range m.byOp {
		name := tree.Op(i).String()
		if strings.HasPrefix(name, "op(") {
			name = "other"
		}
		m.byOp[i] = m.requestSeconds.WithLabelValues(name)
	}
	reg.MustRegister(m.sessionsExpired, m.requestSeconds, m.commitRecords, m.fsyncSeconds, m.txns, m.txnBytes,
		m.snapshotSeconds, m.snapshotBytes, m.snapshotZnodes)
	if o.Monitor != nil {
		reg.MustRegister(&statusCollector{monitor: o.Monitor})
	}
	if o.Runtime {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// opSlots covers the client ops' codes (1..22 and 100..107) in a table
// indexed by code, so a request costs no lookup.
const opSlots = 108

// ObserveRequest records one request's latency: readlatency or
// updatelatency, and zabd_request_duration_seconds by op (codes outside
// the table count as "other").
func (m *Metrics) ObserveRequest(op tree.Op, write bool, d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	if write {
		m.updateLatency.Observe(ms)
	} else {
		m.readLatency.Observe(ms)
	}
	i := int(op)
	if i < 0 || i >= opSlots {
		i = 10 // no client op has code 10: "other"
	}
	m.byOp[i].Observe(d.Seconds())
}

// ObserveCommit records one group commit (engine.GroupCommitOptions.OnCommit).
func (m *Metrics) ObserveCommit(records, bytes int, took time.Duration) {
	m.fsyncTime.Observe(float64(took) / float64(time.Millisecond))
	m.fsyncSeconds.Observe(took.Seconds())
	m.batchSize.Observe(float64(records))
	m.commitRecords.Observe(float64(records))
	m.txns.Add(float64(records))
	m.txnBytes.Add(float64(bytes))
}

// ObserveSnapshot records one snapshot written.
func (m *Metrics) ObserveSnapshot(took time.Duration, bytes, znodes int64) {
	m.snapshotTime.Observe(float64(took) / float64(time.Millisecond))
	m.snapshotSeconds.Observe(took.Seconds())
	m.snapshotBytes.Set(float64(bytes))
	m.snapshotZnodes.Set(float64(znodes))
}

// ObserveRecovery records the start's load: its time and the txns
// replayed.
func (m *Metrics) ObserveRecovery(took time.Duration, txns int) {
	m.dbInitTime.Observe(float64(took) / float64(time.Millisecond))
	m.txnsLoaded.Observe(float64(txns))
}

// ObserveElection records one election: from looking for a leader to
// leading or following one.
func (m *Metrics) ObserveElection(took time.Duration) {
	m.electionTime.Observe(float64(took) / float64(time.Millisecond))
}

// SessionExpired counts one expired session.
func (m *Metrics) SessionExpired() { m.sessionsExpired.Inc() }

// Gatherer is what the endpoint serves.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// statusCollector exports ZooKeeper's gauges from the server's status at
// each scrape, and zabd's own status gauges.
type statusCollector struct {
	monitor func() map[string]any
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	// Unchecked: which gauges exist depends on the role (a leader's), so
	// the set is only known at scrape time.
}

// zabdGauges are the status figures zabd exports under its own names.
var zabdGauges = map[string]string{
	"outstanding_writes":      "zabd_outstanding_writes",
	"outstanding_write_bytes": "zabd_outstanding_write_bytes",
	"writes_refused":          "zabd_writes_refused",
	"readers_throttled":       "zabd_readers_throttled",
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.monitor()
	emit := func(name, help string, v any) {
		f, ok := number(v)
		if !ok {
			return
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, nil, nil), prometheus.GaugeValue, f)
	}
	for _, name := range zkGauges {
		if v, ok := st[name]; ok {
			emit(name, name, v) // ZooKeeper's help text is the name
		}
	}
	for from, name := range zabdGauges {
		if v, ok := st[from]; ok {
			emit(name, "mntr's zk_"+from, v)
		}
	}
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// Server is the listening endpoint.
type Server struct {
	ln     net.Listener
	http   *http.Server
	served bool
	done   chan struct{}
	logger *slog.Logger
}

// Listen binds addr (metricsProvider.httpHost:httpPort); Serve then
// answers. Binding first lets the caller fail before it opens storage.
func Listen(addr string, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listening on %s: %w", addr, err)
	}
	return &Server{ln: ln, done: make(chan struct{}), logger: logger}, nil
}

// Addr is the address the endpoint listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve answers GET (and POST, HEAD) /metrics from g until Close, on its
// own goroutine; every other path is 404 and other methods 405, as
// ZooKeeper's provider.
func (s *Server) Serve(g prometheus.Gatherer) {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)})
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost:
			h.ServeHTTP(w, r)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, r.Method+" is not allowed on /metrics", http.StatusMethodNotAllowed)
		}
	})
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	s.served = true
	go func() {
		defer close(s.done)
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("metrics endpoint stopped", "addr", s.ln.Addr().String(), "err", err)
		}
	}()
}

// Close stops the endpoint and waits for Serve's goroutine.
func (s *Server) Close() error {
	if !s.served {
		return s.ln.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	<-s.done
	return err
}

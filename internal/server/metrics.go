package server

import (
	"net/http"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of one server, in their own registry
// (with the Go and process collectors).
type Metrics struct {
	reg            *prometheus.Registry
	opsApplied     prometheus.Counter
	opsBroadcast   prometheus.Counter
	messagesIn     prometheus.Counter
	transformDepth prometheus.Histogram
	commitBatch    prometheus.Histogram
	commitSeconds  prometheus.Histogram
	editSeconds    prometheus.Histogram
	dropped        *prometheus.CounterVec

	events          prometheus.Counter // app events emitted
	eventDeliveries prometheus.Counter
	eventsRefused   prometheus.Counter

	streams prometheus.Gauge // event streams open (see hooks.go)
}

// Reasons of collab_sessions_dropped_total.
const (
	dropSlowConsumer = "slow_consumer"     // its send buffer filled
	dropRateLimited  = "rate_limited"      // more operations than allowed
	dropHeartbeat    = "heartbeat_timeout" // no pong within the pong wait
	dropTooBig       = "message_too_big"   // a message over the limit (1009)
)

// NewMetrics makes the metrics. Pass ObserveCommit to docs.Config.OnCommit.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		opsApplied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "collab_ops_applied_total", Help: "Operations applied and made durable."}),
		opsBroadcast: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "collab_ops_broadcast_total", Help: "Revisions queued to sessions (acks included)."}),
		messagesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "collab_ws_messages_received_total", Help: "WebSocket messages received."}),
		transformDepth: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "collab_transform_depth", Help: "Revisions an incoming operation was transformed over.",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 64, 256, 1024, 10000}}),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "collab_commit_batch_size", Help: "Writes per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13)}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "collab_commit_seconds", Help: "Duration of a group commit, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14)}),
		editSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "collab_edit_seconds", Help: "Time from an operation's arrival to its ack queued for the socket: transform, apply, group commit (fsync) and fan-out.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 14)}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "collab_sessions_dropped_total", Help: "Sessions closed by the server, by reason."}, []string{"reason"}),
	}
	m.events = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "collab_events_total", Help: "App events emitted to a document's sessions (from sessions, the REST routes and announcements, once per document)."})
	m.eventDeliveries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "collab_event_deliveries_total", Help: "App events queued to sessions."})
	m.eventsRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "collab_events_refused_total", Help: "App events refused: over a rate limit, from a view-only session, or invalid."})
	m.streams = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "collab_event_streams", Help: "Server-Sent Events streams of document events open."})
	// Every reason shows in /metrics from the start, at 0.
	for _, reason := range []string{dropSlowConsumer, dropRateLimited, dropHeartbeat, dropTooBig} {
		m.dropped.WithLabelValues(reason)
	}
	m.reg.MustRegister(m.opsApplied, m.opsBroadcast, m.messagesIn, m.transformDepth, m.commitBatch, m.commitSeconds, m.editSeconds, m.dropped,
		m.events, m.eventDeliveries, m.eventsRefused, m.streams,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveCommit records one group commit.
func (m *Metrics) ObserveCommit(batch int, took time.Duration) {
	m.commitBatch.Observe(float64(batch))
	m.commitSeconds.Observe(took.Seconds())
}

func (m *Metrics) sessionsFn(f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "collab_sessions", Help: "Open WebSocket sessions."}, f))
}

func (m *Metrics) loadedFn(f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "collab_documents_loaded", Help: "Documents in memory."}, f))
}

// storageFn exports whether the disk takes the documents' writes, and how
// many writes it refused (see docs/OPERATIONS.md).
func (m *Metrics) storageFn(f func() docs.StorageState) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "collab_storage_failing", Help: "1 while the disk refuses the documents' writes (edits get storage_full), else 0."},
		func() float64 {
			if f().Failing {
				return 1
			}
			return 0
		}))
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "collab_storage_write_failures_total", Help: "Writes to the revision log or the database file that failed."},
		func() float64 { return float64(f().Failures) }))
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Package metrics is the server's Prometheus metrics: the collectors, and
// the handler of the metrics listener (/metrics, and /debug/pprof/ when
// asked). It measures from the outside: the request pipeline reports to it
// through its Observer (api.Observer), evidence verification through a
// wrapping attest.Verifier (Verifier), the audit log through a counter it
// is handed (audit.Log.CountBytes), and the key states and the verifiers'
// caches are read at scrape time through functions cmd/attestkms gives it
// (WatchKeys, WatchCaches). Neither kms nor attest imports it.
//
// Every label value is one of a few, so that no client can grow the
// series: dialect names, the operations of each dialect's own table or
// "unknown", outcome and reason words, evidence formats, attest's kinds.
//
// github.com/prometheus/client_golang is the exposition format's reference
// implementation: it writes what every Prometheus-compatible scraper reads.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/attestkms/attestkms/attest"
)

// Metrics are the server's collectors, in a registry of their own. It
// implements api.Observer.
type Metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	verifications *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
	throttled     *prometheus.CounterVec
	auditBytes    prometheus.Counter

	// series are the request counter and duration histogram of each label
	// set seen, resolved once (WithLabelValues hashes its labels and takes
	// a lock on every call): requestKey → *requestSeries. There are a few
	// hundred at most, the label values being the package doc's few.
	series sync.Map
}

type requestKey struct{ dialect, operation, outcome string }

type requestSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// durationBuckets: a request is a millisecond or two (a cached chain's
// Recipient), a few milliseconds for a new chain or an RSA key, more only
// when something is wrong.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New returns the collectors, registered with the Go runtime's and the
// process's.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "attestkms_requests_total",
			Help: "Requests answered, by dialect, operation (the dialect's name for it, or unknown) and outcome (ok, client_error, auth_failure, throttled, server_error, or canceled: the client went away before its answer).",
		}, []string{"dialect", "operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "attestkms_request_duration_seconds",
			Help:    "Time from a request's first byte read to its answer written, by dialect and operation.",
			Buckets: durationBuckets,
		}, []string{"dialect", "operation"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "attestkms_attestation_verifications_total",
			Help: "Attestation evidence verified, by format (of the claims, or the evidence's shape when refused: cose-sign1, sev-snp, tpm2, unknown) and result (ok, or the refusal's kind: malformed, signature, chain, expired, key, policy, binding, no_verifier, throttled).",
		}, []string{"format", "result"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "attestkms_auth_failures_total",
			Help: "Requests refused by authentication, by dialect and reason (missing, malformed, expired, signature, replay, refused).",
		}, []string{"dialect", "reason"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "attestkms_throttled_total",
			Help: "Requests refused by a budget of this node, by dialect and limit (access_key, source, cold_chain, key_pair, body: the bytes of request bodies being read before authentication).",
		}, []string{"dialect", "limit"}),
		auditBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "attestkms_audit_bytes_total",
			Help: "Bytes written to the audit log.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.verifications, m.authFailures, m.throttled, m.auditBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Request implements api.Observer.
func (m *Metrics) Request(dialect, operation, outcome string, took time.Duration) {
	k := requestKey{dialect, operation, outcome}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &requestSeries{
			requests: m.requests.WithLabelValues(dialect, operation, outcome),
			duration: m.duration.WithLabelValues(dialect, operation),
		})
	}
	s := v.(*requestSeries)
	s.requests.Inc()
	s.duration.Observe(took.Seconds())
}

// AuthFailure implements api.Observer.
func (m *Metrics) AuthFailure(dialect, reason string) {
	m.authFailures.WithLabelValues(dialect, reason).Inc()
}

// Throttled implements api.Observer.
func (m *Metrics) Throttled(dialect, limit string) {
	m.throttled.WithLabelValues(dialect, limit).Inc()
}

// AuditBytes is the counter of bytes written to the audit log, for
// audit.Log.CountBytes.
func (m *Metrics) AuditBytes() prometheus.Counter { return m.auditBytes }

// Verifier wraps v: every verification is counted by format and result.
func (m *Metrics) Verifier(v attest.Verifier) attest.Verifier { return &verifier{v: v, m: m} }

type verifier struct {
	v attest.Verifier
	m *Metrics
}

// results names each attest kind in the result label.
var results = []struct {
	kind error
	name string
}{
	{attest.ErrMalformed, "malformed"}, {attest.ErrSignature, "signature"}, {attest.ErrChain, "chain"},
	{attest.ErrExpired, "expired"}, {attest.ErrKey, "key"}, {attest.ErrNoVerifier, "no_verifier"},
	{attest.ErrPolicy, "policy"}, {attest.ErrBinding, "binding"}, {attest.ErrThrottled, "throttled"},
}

// Result is the result label of a verification's error: "ok" for nil, the
// name of the attest kind it wraps, or "other".
func Result(err error) string {
	if err == nil {
		return "ok"
	}
	for _, r := range results {
		if errors.Is(err, r.kind) {
			return r.name
		}
	}
	return "other"
}

func (v *verifier) Verify(evidence []byte, now time.Time) (*attest.Claims, error) {
	c, err := v.v.Verify(evidence, now)
	// The claims' format; for evidence refused, its shape only (a refused
	// COSE_Sign1 document is Nitro's or Qingtian's: no root said which).
	format := attest.Sniff(evidence)
	if c != nil {
		format = c.Format
	}
	if format == "" {
		format = "unknown"
	}
	v.m.verifications.WithLabelValues(string(format), Result(err)).Inc()
	return c, err
}

// WatchKeys has the registry ask states, at each scrape, how many keys are
// in each state (kms.Admin.KeyStates): attestkms_keys{state}. A scrape whose
// call fails has no such series, and says why in its error log.
func (m *Metrics) WatchKeys(states func(context.Context) (map[string]int, error)) {
	m.reg.MustRegister(&keysCollector{states: states, desc: prometheus.NewDesc("attestkms_keys", "Keys in the store, by state.", []string{"state"}, nil)})
}

// scrapeTimeout bounds what a scrape waits for the store.
const scrapeTimeout = 5 * time.Second

type keysCollector struct {
	states func(context.Context) (map[string]int, error)
	desc   *prometheus.Desc
}

func (k *keysCollector) Describe(ch chan<- *prometheus.Desc) { ch <- k.desc }

func (k *keysCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	states, err := k.states(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(k.desc, err)
		return
	}
	for state, n := range states {
		ch <- prometheus.MustNewConstMetric(k.desc, prometheus.GaugeValue, float64(n), state)
	}
}

// WatchCaches has the registry read, at each scrape, how many entries each
// named cache holds (the verifiers' CachedChains, by format):
// attestkms_cache_entries{cache}.
func (m *Metrics) WatchCaches(caches map[string]func() int) {
	m.reg.MustRegister(&cachesCollector{caches: caches, desc: prometheus.NewDesc("attestkms_cache_entries", "Verified certificate chains each verifier remembers, by its format.", []string{"cache"}, nil)})
}

type cachesCollector struct {
	caches map[string]func() int
	desc   *prometheus.Desc
}

func (c *cachesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *cachesCollector) Collect(ch chan<- prometheus.Metric) {
	for name, n := range c.caches {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n()), name)
	}
}

// Handler serves GET /metrics and, with pprof, Go's profiles under
// /debug/pprof/: the metrics listener's, never the API port's. A collector
// that fails leaves its series out of the scrape (errorLog says why); the
// others are served.
func (m *Metrics) Handler(withPprof bool, errorLog promhttp.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: errorLog}))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

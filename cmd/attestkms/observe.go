package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/internal/metrics"
	"github.com/attestkms/attestkms/kms"
)

// obsFlags are serve's metrics, logging and limits. The zero value (a test's
// serveConfig) is text logs at info, no metrics listener and no limits; the
// flags' defaults limit.
type obsFlags struct {
	metricsListen string
	pprof         bool
	logFormat     string // "text" (""), "json"
	logLevel      string // "debug", "info" (""), "warn", "error"
	// Requests a second; 0 is none. Each bucket holds twice its rate.
	rateLimit        float64 // per access key
	authFailureLimit float64 // failed authentications per source address
	coldChainLimit   float64 // certificate chains not verified before, for the whole node
	// Connections open at once on the API port; 0 is none (connlimit.go).
	maxConns, maxConnsPerSource int
	// The metrics listener's timeouts and connection bound (tests): zero
	// values are metricsTimeouts and maxMetricsConns.
	metricsTimeouts timeouts
	metricsMaxConns int
}

// timeouts are an http.Server's.
type timeouts struct{ readHeader, read, write, idle time.Duration }

// apply sets srv's timeouts.
func (t timeouts) apply(srv *http.Server) {
	srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = t.readHeader, t.read, t.write, t.idle
}

// apiTimeouts are the API port's (serve.go) and the metrics listener's.
var apiTimeouts = timeouts{readHeader: 10 * time.Second, read: 30 * time.Second, write: 60 * time.Second, idle: 120 * time.Second}

// The metrics listener: the API port's timeouts (apiTimeouts), so that a
// request never sent whole (a Content-Length and no body) holds no
// connection past ReadTimeout; a profile may stream past WriteTimeout for
// its seconds (net/http/pprof moves the deadline itself), at most
// maxProfileSeconds (boundProfiles). The
// listener shares the process's descriptors with the API port, so it
// keeps at most maxMetricsConns open: a scraper or two, and a profile.
var metricsTimeouts = apiTimeouts

const (
	maxMetricsConns   = 32
	maxProfileSeconds = 120 // go tool pprof asks 30 by default, scripts/perf.sh 20
)

const (
	defaultRateLimit        = 2000
	defaultAuthFailureLimit = 20
	defaultColdChainLimit   = 50
	defaultMaxConns         = 10000
	// Per source: kmsload and scripts/perf.sh run 64 connections from one
	// address, SDK pools a few each; 128 makes whoever would hold the
	// 10,000 in all with connections that are new or busy (never closed
	// to admit others, unlike idle ones) need 79 addresses, not 20.
	defaultMaxConnsPerSrc = 128
)

func (f *obsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "serve Prometheus metrics (GET /metrics) on this separate `address`, never on the API port (plain HTTP: keep it on loopback or a private network)")
	fs.BoolVar(&f.pprof, "pprof", false, "also serve Go's profiles under /debug/pprof/ on --metrics-listen (profiles and traces of at most 120 seconds)")
	fs.StringVar(&f.logFormat, "log-format", "text", "the log's `format` on stderr: text or json (one object a line)")
	fs.StringVar(&f.logLevel, "log-level", "info", "the least `level` logged: debug (a line per request), info, warn or error")
	fs.Float64Var(&f.rateLimit, "rate-limit", defaultRateLimit, "the `rate`, in requests a second, each access key may make, with bursts of twice that; 0 for no limit. Per node: each server keeps its own count")
	fs.Float64Var(&f.authFailureLimit, "auth-failure-limit", defaultAuthFailureLimit, "the `rate`, in requests a second, at which each source address (an IPv6 /64) may fail authentication, with bursts of twice that, before its requests that name no known access key are refused unchecked; 0 for no limit. Per node")
	fs.IntVar(&f.maxConns, "max-connections", defaultMaxConns, "the `number` of connections the API port keeps open at once; past it the connection idle longest between requests is closed to admit a new one, or, if none is idle, the new one is closed at once; 0 for no limit. Per node")
	fs.IntVar(&f.maxConnsPerSource, "max-connections-per-source", defaultMaxConnsPerSrc, "the `number` of connections one source address (an IPv6 /64) may keep open at once on the API port; past it the source's own connection idle longest is closed to admit a new one, or the new one is closed; 0 for no limit. Per node")
	fs.Float64Var(&f.coldChainLimit, "cold-chain-limit", defaultColdChainLimit, "the `rate`, in chains a second, at which the server verifies attestation certificate chains it has not verified before, with bursts of twice that (a chain verified before is never limited); 0 for no limit. Per node")
}

// check refuses what the flags cannot mean.
func (f *obsFlags) check() error {
	switch f.logFormat {
	case "", "text", "json":
	default:
		return usageError("--log-format must be text or json")
	}
	if _, err := f.level(); err != nil {
		return err
	}
	if f.pprof && f.metricsListen == "" {
		return usageError("--pprof needs --metrics-listen: profiles are never served on the API port")
	}
	for _, l := range []struct {
		name string
		v    float64
	}{{"--rate-limit", f.rateLimit}, {"--auth-failure-limit", f.authFailureLimit}, {"--cold-chain-limit", f.coldChainLimit}} {
		if l.v < 0 {
			return usageError("%s must be 0 (no limit) or more", l.name)
		}
	}
	if f.maxConns < 0 || f.maxConnsPerSource < 0 {
		return usageError("--max-connections and --max-connections-per-source must be 0 (no limit) or more")
	}
	return nil
}

func (f *obsFlags) level() (slog.Level, error) {
	switch f.logLevel {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, usageError("--log-level must be debug, info, warn or error")
}

// logger is the server's log on w, in the flags' format and level.
func (f *obsFlags) logger(w io.Writer) (*slog.Logger, error) {
	level, err := f.level()
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if f.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// coldChain is the verifiers' budget for chains they have not verified
// before (attest's Options.ColdChain), or nil for none. One bucket for the
// node: it guards the CPU every format shares.
func (f *obsFlags) coldChain() func() bool {
	if f.coldChainLimit <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(f.coldChainLimit), max(1, int(2*f.coldChainLimit))).Allow
}

// instrument makes the metrics of a server: it wraps the verifiers, reads
// their caches, the key states and the audit log's bytes. Without
// --metrics-listen there are none (nil).
func (f *obsFlags) instrument(set *attest.Set) *metrics.Metrics {
	if f.metricsListen == "" {
		return nil
	}
	m := metrics.New()
	caches := map[string]func() int{}
	type cached interface{ CachedChains() int }
	for _, v := range set.COSE {
		if c, ok := v.(cached); ok {
			name := string(attest.FormatCOSE)
			if n, ok := v.(interface{ Format() attest.Format }); ok {
				name = string(n.Format())
			}
			caches[name] = c.CachedChains
		}
	}
	for format, v := range set.Envelopes {
		if c, ok := v.(cached); ok {
			caches[string(format)] = c.CachedChains
		}
	}
	m.WatchCaches(caches)
	return m
}

// watchService points the metrics at what an open service has: its key
// states and its audit log.
func watchService(m *metrics.Metrics, svc *kms.Service) {
	admin := svc.Admin()
	m.WatchKeys(func(ctx context.Context) (map[string]int, error) {
		states, err := admin.KeyStates(ctx)
		out := make(map[string]int, len(states))
		for s, n := range states {
			out[string(s)] = n
		}
		return out, err
	})
	svc.AuditLog().CountBytes(m.AuditBytes())
}

// start finishes serve's start once the API listens on apiAddr: it warns
// on stderr of what is exposed, and serves the metrics (and profiles) on
// --metrics-listen, saying where. stop stops the metrics listener.
func (f *obsFlags) start(m *metrics.Metrics, apiAddr net.Addr, tls bool, logger *slog.Logger, stderr io.Writer) (stop func(), err error) {
	if !tls && exposed(apiAddr) {
		fmt.Fprintf(stderr, "attestkms: warning: serving plain HTTP on %s, which other machines can reach: requests, their signatures and their answers (data keys asked for without a Recipient among them) cross the network in the clear\nattestkms: hint: serve TLS (--tls-cert and --tls-key), or listen on a loopback address behind a TLS proxy\n", apiAddr)
	}
	if m == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", f.metricsListen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	to := f.metricsTimeouts
	if to == (timeouts{}) {
		to = metricsTimeouts
	}
	maxConns := f.metricsMaxConns
	if maxConns <= 0 {
		maxConns = maxMetricsConns
	}
	ln = limitConns(ln, 0, maxConns, logger)
	if l, ok := ln.(*connLimit); ok {
		l.bound = "the metrics listener's bound"
	}
	srv := &http.Server{
		Handler:        boundProfiles(m.Handler(f.pprof, printlnLogger{logger})),
		ConnState:      connStateHook(ln),
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       log.New(throttleLines(slog.NewLogLogger(logger.Handler(), slog.LevelWarn).Writer(), "", errorLogLines, errorLogInterval), "", 0),
	}
	to.apply(srv)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "err", err)
		}
	}()
	what := "metrics"
	if f.pprof {
		what = "metrics and profiles (/debug/pprof/)"
		if exposed(ln.Addr()) {
			fmt.Fprintf(stderr, "attestkms: warning: --pprof on %s, which other machines can reach: anyone there may profile the server and read its goroutines' stacks\nattestkms: hint: give --metrics-listen a loopback address\n", ln.Addr())
		}
	}
	fmt.Fprintf(stderr, "attestkms: %s on http://%s/metrics\n", what, ln.Addr())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

// boundProfiles refuses a profile or trace of more than maxProfileSeconds:
// net/http/pprof moves the write deadline on by the seconds asked, so one
// would hold its connection (and the CPU profiler, one at a time) that
// long. ReadTimeout does not cut one short: net/http lifts the read
// deadline once the request is read.
func boundProfiles(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/debug/pprof/") {
			// As pprof reads it (FormValue); NaN and Inf refused too.
			if v := r.FormValue("seconds"); v != "" {
				if sec, err := strconv.ParseFloat(v, 64); err == nil && !(sec <= maxProfileSeconds) {
					http.Error(w, fmt.Sprintf("seconds: at most %d", maxProfileSeconds), http.StatusBadRequest)
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// printlnLogger is promhttp's error log, on slog.
type printlnLogger struct{ l *slog.Logger }

func (p printlnLogger) Println(v ...any) {
	p.l.Warn("metrics: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

// exposed reports whether addr, where the server listens, is reachable
// from elsewhere than this machine: not a loopback address (an unspecified
// one, 0.0.0.0 or ::, is every address).
func exposed(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return !ok || !tcp.IP.IsLoopback()
}

// notices is serve's stderr for its own notices ("attestkms: …" lines):
// as they are for text logs; for JSON logs each line becomes a record of
// logger (level WARN for a warning), so that stderr holds JSON only.
func (f *obsFlags) notices(stderr io.Writer, logger *slog.Logger) io.Writer {
	if f.logFormat != "json" {
		return stderr
	}
	return &noticeWriter{log: logger}
}

// noticeWriter logs each line written to it.
type noticeWriter struct {
	mu      sync.Mutex
	log     *slog.Logger
	partial []byte
}

func (w *noticeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimPrefix(string(w.partial[:i]), "attestkms: ")
		w.partial = w.partial[i+1:]
		if msg, ok := strings.CutPrefix(line, "warning: "); ok {
			w.log.Warn(msg)
		} else {
			w.log.Info(line)
		}
	}
}

// lineThrottle passes on at most limit of the lines written to it each
// interval, and then, once that interval is over, one line saying how
// many it left out. It is the API and metrics servers' ErrorLog: net/http
// logs a line there for every connection whose TLS handshake fails, and a
// client needs no credential to open a thousand a second (review: 2000
// connections, 2000 lines on stderr and journald in 0.65 s). The first
// lines of a burst are kept, for they say what is going on.
type lineThrottle struct {
	w        io.Writer
	prefix   string // of its own line, as the log's others have it
	limit    int
	interval time.Duration

	mu         sync.Mutex
	start      time.Time // of the current interval
	n          int       // lines written in it
	suppressed int
	flush      *time.Timer // pending: the line saying how many were left out
}

const (
	errorLogLines    = 10 // each errorLogInterval
	errorLogInterval = time.Minute
)

// throttleLines wraps w, to which log.Logger writes one line a call.
func throttleLines(w io.Writer, prefix string, limit int, interval time.Duration) *lineThrottle {
	return &lineThrottle{w: w, prefix: prefix, limit: limit, interval: interval}
}

func (t *lineThrottle) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if now.Sub(t.start) >= t.interval {
		t.report()
		t.start, t.n = now, 0
	}
	if t.n < t.limit {
		t.n++
		return t.w.Write(p)
	}
	t.suppressed++
	if t.flush == nil {
		// Said when the interval ends, even if nothing more comes. A
		// timer that fired while report stopped it in vain finds another
		// (or none) in t.flush, and leaves it alone.
		var tm *time.Timer
		tm = time.AfterFunc(t.start.Add(t.interval).Sub(now), func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.flush != tm {
				return
			}
			t.flush = nil
			t.report()
		})
		t.flush = tm
	}
	return len(p), nil
}

// report writes how many lines were left out, if any; t.mu is held.
func (t *lineThrottle) report() {
	if t.flush != nil {
		t.flush.Stop()
		t.flush = nil
	}
	if t.suppressed == 0 {
		return
	}
	fmt.Fprintf(t.w, "%ssuppressed %d similar lines (at most %d are logged every %s)\n", t.prefix, t.suppressed, t.limit, t.interval)
	t.suppressed = 0
}

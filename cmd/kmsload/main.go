// Command kmsload puts a bounded load on an attestkms server and reports
// throughput and latency percentiles: the measurement beside the Go
// benchmarks, through real TCP, real SigV4 signing and many connections.
//
//	kmsload --op GenerateDataKey --concurrency 16 --duration 10s
//
// It refuses endpoints that are not loopback addresses unless given
// --allow-remote: load is for servers you operate.
package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/enclave"
	"github.com/attestkms/attestkms/internal/credfile"
	"github.com/attestkms/attestkms/internal/version"
)

const usage = `Usage: kmsload [flags]

Sends signed AWS-dialect requests to attestkms from --concurrency workers for
--duration or --requests (whichever ends first) and prints a JSON report:
requests, errors, requests per second, latency percentiles.

Operations: GenerateDataKey, Encrypt, Decrypt, DeriveSharedSecret (P-256),
GenerateRandom. A key of the right kind is created first.

--evidence FILE sends every request (but Encrypt's) with a Recipient carrying
that attestation document — a Nitro or QingTian document, or an SEV-SNP or TPM
evidence envelope, e.g. made by "enclavetool attest" — so that each request
pays the server's verification and wrap. (A Nitro document is refused once
older than the server's --attestation-max-age.)

Server CPU (Linux): --server-pid PID adds the server's CPU time per request
to the report, read from /proc/PID/stat around the load, which runs in
--rounds rounds. --baseline also starts a canned-answer server (this binary,
as a child process: Go's net/http reading each request's body and writing
a prepared answer of the real one's status, headers, size and shape, with
no signature check, JSON or crypto) and loads it with the same requests,
concurrency and duration or count, alternating with the server in each
round, at the rate the server answered in its last load (a server's CPU per
request depends on the rate: it does more per wakeup when busier;
--baseline-pace=false sends as fast as the canned server answers); "ratio"
is the server's CPU per request over the canned server's.
With --evidence, "crypto_floor_us_per_request" is the cryptography the
server cannot avoid for one such request, timed in-process between rounds
(each part in "crypto_floor_us"), and "crypto_floor_ratio" the server's CPU
per request over it. Requests throttled by the server (its --rate-limit)
are errors: a run with errors measures the wrong thing.

Examples:
  kmsload --credential attestkms-data/admin-credential.json --op Decrypt --concurrency 8 --duration 10s
  enclavetool attest --attestor sim-snp --sim-ca snpca --out snp.cbor
  kmsload --op GenerateDataKey --evidence snp.cbor --duration 10s
  kmsload --op GenerateDataKey --server-pid "$(pgrep -n attestkms)" --baseline --duration 10s
  scripts/perf.sh    # builds, starts a server with audit, metrics and limits on, prints the ratios
`

// Bounds: a load run always ends by itself.
const (
	maxDuration    = 5 * time.Minute
	maxConcurrency = 512
	maxRequests    = 10_000_000
)

type report struct {
	Operation   string  `json:"operation"`
	Concurrency int     `json:"concurrency"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"requests_per_second"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`

	// With --server-pid: the server's CPU time while kmsload loaded it.
	Rounds                int     `json:"rounds,omitempty"`
	ServerPID             int     `json:"server_pid,omitempty"`
	ServerCPUSeconds      float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUUsPerRequest float64 `json:"server_cpu_us_per_request,omitempty"`
	// With --baseline: the same load on the canned-answer server, and the
	// ratio of the two servers' CPU per request.
	Baseline                *side   `json:"baseline,omitempty"`
	BaselineCPUUsPerRequest float64 `json:"baseline_cpu_us_per_request,omitempty"`
	Ratio                   float64 `json:"ratio,omitempty"`
	// BaselinePaced: the canned server was sent no more requests a second
	// than the server answered (--baseline-pace).
	BaselinePaced bool `json:"baseline_paced,omitempty"`
	// With --evidence and --server-pid: the cryptography the server cannot
	// avoid for one request (floor.go), by part and in all, and the ratio
	// of the server's CPU per request to it; or why there is none.
	CryptoFloor             map[string]float64 `json:"crypto_floor_us,omitempty"`
	CryptoFloorUsPerRequest float64            `json:"crypto_floor_us_per_request,omitempty"`
	CryptoFloorRatio        float64            `json:"crypto_floor_ratio,omitempty"`
	CryptoFloorRefused      string             `json:"crypto_floor_refused,omitempty"`
	// PerRound are each round's figures, to show their spread.
	PerRound []round `json:"per_round,omitempty"`
}

// side is the load on the canned-answer server.
type side struct {
	PID                int      `json:"pid"`
	Requests           int64    `json:"requests"`
	Errors             int64    `json:"errors"`
	FirstError         string   `json:"first_error,omitempty"`
	Seconds            float64  `json:"seconds"`
	PerSecond          float64  `json:"requests_per_second"`
	P50Ms              float64  `json:"p50_ms"`
	P99Ms              float64  `json:"p99_ms"`
	CPUSeconds         float64  `json:"cpu_seconds"`
	CPUUsPerRequest    float64  `json:"cpu_us_per_request"`
	ResponseBodyBytes  int      `json:"response_body_bytes"`
	ResponseHeaderKeys []string `json:"response_headers"`
}

// round is one round's figures.
type round struct {
	ServerCPUUsPerRequest   float64 `json:"server_cpu_us_per_request"`
	BaselineCPUUsPerRequest float64 `json:"baseline_cpu_us_per_request,omitempty"`
	Ratio                   float64 `json:"ratio,omitempty"`
	CryptoFloorUsPerRequest float64 `json:"crypto_floor_us_per_request,omitempty"`
	CryptoFloorRatio        float64 `json:"crypto_floor_ratio,omitempty"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == cannedCommand {
		if err := cannedServer(os.Args[2:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "kmsload %s: error: %v\n", cannedCommand, err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "kmsload: error: %v\n", err)
		os.Exit(1)
	}
}

// maxRounds bounds --rounds.
const maxRounds = 20

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmsload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stdout, usage); fs.SetOutput(stdout); fs.PrintDefaults(); fs.SetOutput(stderr) }
	endpoint := fs.String("endpoint", "http://127.0.0.1:8080", "attestkms's `URL`")
	region := fs.String("region", "us-east-1", "the `region` to sign for: the server's (attestkms serve --region), which refuses any other")
	credFile := fs.String("credential", "attestkms-data/admin-credential.json", "the credential `file` attestkms wrote")
	op := fs.String("op", "GenerateDataKey", "the `operation` to load")
	conc := fs.Int("concurrency", 8, "concurrent workers, each with its own connection (above the server's --max-connections-per-source, 128 by default, the server refuses the rest: raise it for such a load)")
	dur := fs.Duration("duration", 10*time.Second, "how long to run (at most 5m); with --baseline, each server is loaded this long")
	requests := fs.Int64("requests", 0, "stop after this many requests (0: only --duration); with --baseline, each server gets this many")
	allowRemote := fs.Bool("allow-remote", false, "load an endpoint that is not a loopback address (a server you operate)")
	evidence := fs.String("evidence", "", "send a Recipient with the attestation document in this `file` (raw bytes)")
	serverPID := fs.Int("server-pid", 0, "the attestkms server's process `id`: report its CPU time per request (Linux /proc), and with --evidence the crypto floor")
	baseline := fs.Bool("baseline", false, "also send the same requests to a canned-answer server (kmsload's own child process) in alternating rounds, and report the ratio of the servers' CPU per request (needs --server-pid)")
	pace := fs.Bool("baseline-pace", true, "with --baseline, send the canned server at most as many requests a second as the server answered in its last load (CPU per request depends on the rate); false: as many as it answers")
	rounds := fs.Int("rounds", 3, "with --server-pid, split the load into this many `rounds` (1-20); with --baseline each round loads both servers, in alternating order")
	showVersion := fs.Bool("version", false, "print the build (module version, VCS revision) and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		_, err := fmt.Fprintln(stdout, version.String("kmsload"))
		return err
	}
	if *conc < 1 || *conc > maxConcurrency || *dur <= 0 || *dur > maxDuration || *requests < 0 || *requests > maxRequests {
		return fmt.Errorf("--concurrency 1-%d, --duration up to %v, --requests up to %d", maxConcurrency, maxDuration, maxRequests)
	}
	n := 1
	if *serverPID != 0 {
		if *rounds < 1 || *rounds > maxRounds {
			return fmt.Errorf("--rounds 1-%d", maxRounds)
		}
		if _, err := processCPU(*serverPID); err != nil {
			return fmt.Errorf("--server-pid %d: %w", *serverPID, err)
		}
		n = *rounds
	} else if *baseline {
		return errors.New("--baseline needs --server-pid: the ratio is of the servers' CPU per request")
	}
	if *requests > 0 && *requests < int64(n) {
		return fmt.Errorf("--requests %d: fewer than --rounds %d", *requests, n)
	}
	if err := checkEndpoint(*endpoint, *allowRemote); err != nil {
		return err
	}
	cred, err := credfile.Read(*credFile)
	if err != nil {
		return err
	}
	newClient := func(endpoint string, rt http.RoundTripper) *enclave.Client {
		return &enclave.Client{Endpoint: endpoint, Region: *region, AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey,
			HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: rt}}
	}
	newTransport := func() *http.Transport {
		return &http.Transport{MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}
	}
	client := newClient(*endpoint, newTransport())
	// Everything ends by itself: each load runs at most --duration, each
	// call at most 30s, and this bounds the rest.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Duration(n)*(*dur)+5*time.Minute)
	defer cancel()
	var rec map[string]any
	var doc []byte
	if *evidence != "" {
		doc, err = readBounded(*evidence, attest.MaxEvidence)
		if err != nil {
			return err
		}
		if *op == "Encrypt" {
			return errors.New("--evidence: Encrypt takes no Recipient")
		}
		rec = map[string]any{"AttestationDocument": doc, "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
	}
	in, err := prepare(ctx, client, *op, rec)
	if err != nil {
		return err
	}
	send := func(c *enclave.Client) func(context.Context) error {
		return func(ctx context.Context) error {
			var out json.RawMessage
			return c.Call(ctx, *op, in, &out)
		}
	}
	if *serverPID == 0 {
		var t tally
		t.add(load(ctx, send(client), *conc, *requests, *dur, 0))
		rep := t.report()
		rep.Operation, rep.Concurrency = *op, *conc
		return writeReport(stdout, rep)
	}

	// One request first, answered as the load's will be: it warms the
	// server (a Recipient's certificate chain is verified once, then
	// cached) and is what the canned server answers.
	capture := &captureTransport{rt: newTransport()}
	if err := send(newClient(*endpoint, capture))(ctx); err != nil {
		return fmt.Errorf("the first %s: %w", *op, err)
	}
	var cs *canned
	if *baseline {
		exe, err := exePath()
		if err != nil {
			return err
		}
		cs, err = startCanned(exe, cannedAnswer(capture.status, capture.header, capture.body), stderr)
		if err != nil {
			return err
		}
		defer cs.Stop()
		cs.client = newClient(cs.URL, newTransport())
	}
	var parts []floorPart
	var refused string
	if doc != nil {
		body, _ := json.Marshal(in)
		if parts, err = floorParts(*op, doc, len(body)); err != nil {
			refused = fmt.Sprintf("no crypto floor for this evidence: %v", err)
		}
	}

	var srv, base tally
	var serverRate float64 // the server's requests a second in its last load
	var floors []map[string]float64
	var perRound []round
	for i := range n {
		// Each round gets its share; the last one the remainder.
		d, lim := *dur/time.Duration(n), int64(0)
		if *requests > 0 {
			lim = *requests / int64(n)
			if i == n-1 {
				lim = *requests - lim*int64(n-1)
			}
		}
		var r round
		var ts, tb tally
		loadServer := func() error {
			err := ts.addMeasured(*serverPID, func() phase { return load(ctx, send(client), *conc, lim, d, 0) })
			if ts.elapsed > 0 {
				serverRate = float64(ts.requests) / ts.elapsed.Seconds()
			}
			return err
		}
		loadBaseline := func() error {
			if cs == nil {
				return nil
			}
			var rate float64
			if *pace {
				rate = serverRate
			}
			return tb.addMeasured(cs.PID(), func() phase { return load(ctx, send(cs.client), *conc, lim, d, rate) })
		}
		first, second := loadServer, loadBaseline
		if i%2 == 1 { // ABBA: drift in the machine's load falls on both
			first, second = second, first
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		r.ServerCPUUsPerRequest = ts.cpuPerRequest()
		if cs != nil {
			r.BaselineCPUUsPerRequest = tb.cpuPerRequest()
			r.Ratio = ratio(r.ServerCPUUsPerRequest, r.BaselineCPUUsPerRequest)
		}
		if parts != nil {
			f, err := timeFloor(parts)
			if err != nil {
				return fmt.Errorf("timing the crypto floor: %w", err)
			}
			floors = append(floors, f)
			r.CryptoFloorUsPerRequest = sum(f)
			r.CryptoFloorRatio = ratio(r.ServerCPUUsPerRequest, r.CryptoFloorUsPerRequest)
		}
		srv.merge(ts)
		base.merge(tb)
		perRound = append(perRound, r)
	}

	rep := srv.report()
	rep.Operation, rep.Concurrency = *op, *conc
	rep.Rounds, rep.ServerPID, rep.PerRound = n, *serverPID, perRound
	rep.ServerCPUSeconds = srv.cpu.Seconds()
	rep.ServerCPUUsPerRequest = srv.cpuPerRequest()
	// Over a second of load, a server that answered used ticks of CPU.
	if srv.requests > 0 && srv.cpu == 0 && srv.elapsed >= time.Second {
		return fmt.Errorf("--server-pid %d used no CPU time while it answered %d requests: is it the server at %s?", *serverPID, srv.requests, *endpoint)
	}
	if cs != nil {
		b := base.report()
		rep.Baseline = &side{PID: cs.PID(), Requests: b.Requests, Errors: b.Errors, FirstError: b.FirstError, Seconds: b.Seconds,
			PerSecond: b.PerSecond, P50Ms: b.P50Ms, P99Ms: b.P99Ms, CPUSeconds: base.cpu.Seconds(), CPUUsPerRequest: base.cpuPerRequest(),
			ResponseBodyBytes: len(capture.body), ResponseHeaderKeys: headerKeys(cs.answer.Header)}
		rep.BaselineCPUUsPerRequest = base.cpuPerRequest()
		rep.BaselinePaced = *pace
		rep.Ratio = ratio(rep.ServerCPUUsPerRequest, rep.BaselineCPUUsPerRequest)
	}
	rep.CryptoFloorRefused = refused
	if len(floors) > 0 {
		rep.CryptoFloor = map[string]float64{}
		for name := range floors[0] {
			var xs []float64
			for _, f := range floors {
				xs = append(xs, f[name])
			}
			rep.CryptoFloor[name] = round2(median(xs))
		}
		rep.CryptoFloorUsPerRequest = round2(sum(rep.CryptoFloor))
		rep.CryptoFloorRatio = ratio(rep.ServerCPUUsPerRequest, rep.CryptoFloorUsPerRequest)
	}
	return writeReport(stdout, rep)
}

func writeReport(w io.Writer, rep report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// ratio is a/b to three decimals, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(1000*a/b) / 1000
}

func round2(x float64) float64 { return math.Round(100*x) / 100 }

func headerKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// captureTransport keeps the last answer it carried: status, headers, body.
type captureTransport struct {
	rt     http.RoundTripper
	status int
	header http.Header
	body   []byte
}

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCannedBody+1))
	if err != nil {
		return nil, err
	}
	c.status, c.header, c.body = resp.StatusCode, resp.Header.Clone(), body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// readBounded reads a file of at most max bytes, refusing a larger one.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: more than %d bytes", path, max)
	}
	return b, nil
}

// checkEndpoint refuses a non-loopback host unless allowed.
func checkEndpoint(endpoint string, allowRemote bool) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--endpoint %q is not a URL", endpoint)
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--endpoint %s is not a loopback address: pass --allow-remote for a server you operate", host)
}

// prepare creates what op needs and returns the body of one request of
// it, with the Recipient rec if it is not nil. The workers share the body:
// they only read it.
func prepare(ctx context.Context, c *enclave.Client, op string, rec map[string]any) (map[string]any, error) {
	var key struct{ KeyMetadata struct{ KeyId string } }
	newKey := func(in any) error { return c.Call(ctx, "CreateKey", in, &key) }
	attested := func(in map[string]any) map[string]any {
		if rec != nil {
			in["Recipient"] = rec
		}
		return in
	}
	switch op {
	case "GenerateDataKey", "Encrypt", "Decrypt":
		if err := newKey(struct{}{}); err != nil {
			return nil, err
		}
		id := key.KeyMetadata.KeyId
		switch op {
		case "GenerateDataKey":
			return attested(map[string]any{"KeyId": id, "KeySpec": "AES_256"}), nil
		case "Encrypt":
			return map[string]any{"KeyId": id, "Plaintext": make([]byte, 32)}, nil
		}
		var enc struct{ CiphertextBlob []byte }
		if err := c.Call(ctx, "Encrypt", map[string]any{"KeyId": id, "Plaintext": make([]byte, 32)}, &enc); err != nil {
			return nil, err
		}
		return attested(map[string]any{"CiphertextBlob": enc.CiphertextBlob}), nil
	case "DeriveSharedSecret":
		if err := newKey(map[string]string{"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}); err != nil {
			return nil, err
		}
		peer, _ := ecdh.P256().GenerateKey(rand.Reader)
		spki, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
		return attested(map[string]any{"KeyId": key.KeyMetadata.KeyId, "KeyAgreementAlgorithm": "ECDH", "PublicKey": spki}), nil
	case "GenerateRandom":
		return attested(map[string]any{"NumberOfBytes": 32}), nil
	}
	return nil, fmt.Errorf("--op %q: use GenerateDataKey, Encrypt, Decrypt, DeriveSharedSecret or GenerateRandom", op)
}

// phase is one load's outcome.
type phase struct {
	requests, errors int64
	firstError       string
	elapsed          time.Duration
	lat              []time.Duration // of the requests that succeeded
}

// load runs call from conc workers for dur, or until limit requests are
// sent (0: no limit), or ctx ends; at most rate requests a second if rate
// is not 0. A request under way when the time is
// up is let finish, and counted: the server did its work.
func load(ctx context.Context, call func(context.Context) error, conc int, limit int64, dur time.Duration, rate float64) phase {
	var sent, errs, slots atomic.Int64
	var mu sync.Mutex
	var firstErr string
	lat := make([][]time.Duration, conc)
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if rate > 0 { // paced: request n starts n/rate seconds in
					at := start.Add(time.Duration(float64(slots.Add(1)-1) / rate * float64(time.Second)))
					if !at.Before(deadline) {
						return
					}
					time.Sleep(time.Until(at))
				}
				if n := sent.Add(1); limit > 0 && n > limit {
					sent.Add(-1)
					return
				}
				t := time.Now()
				err := call(ctx)
				if ctx.Err() != nil { // cut off: not counted
					sent.Add(-1)
					return
				}
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err.Error()
						mu.Unlock()
					}
					continue
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		}(w)
	}
	wg.Wait()
	p := phase{requests: sent.Load(), errors: errs.Load(), firstError: firstErr, elapsed: time.Since(start)}
	for _, l := range lat {
		p.lat = append(p.lat, l...)
	}
	return p
}

// tally adds phases up, with the CPU time the measured process used
// during them.
type tally struct {
	phase
	cpu time.Duration
}

func (t *tally) add(p phase) {
	t.requests += p.requests
	t.errors += p.errors
	if t.firstError == "" {
		t.firstError = p.firstError
	}
	t.elapsed += p.elapsed
	t.lat = append(t.lat, p.lat...)
}

func (t *tally) merge(u tally) {
	t.add(u.phase)
	t.cpu += u.cpu
}

// addMeasured runs a load and adds it, with the CPU time process pid used
// meanwhile.
func (t *tally) addMeasured(pid int, run func() phase) error {
	before, err := processCPU(pid)
	if err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	p := run()
	after, err := processCPU(pid)
	if err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	t.add(p)
	t.cpu += after - before
	return nil
}

// cpuPerRequest is the measured CPU time per request answered (errors
// included: the server worked for them too), in microseconds.
func (t *tally) cpuPerRequest() float64 {
	if t.requests == 0 {
		return 0
	}
	return round2(float64(t.cpu.Nanoseconds()) / 1000 / float64(t.requests))
}

// report is the tally's requests, rate and latencies.
func (t *tally) report() report {
	all := slices.Clone(t.lat)
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	secs := t.elapsed.Seconds()
	var perSecond float64
	if secs > 0 {
		perSecond = float64(t.requests-t.errors) / secs
	}
	return report{
		Requests: t.requests, Errors: t.errors, FirstError: t.firstError,
		Seconds: secs, PerSecond: perSecond,
		P50Ms: pct(0.50), P90Ms: pct(0.90), P99Ms: pct(0.99), MaxMs: pct(1),
	}
}

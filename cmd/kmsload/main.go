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
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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

Examples:
  kmsload --credential attestkms-data/admin-credential.json --op Decrypt --concurrency 8 --duration 10s
  enclavetool attest --attestor sim-snp --sim-ca snpca --out snp.cbor
  kmsload --op GenerateDataKey --evidence snp.cbor --duration 10s
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
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "kmsload: error: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmsload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stdout, usage); fs.SetOutput(stdout); fs.PrintDefaults(); fs.SetOutput(stderr) }
	endpoint := fs.String("endpoint", "http://127.0.0.1:8080", "attestkms's `URL`")
	region := fs.String("region", "us-east-1", "the `region` to sign for: the server's (attestkms serve --region), which refuses any other")
	credFile := fs.String("credential", "attestkms-data/admin-credential.json", "the credential `file` attestkms wrote")
	op := fs.String("op", "GenerateDataKey", "the `operation` to load")
	conc := fs.Int("concurrency", 8, "concurrent workers, each with its own connection")
	dur := fs.Duration("duration", 10*time.Second, "how long to run (at most 5m)")
	requests := fs.Int64("requests", 0, "stop after this many requests (0: only --duration)")
	allowRemote := fs.Bool("allow-remote", false, "load an endpoint that is not a loopback address (a server you operate)")
	evidence := fs.String("evidence", "", "send a Recipient with the attestation document in this `file` (raw bytes)")
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
	if err := checkEndpoint(*endpoint, *allowRemote); err != nil {
		return err
	}
	cred, err := credfile.Read(*credFile)
	if err != nil {
		return err
	}
	transport := &http.Transport{MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}
	client := &enclave.Client{Endpoint: *endpoint, Region: *region, AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: transport}}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	var rec map[string]any
	if *evidence != "" {
		doc, err := readBounded(*evidence, attest.MaxEvidence)
		if err != nil {
			return err
		}
		if *op == "Encrypt" {
			return errors.New("--evidence: Encrypt takes no Recipient")
		}
		rec = map[string]any{"AttestationDocument": doc, "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
	}
	call, err := prepare(ctx, client, *op, rec)
	if err != nil {
		return err
	}
	rep := load(ctx, call, *conc, *requests)
	rep.Operation = *op
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
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

// prepare creates what op needs and returns one request of it, with the
// Recipient rec if it is not nil.
func prepare(ctx context.Context, c *enclave.Client, op string, rec map[string]any) (func(context.Context) error, error) {
	var key struct{ KeyMetadata struct{ KeyId string } }
	newKey := func(in any) error { return c.Call(ctx, "CreateKey", in, &key) }
	// send is one request; each has its own answer buffer (workers run at once).
	send := func(ctx context.Context, op string, in map[string]any) error {
		var out json.RawMessage
		return c.Call(ctx, op, in, &out)
	}
	// attested adds the Recipient to a request, once, before the workers
	// share it (they only read it).
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
			in := attested(map[string]any{"KeyId": id, "KeySpec": "AES_256"})
			return func(ctx context.Context) error { return send(ctx, op, in) }, nil
		case "Encrypt":
			in := map[string]any{"KeyId": id, "Plaintext": make([]byte, 32)}
			return func(ctx context.Context) error { return send(ctx, op, in) }, nil
		}
		var enc struct{ CiphertextBlob []byte }
		if err := c.Call(ctx, "Encrypt", map[string]any{"KeyId": id, "Plaintext": make([]byte, 32)}, &enc); err != nil {
			return nil, err
		}
		in := attested(map[string]any{"CiphertextBlob": enc.CiphertextBlob})
		return func(ctx context.Context) error { return send(ctx, op, in) }, nil
	case "DeriveSharedSecret":
		if err := newKey(map[string]string{"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}); err != nil {
			return nil, err
		}
		peer, _ := ecdh.P256().GenerateKey(rand.Reader)
		spki, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
		in := attested(map[string]any{"KeyId": key.KeyMetadata.KeyId, "KeyAgreementAlgorithm": "ECDH", "PublicKey": spki})
		return func(ctx context.Context) error { return send(ctx, op, in) }, nil
	case "GenerateRandom":
		in := attested(map[string]any{"NumberOfBytes": 32})
		return func(ctx context.Context) error { return send(ctx, op, in) }, nil
	}
	return nil, fmt.Errorf("--op %q: use GenerateDataKey, Encrypt, Decrypt, DeriveSharedSecret or GenerateRandom", op)
}

// load runs call from conc workers until ctx ends or limit requests are sent.
func load(ctx context.Context, call func(context.Context) error, conc int, limit int64) report {
	var sent, errs atomic.Int64
	var mu sync.Mutex
	var firstErr string
	lat := make([][]time.Duration, conc)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				if n := sent.Add(1); limit > 0 && n > limit {
					sent.Add(-1)
					return
				}
				t := time.Now()
				err := call(ctx)
				if ctx.Err() != nil { // cut off by the deadline: not counted
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
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	return report{
		Concurrency: conc, Requests: sent.Load(), Errors: errs.Load(), FirstError: firstErr,
		Seconds: elapsed.Seconds(), PerSecond: float64(sent.Load()-errs.Load()) / elapsed.Seconds(),
		P50Ms: pct(0.50), P90Ms: pct(0.90), P99Ms: pct(0.99), MaxMs: pct(1),
	}
}

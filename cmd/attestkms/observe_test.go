package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	tccommon "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/sigv4"
)

var metricsRE = regexp.MustCompile(`attestkms: metrics(?: and profiles \(/debug/pprof/\))? on http://(\S+)/metrics`)

// metricsAddr is the metrics listener's address as serve said it.
func metricsAddr(t *testing.T, stderr string) string {
	t.Helper()
	m := metricsRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("serve did not say where its metrics are: %s", stderr)
	}
	return m[1]
}

// scrape reads the metrics: each sample by its name and labels, as the
// text format writes them (labels sorted by name).
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// get is the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func readCredential(t *testing.T, dir string) credentialJSON {
	t.Helper()
	var cred credentialJSON
	b, err := os.ReadFile(filepath.Join(dir, "admin-credential.json"))
	if err != nil || json.Unmarshal(b, &cred) != nil {
		t.Fatalf("admin credential: %v", err)
	}
	return cred
}

// fromAddress is an HTTP client whose connections leave from ip, a loopback
// address other than 127.0.0.1: another source, as the server sees it.
func fromAddress(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// nitroCA is a test Nitro CA whose root is in a PEM file for --nitro-roots.
func nitroCA(t *testing.T) (*nitrotest.CA, string) {
	t.Helper()
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca, path
}

// TestMetricsAfterAMixedWorkload: after requests through the AWS SDK and
// the Tencent SDK — successes, failures, an unknown operation, a bad
// signature, a throttled source, Recipients (a new chain admitted, one
// refused by the cold-chain budget while a cached one still passes, a
// forged signature) — /metrics shows each counter moved by exactly the
// requests made, the key states, the verifier's cache and the audit log's
// bytes; profiles are on the metrics listener only, and the API port
// answers neither /metrics nor /debug/pprof/.
func TestMetricsAfterAMixedWorkload(t *testing.T) {
	ca, rootsFile := nitroCA(t)
	dir := filepath.Join(t.TempDir(), "data")
	cfg := serveConfig{dataDir: dir}
	cfg.evidence.nitroRoots = rootsFile
	cfg.obs = obsFlags{metricsListen: "127.0.0.1:0", pprof: true, rateLimit: defaultRateLimit,
		authFailureLimit: 0.01, coldChainLimit: 0.01} // a bucket of one, refilled in 100 s
	addr, stderr, _ := startServe(t, cfg)
	maddr := metricsAddr(t, stderr.String())
	cred := readCredential(t, dir)
	auditLog := filepath.Join(dir, "audit.log")
	auditSize := func() float64 { fi, _ := os.Stat(auditLog); return float64(fi.Size()) }

	before := scrape(t, maddr)
	auditBefore := auditSize()
	ctx := context.Background()
	c := awsClient(t, addr, "us-east-1", cred)
	wantCode := func(err error, code string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != code {
			t.Fatalf("got %v; want %s", err, code)
		}
	}

	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: []byte("not a ciphertext")})
	wantCode(err, "InvalidCiphertextException")

	enclave, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	enclaveDER, _ := x509.MarshalPKIXPublicKey(&enclave.PublicKey)
	pcrs := map[int][]byte{0: bytes.Repeat([]byte{0x42}, 48)}
	gdk := func(d nitrotest.Document) error {
		d.Timestamp, d.PCRs, d.PublicKey = time.Now(), pcrs, enclaveDER
		doc, err := ca.Sign(d)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyMetadata.KeyId, KeySpec: awstypes.DataKeySpecAes256,
			Recipient: &awstypes.RecipientInfo{AttestationDocument: doc, KeyEncryptionAlgorithm: awstypes.KeyEncryptionMechanismRsaesOaepSha256}})
		return err
	}
	if err := gdk(nitrotest.Document{}); err != nil { // a new chain: the budget's one
		t.Fatal(err)
	}
	wantCode(gdk(nitrotest.Document{ModuleID: "i-0000000000000001-enc0000000000000001"}), "ThrottlingException") // another new chain: none left
	if err := gdk(nitrotest.Document{}); err != nil {                                                            // the chain verified before
		t.Fatalf("a cached chain while the cold-chain budget is spent: %v", err)
	}
	wantCode(gdk(nitrotest.Document{FlipSignature: true}), "ValidationException")

	// An operation the AWS dialect does not have: "unknown", never the
	// name the client made up.
	body := []byte("{}")
	r, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
	r.Header.Set("X-Amz-Target", "TrentService.MadeUpOperation")
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if err := sigv4.Sign(r, body, cred.AccessKeyID, []byte(cred.SecretAccessKey), "us-east-1", "kms", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Fatalf("made-up operation: %s %v", resp.Status, resp.Header)
	}

	// Tencent: a success and a failure.
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint, cpf.HttpProfile.Scheme = addr, "HTTP"
	tc, err := tckms.NewClient(tccommon.NewCredential(cred.AccessKeyID, cred.SecretAccessKey), "ap-guangzhou", cpf)
	if err != nil {
		t.Fatal(err)
	}
	gr := tckms.NewGenerateRandomRequest()
	n := uint64(16)
	gr.NumberOfBytes = &n
	if _, err := tc.GenerateRandom(gr); err != nil {
		t.Fatal(err)
	}
	enc := tckms.NewEncryptRequest()
	keyID, pt := "00000000-0000-0000-0000-000000000000", "aGVsbG8="
	enc.KeyId, enc.Plaintext = &keyID, &pt
	var tce *tcerr.TencentCloudSDKError
	if _, err := tc.Encrypt(enc); !errors.As(err, &tce) {
		t.Fatalf("Tencent Encrypt with no such key: %v", err)
	}

	// A wrong secret from another address: one failure, then that address
	// is throttled: an unknown access key before its signature is checked;
	// the known key's wrong secret after, answered alike but counted as the
	// bad signature it is. 127.0.0.1 is not throttled.
	bad := awskms.New(awskms.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(cred.AccessKeyID, "wrong-secret", ""), HTTPClient: fromAddress("127.0.0.2")})
	_, err = bad.ListKeys(ctx, &awskms.ListKeysInput{})
	wantCode(err, "InvalidSignatureException")
	_, err = bad.ListKeys(ctx, &awskms.ListKeysInput{})
	wantCode(err, "ThrottlingException")
	unknown := awskms.New(awskms.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIANOSUCHKEY0000000", "wrong-secret", ""), HTTPClient: fromAddress("127.0.0.2")})
	_, err = unknown.ListKeys(ctx, &awskms.ListKeysInput{})
	wantCode(err, "ThrottlingException")
	if _, err := c.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatalf("another address: %v", err)
	}

	after := scrape(t, maddr)
	want := map[string]float64{
		`attestkms_requests_total{dialect="aws",operation="CreateKey",outcome="ok"}`:                 1,
		`attestkms_requests_total{dialect="aws",operation="Encrypt",outcome="ok"}`:                   1,
		`attestkms_requests_total{dialect="aws",operation="Decrypt",outcome="client_error"}`:         1,
		`attestkms_requests_total{dialect="aws",operation="GenerateDataKey",outcome="ok"}`:           2,
		`attestkms_requests_total{dialect="aws",operation="GenerateDataKey",outcome="throttled"}`:    1,
		`attestkms_requests_total{dialect="aws",operation="GenerateDataKey",outcome="client_error"}`: 1,
		`attestkms_requests_total{dialect="aws",operation="unknown",outcome="client_error"}`:         1,
		`attestkms_requests_total{dialect="aws",operation="ListKeys",outcome="auth_failure"}`:        2,
		`attestkms_requests_total{dialect="aws",operation="ListKeys",outcome="throttled"}`:           1,
		`attestkms_requests_total{dialect="aws",operation="ListKeys",outcome="ok"}`:                  1,
		`attestkms_requests_total{dialect="tencent",operation="GenerateRandom",outcome="ok"}`:        1,
		`attestkms_requests_total{dialect="tencent",operation="Encrypt",outcome="client_error"}`:     1,
		`attestkms_request_duration_seconds_count{dialect="aws",operation="GenerateDataKey"}`:        4,
		`attestkms_request_duration_seconds_count{dialect="tencent",operation="Encrypt"}`:            1,
		`attestkms_auth_failures_total{dialect="aws",reason="signature"}`:                            2,
		`attestkms_throttled_total{dialect="aws",limit="source"}`:                                    1,
		`attestkms_throttled_total{dialect="aws",limit="cold_chain"}`:                                1,
		`attestkms_attestation_verifications_total{format="nitro",result="ok"}`:                      2,
		`attestkms_attestation_verifications_total{format="cose-sign1",result="throttled"}`:          1,
		`attestkms_attestation_verifications_total{format="cose-sign1",result="signature"}`:          1,
	}
	for name, d := range want {
		if got := after[name] - before[name]; got != d {
			t.Errorf("%s moved by %v; want %v", name, got, d)
		}
	}
	// Nothing else moved: the requests counted are the requests made.
	for name, v := range after {
		for _, family := range []string{"attestkms_requests_total", "attestkms_auth_failures_total", "attestkms_throttled_total", "attestkms_attestation_verifications_total"} {
			if strings.HasPrefix(name, family+"{") && v != before[name] {
				if _, ok := want[name]; !ok {
					t.Errorf("%s moved by %v, not by a request of the test", name, v-before[name])
				}
			}
		}
	}
	for name, v := range map[string]float64{
		`attestkms_keys{state="Enabled"}`: 1, `attestkms_keys{state="Disabled"}`: 0, `attestkms_keys{state="PendingDeletion"}`: 0,
		`attestkms_cache_entries{cache="nitro"}`: 1, `attestkms_cache_entries{cache="sev-snp"}`: 0,
	} {
		if got, ok := after[name]; !ok || got != v {
			t.Errorf("%s = %v (present %v); want %v", name, got, ok, v)
		}
	}
	// The throttled source's requests are not audited; the others are, and
	// the counter is the log's growth, byte for byte.
	if got, want := after["attestkms_audit_bytes_total"]-before["attestkms_audit_bytes_total"], auditSize()-auditBefore; got != want || got == 0 {
		t.Errorf("attestkms_audit_bytes_total moved by %v; the audit log grew by %v", got, want)
	}
	if _, ok := after["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	// Profiles and metrics on the metrics listener, never on the API port.
	if code, body := get(t, "http://"+maddr+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("metrics listener /debug/pprof/: %d", code)
	}
	if code, _ := get(t, "http://"+maddr+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK {
		t.Errorf("metrics listener /debug/pprof/goroutine: %d", code)
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		if code, body := get(t, "http://"+addr+path); code == http.StatusOK || strings.Contains(body, "goroutine") || strings.Contains(body, "attestkms_") {
			t.Errorf("the API port answers %s: %d", path, code)
		}
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
}

// TestMetricsWithoutPprof: without --pprof the metrics listener serves no
// profiles; without --metrics-listen there is no listener, and --pprof
// alone is a usage error.
func TestMetricsWithoutPprof(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, stderr, _ := startServe(t, serveConfig{dataDir: dir, obs: obsFlags{metricsListen: "127.0.0.1:0"}})
	maddr := metricsAddr(t, stderr.String())
	if code, _ := get(t, "http://"+maddr+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without --pprof: %d", code)
	}
	if code, body := get(t, "http://"+maddr+"/metrics"); code != http.StatusOK || !strings.Contains(body, "attestkms_keys") {
		t.Errorf("/metrics: %d", code)
	}

	_, stderr, _ = startServe(t, serveConfig{dataDir: filepath.Join(t.TempDir(), "data")})
	if strings.Contains(stderr.String(), "metrics") {
		t.Errorf("metrics without --metrics-listen: %s", stderr)
	}
	for _, args := range [][]string{
		{"--pprof"}, {"--log-format", "xml"}, {"--log-level", "trace"}, {"--rate-limit", "-1"},
		{"--auth-failure-limit", "-5"}, {"--cold-chain-limit", "-0.5"},
	} {
		code, _, errs := runCmd(append([]string{"serve", "--data-dir", filepath.Join(t.TempDir(), "never")}, args...)...)
		if code != 2 || !strings.Contains(errs, "attestkms: error: ") {
			t.Errorf("serve %v: exit %d, %q", args, code, errs)
		}
	}
}

// TestLogFlags: --log-format json writes JSON lines only, serve's own
// notices among them; --log-level debug logs a line per request, info does
// not, and warn leaves out the notices but keeps the warnings.
func TestLogFlags(t *testing.T) {
	badRequest := func(addr string) {
		resp, err := http.Post("http://"+addr+"/", "application/x-amz-json-1.1", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	records := func(t *testing.T, out string) []map[string]any {
		t.Helper()
		var recs []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("a line that is not JSON: %q (%v)", line, err)
			}
			recs = append(recs, rec)
		}
		return recs
	}
	find := func(recs []map[string]any, msg string) map[string]any {
		for _, r := range recs {
			if m, _ := r["msg"].(string); strings.HasPrefix(m, msg) {
				return r
			}
		}
		return nil
	}

	dir := filepath.Join(t.TempDir(), "data")
	addr, stderr, stop := startServe(t, serveConfig{dataDir: dir, allowDebugEnclaves: true, obs: obsFlags{logFormat: "json", logLevel: "debug"}})
	badRequest(addr)
	stop()
	recs := records(t, stderr.String())
	if r := find(recs, "serving AWS KMS"); r == nil || r["level"] != "INFO" {
		t.Errorf("no serving notice as a JSON record: %v", recs)
	}
	if r := find(recs, "--allow-debug-enclaves"); r == nil || r["level"] != "WARN" {
		t.Errorf("the debug-enclaves warning is not a WARN record: %v", recs)
	}
	r := find(recs, "request")
	if r == nil || r["level"] != "DEBUG" || r["dialect"] != "aws" || r["outcome"] != "auth_failure" || r["error_code"] != "MissingAuthenticationTokenException" || r["request_id"] == "" {
		t.Errorf("no debug line for the request: %v", recs)
	}

	addr, stderr, stop = startServe(t, serveConfig{dataDir: dir, allowDebugEnclaves: true, obs: obsFlags{logFormat: "json", logLevel: "warn"}})
	badRequest(addr)
	stop()
	recs = records(t, stderr.String())
	if find(recs, "serving AWS KMS") != nil || find(recs, "request") != nil || find(recs, "--allow-debug-enclaves") == nil {
		t.Errorf("--log-level warn: %v", recs)
	}

	// Text, at info: serve's notices as ever, no line per request.
	addr, stderr, stop = startServe(t, serveConfig{dataDir: dir})
	badRequest(addr)
	stop()
	if out := stderr.String(); !strings.Contains(out, "attestkms: serving AWS KMS") || strings.Contains(out, "msg=request") {
		t.Errorf("text at info: %s", out)
	}
	addr, stderr, stop = startServe(t, serveConfig{dataDir: dir, obs: obsFlags{logLevel: "debug"}})
	badRequest(addr)
	stop()
	if out := stderr.String(); !strings.Contains(out, "level=DEBUG msg=request") || !strings.Contains(out, "dialect=aws") {
		t.Errorf("text at debug: %s", out)
	}
}

// TestPlainHTTPWarning: serving plain HTTP where other machines can reach
// it is warned about at start; on loopback, or with TLS, it is not.
func TestPlainHTTPWarning(t *testing.T) {
	const warning = "attestkms: warning: serving plain HTTP on "
	_, stderr, _ := startServe(t, serveConfig{dataDir: filepath.Join(t.TempDir(), "data"), listen: "0.0.0.0:0"})
	if out := stderr.String(); !strings.Contains(out, warning) || !strings.Contains(out, "hint: serve TLS") {
		t.Errorf("plain HTTP on 0.0.0.0: %s", out)
	}
	_, stderr, _ = startServe(t, serveConfig{dataDir: filepath.Join(t.TempDir(), "data")})
	if strings.Contains(stderr.String(), warning) {
		t.Errorf("plain HTTP on loopback warned about: %s", stderr)
	}
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": false, "[::1]:8080": false, "127.0.0.53:53": false,
		"0.0.0.0:8080": true, "[::]:8080": true, "192.0.2.1:8080": true, "10.0.0.1:8080": true, "[2001:db8::1]:443": true,
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := exposed(a); got != want {
			t.Errorf("exposed(%s) = %v; want %v", addr, got, want)
		}
	}
}

// TestColdChainBudget: with the budget for new certificate chains spent, a
// burst of genuine chains not seen before is refused (ThrottlingException, a
// verification result "throttled"), none of them verified or cached, while
// an enclave whose chain was verified before is served throughout; forged
// chains (a CA of its own under the root's name) are refused as untrusted
// at their first link, and spend no budget (they used to spend it, locking
// new enclaves out).
func TestColdChainBudget(t *testing.T) {
	ca, rootsFile := nitroCA(t)
	dir := filepath.Join(t.TempDir(), "data")
	cfg := serveConfig{dataDir: dir}
	cfg.evidence.nitroRoots = rootsFile
	cfg.obs = obsFlags{metricsListen: "127.0.0.1:0", coldChainLimit: 0.01} // a bucket of one, refilled in 100 s
	addr, stderr, _ := startServe(t, cfg)
	maddr := metricsAddr(t, stderr.String())
	c := awsClient(t, addr, "us-east-1", readCredential(t, dir))
	ctx := context.Background()
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enclave, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	enclaveDER, _ := x509.MarshalPKIXPublicKey(&enclave.PublicKey)
	gdk := func(d nitrotest.Document) error {
		d.Timestamp, d.PCRs, d.PublicKey = time.Now(), map[int][]byte{0: bytes.Repeat([]byte{7}, 48)}, enclaveDER
		doc, err := ca.Sign(d)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyMetadata.KeyId, NumberOfBytes: aws.Int32(32),
			Recipient: &awstypes.RecipientInfo{AttestationDocument: doc, KeyEncryptionAlgorithm: awstypes.KeyEncryptionMechanismRsaesOaepSha256}})
		return err
	}
	throttled := func(err error) bool {
		var ae smithy.APIError
		return errors.As(err, &ae) && ae.ErrorCode() == "ThrottlingException" && strings.Contains(ae.ErrorMessage(), "try again")
	}
	if err := gdk(nitrotest.Document{}); err != nil { // the known enclave: the budget's one chain
		t.Fatal(err)
	}
	const burst = 10
	for i := range burst {
		if err := gdk(nitrotest.Document{ForeignCA: true}); throttled(err) || err == nil || !strings.Contains(err.Error(), "untrusted certificate chain") {
			t.Fatalf("forged chain %d: %v; want an untrusted chain", i, err)
		}
		if err := gdk(nitrotest.Document{ModuleID: fmt.Sprintf("i-%016x-enc%016x", i, i)}); !throttled(err) {
			t.Fatalf("new genuine chain %d: %v; want ThrottlingException", i, err)
		}
		if err := gdk(nitrotest.Document{}); err != nil {
			t.Fatalf("the known enclave during the burst (%d): %v", i, err)
		}
	}
	m := scrape(t, maddr)
	for name, want := range map[string]float64{
		`attestkms_attestation_verifications_total{format="nitro",result="ok"}`:             burst + 1,
		`attestkms_attestation_verifications_total{format="cose-sign1",result="throttled"}`: burst,
		`attestkms_attestation_verifications_total{format="cose-sign1",result="chain"}`:     burst,
		`attestkms_throttled_total{dialect="aws",limit="cold_chain"}`:                       burst,
		`attestkms_cache_entries{cache="nitro"}`:                                            1,
	} {
		if m[name] != want {
			t.Errorf("%s = %v; want %v", name, m[name], want)
		}
	}
}

// TestServeTLSHandshakeErrorLog: a connection that fails its TLS handshake
// (here: opened and closed at once, which needs no credential) does not
// write a line each to stderr: a thousand write a few (review: 2000 in
// 0.65 s wrote 2000 lines to journald).
func TestServeTLSHandshakeErrorLog(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	addr, stderr, _ := startServe(t, serveConfig{dataDir: filepath.Join(dir, "data"), tlsCert: certFile, tlsKey: keyFile})
	for range 1000 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// The server logs as it gets to each: wait until it has said all.
	for last, deadline := -1, time.Now().Add(20*time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		n := len(stderr.String())
		if n == last {
			break
		}
		last = n
	}
	if n := strings.Count(stderr.String(), "TLS handshake error"); n == 0 || n > errorLogLines {
		t.Fatalf("1000 failed TLS handshakes wrote %d lines, want 1 to %d", n, errorLogLines)
	}
}

// TestLineThrottle: at most limit lines an interval pass, then one line
// says how many were left out, when the interval ends, even if nothing
// more is written; the next interval passes lines again.
func TestLineThrottle(t *testing.T) {
	var out syncBuffer
	w := throttleLines(&out, "p: ", 3, 200*time.Millisecond)
	for i := range 1000 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if got := out.String(); got != "line 0\nline 1\nline 2\n" {
		t.Fatalf("first interval wrote:\n%s", got)
	}
	time.Sleep(400 * time.Millisecond)
	if got := out.String(); !strings.HasSuffix(got, "line 2\np: suppressed 997 similar lines (at most 3 are logged every 200ms)\n") {
		t.Fatalf("after the interval:\n%s", got)
	}
	fmt.Fprintf(w, "again\n")
	if got := out.String(); !strings.HasSuffix(got, "lines (at most 3 are logged every 200ms)\nagain\n") {
		t.Fatalf("next interval:\n%s", got)
	}
}

// TestMetricsListenerBounds: the metrics listener closes a connection whose
// request never comes whole (review: GET /metrics with Content-Length: 1000
// and no body held one 150 s and more), keeps at most its bound of
// connections open, refuses a profile longer than maxProfileSeconds (whose
// seconds move its write deadline on), and lets one within it outlast
// ReadTimeout and WriteTimeout.
func TestMetricsListenerBounds(t *testing.T) {
	to := timeouts{readHeader: time.Second, read: time.Second, write: 2 * time.Second, idle: time.Second}
	_, stderr, _ := startServe(t, serveConfig{dataDir: filepath.Join(t.TempDir(), "data"),
		obs: obsFlags{metricsListen: "127.0.0.1:0", pprof: true, metricsTimeouts: to, metricsMaxConns: 2}})
	maddr := metricsAddr(t, stderr.String())

	c := dial(t, maddr)
	start := time.Now()
	io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: kms\r\nContent-Length: 1000\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil { // to EOF: the server closed it
		t.Fatalf("a request without its body held its connection: %v after %v", err, time.Since(start))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a request without its body held its connection %v", d)
	}

	// Two connections that send nothing yet hold the bound of 2 (a new
	// connection is never closed to admit another); a third is refused.
	dial(t, maddr)
	dial(t, maddr)
	time.Sleep(50 * time.Millisecond)
	third := dial(t, maddr)
	io.WriteString(third, "GET /metrics HTTP/1.1\r\nHost: kms\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(third), nil); err == nil {
		resp.Body.Close()
		t.Fatal("a connection past the metrics listener's bound was served")
	}
	time.Sleep(1500 * time.Millisecond) // ReadHeaderTimeout closes the two

	for _, sec := range []string{strconv.Itoa(maxProfileSeconds + 1), "1e9", "Inf", "NaN"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+maddr+"/debug/pprof/trace?seconds="+sec, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a trace of %s s: %v %v", sec, resp, err)
		}
		if err == nil {
			resp.Body.Close()
		}
		cancel()
	}
	start = time.Now()
	if code, _ := get(t, "http://"+maddr+"/debug/pprof/profile?seconds=3"); code != http.StatusOK {
		t.Errorf("a profile of 3 s: %d", code)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("a profile of 3 s, past ReadTimeout (1 s) and WriteTimeout (2 s), was cut short at %v", d)
	}
}

package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
	"github.com/attestkms/attestkms/internal/testserver"
)

// TestMain is also the canned server: kmsload --baseline starts its own
// binary, which under go test is this one, as "canned-server".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == cannedCommand {
		if err := cannedServer(os.Args[2:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// credFile writes srv's credential where kmsload reads it.
func credFile(t *testing.T, srv *testserver.Server) string {
	cred := filepath.Join(t.TempDir(), "cred.json")
	b, _ := json.Marshal(map[string]string{"access_key_id": srv.AccessKey, "secret_access_key": srv.Secret})
	if err := os.WriteFile(cred, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return cred
}

func runReport(t *testing.T, args ...string) report {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("%v: %v (stderr: %s)", args, err, errb.String())
	}
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLoad(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	cred := filepath.Join(t.TempDir(), "cred.json")
	b, _ := json.Marshal(map[string]string{"access_key_id": srv.AccessKey, "secret_access_key": srv.Secret})
	os.WriteFile(cred, b, 0o600)
	for _, op := range []string{"GenerateDataKey", "Encrypt", "Decrypt", "DeriveSharedSecret", "GenerateRandom"} {
		var out, errb bytes.Buffer
		err := run([]string{"--endpoint", srv.URL, "--credential", cred, "--op", op, "--concurrency", "4", "--requests", "40", "--duration", "20s"}, &out, &errb)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		var r report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Requests != 40 || r.Errors != 0 || r.P50Ms <= 0 || r.PerSecond <= 0 {
			t.Fatalf("%s: %+v", op, r)
		}
	}
}

func TestRefusesRemoteAndUnbounded(t *testing.T) {
	for _, args := range [][]string{
		{"--endpoint", "http://10.0.0.1:8080"},
		{"--endpoint", "http://example.com"},
		{"--duration", "1h"},
		{"--concurrency", "0"},
		{"--op", "CreateKey", "--endpoint", "http://127.0.0.1:1"},
	} {
		var out, errb bytes.Buffer
		if err := run(args, &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		} else if strings.Contains(args[1], "10.0.0.1") && !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestLoadWithEvidence: every request carries a Recipient with the
// evidence, which the server verifies each time; evidence the server does
// not trust makes every request an error, counted, not hidden.
func TestLoadWithEvidence(t *testing.T) {
	ca, err := tpmtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	roots, err := tpm.ParseRoots(ca.RootsPEM())
	if err != nil {
		t.Fatal(err)
	}
	v, _ := tpm.New(tpm.Options{Roots: roots})
	srv := testserver.Start(t, testserver.Options{Attestation: &attest.Set{Envelopes: map[attest.Format]attest.Verifier{attest.FormatTPM2: v}}})
	dir := t.TempDir()
	cred := filepath.Join(dir, "cred.json")
	b, _ := json.Marshal(map[string]string{"access_key_id": srv.AccessKey, "secret_access_key": srv.Secret})
	os.WriteFile(cred, b, 0o600)
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	ev, err := ca.Evidence(der, tpmtest.Quote{})
	if err != nil {
		t.Fatal(err)
	}
	good, bad := filepath.Join(dir, "ev.cbor"), filepath.Join(dir, "bad.cbor")
	os.WriteFile(good, ev, 0o644)
	os.WriteFile(bad, append(ev, 0), 0o644)
	loadOnce := func(op, evidence string) report {
		var out, errb bytes.Buffer
		if err := run([]string{"--endpoint", srv.URL, "--credential", cred, "--op", op, "--evidence", evidence, "--concurrency", "4", "--requests", "12", "--duration", "20s"}, &out, &errb); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		var r report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, op := range []string{"GenerateDataKey", "Decrypt", "DeriveSharedSecret", "GenerateRandom"} {
		if r := loadOnce(op, good); r.Requests != 12 || r.Errors != 0 {
			t.Fatalf("%s with evidence: %+v", op, r)
		}
	}
	// With --server-pid, the crypto floor of the TPM quote's request: its
	// P-256 AK signature among the parts, and the ratio to it.
	r := runReport(t, "--endpoint", srv.URL, "--credential", cred, "--op", "DeriveSharedSecret", "--evidence", good,
		"--concurrency", "2", "--requests", "20", "--duration", "20s", "--server-pid", strconv.Itoa(os.Getpid()), "--rounds", "1")
	if r.Errors != 0 || r.CryptoFloorUsPerRequest <= 0 || r.CryptoFloorRatio <= 0 || r.CryptoFloor["evidence_signature_ecdsa_P-256"] <= 0 ||
		r.CryptoFloor["ecdh_p256"] <= 0 || r.CryptoFloorRefused != "" || r.Baseline != nil {
		t.Fatalf("floor: %+v", r)
	}
	if r := loadOnce("GenerateDataKey", bad); r.Errors != r.Requests || !strings.Contains(r.FirstError, "ValidationException") {
		t.Fatalf("untrusted evidence: %+v", r)
	}
	var out, errb bytes.Buffer
	if err := run([]string{"--endpoint", srv.URL, "--credential", cred, "--op", "Encrypt", "--evidence", good}, &out, &errb); err == nil {
		t.Fatal("Encrypt with --evidence accepted")
	}
	// Inputs are bounded: evidence over attest.MaxEvidence, a credential
	// file without a secret.
	huge := filepath.Join(dir, "huge.cbor")
	os.WriteFile(huge, make([]byte, attest.MaxEvidence+1), 0o644)
	if err := run([]string{"--endpoint", srv.URL, "--credential", cred, "--evidence", huge}, &out, &errb); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("oversized evidence: %v", err)
	}
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, []byte(`{"access_key_id":"AK"}`), 0o600)
	if err := run([]string{"--endpoint", srv.URL, "--credential", empty}, &out, &errb); err == nil {
		t.Fatal("a credential without a secret accepted")
	}
}

// TestCannedServer: the child answers every request with the answer it was
// given, whatever it is sent, after reading the body.
func TestCannedServer(t *testing.T) {
	real := []byte(`{"CiphertextBlob":"AQID\\/+=","KeyId":"arn:aws:kms:us-east-1:1:key/x","Plaintext":"c2VjcmV0"}`)
	h := http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amzn-Requestid": {"0f1e2d3c-0000-4000-8000-000000000000"}, "Date": {"Mon, 01 Jan 2024 00:00:00 GMT"}}
	a := cannedAnswer(200, h, real)
	if len(a.Body) != len(real) || bytes.Contains(a.Body, []byte("c2VjcmV0")) || !bytes.Contains(a.Body, []byte(`"KeyId":"AAAA`)) {
		t.Fatalf("canned body %s", a.Body)
	}
	var v map[string]string
	if err := json.Unmarshal(a.Body, &v); err != nil || len(v) != 3 {
		t.Fatalf("canned body is not the same shape: %s: %v", a.Body, err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := startCanned(exe, a, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Stop()
	for _, body := range []string{"{}", strings.Repeat("x", 100_000)} {
		resp, err := http.Post(cs.URL+"/", "application/x-amz-json-1.1", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, a.Body) || resp.Header.Get("X-Amzn-Requestid") != h.Get("X-Amzn-Requestid") ||
			resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" || resp.Header.Get("Date") == h.Get("Date") {
			t.Fatalf("canned answer: %d %v %s", resp.StatusCode, resp.Header, got)
		}
	}
	cs.Stop()
	if _, err := http.Post(cs.URL+"/", "text/plain", strings.NewReader("{}")); err == nil {
		t.Fatal("the canned server still answers after Stop")
	}
}

// TestBaseline: with --server-pid and --baseline the report has both
// servers' CPU per request and their ratio, besides the usual fields. The
// server here is in this process, so its CPU includes the load's: only
// that the figures exist is asserted.
func TestBaseline(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	cred := credFile(t, srv)
	r := runReport(t, "--endpoint", srv.URL, "--credential", cred, "--op", "GenerateDataKey", "--concurrency", "2",
		"--duration", "2s", "--server-pid", strconv.Itoa(os.Getpid()), "--baseline", "--rounds", "2")
	if r.Requests == 0 || r.Errors != 0 || r.Rounds != 2 || len(r.PerRound) != 2 || r.ServerPID != os.Getpid() {
		t.Fatalf("report: %+v", r)
	}
	if r.ServerCPUUsPerRequest <= 0 || r.BaselineCPUUsPerRequest <= 0 || r.Ratio <= 0 || r.Baseline == nil ||
		r.Baseline.Requests == 0 || r.Baseline.Errors != 0 || r.Baseline.CPUSeconds <= 0 || r.Baseline.PID == os.Getpid() {
		t.Fatalf("report: %+v, baseline %+v", r, r.Baseline)
	}
	if !slices.Contains(r.Baseline.ResponseHeaderKeys, "X-Amzn-Requestid") || r.Baseline.ResponseBodyBytes == 0 {
		t.Fatalf("baseline answer: %+v", r.Baseline)
	}
	if !r.BaselinePaced {
		t.Fatal("the baseline is paced by default")
	}
	if r.CryptoFloor != nil || r.CryptoFloorRefused != "" {
		t.Fatalf("a floor without evidence: %+v", r)
	}
	// A request count is split over the rounds, and each server gets it all.
	r = runReport(t, "--endpoint", srv.URL, "--credential", cred, "--op", "Encrypt", "--concurrency", "2",
		"--requests", "41", "--duration", "20s", "--server-pid", strconv.Itoa(os.Getpid()), "--baseline", "--rounds", "2", "--baseline-pace=false")
	if r.Requests != 41 || r.Baseline.Requests != 41 || r.BaselinePaced {
		t.Fatalf("report: %+v, baseline %+v", r, r.Baseline)
	}
}

func TestServerPIDRefused(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	cred := credFile(t, srv)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--server-pid", "999999999"}, "no process 999999999"},
		{[]string{"--server-pid", "-5"}, "no process"},
		{[]string{"--baseline"}, "needs --server-pid"},
		{[]string{"--server-pid", strconv.Itoa(os.Getpid()), "--rounds", "0"}, "--rounds"},
		{[]string{"--server-pid", strconv.Itoa(os.Getpid()), "--rounds", "3", "--requests", "2"}, "fewer than"},
	} {
		var out, errb bytes.Buffer
		err := run(append([]string{"--endpoint", srv.URL, "--credential", cred}, c.args...), &out, &errb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want %q", c.args, err, c.want)
		}
	}
	// A process that is not the server (an idle one) is noticed.
	idle := exec.Command("sleep", "60")
	if err := idle.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	defer func() { idle.Process.Kill(); idle.Wait() }()
	var out, errb bytes.Buffer
	err := run([]string{"--endpoint", srv.URL, "--credential", cred, "--op", "GenerateRandom", "--concurrency", "1", "--duration", "1500ms",
		"--server-pid", strconv.Itoa(idle.Process.Pid), "--rounds", "1"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "used no CPU") {
		t.Errorf("an idle process as the server: %v", err)
	}
}

// TestNitroFloor: a Nitro document's floor is its ES384 signature, the
// operation's cryptography, the CMS wrap to its RSA key, SigV4 with a
// cached key and the audit chain's hash, each timed positive.
func TestNitroFloor(t *testing.T) {
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := rsa.GenerateKey(rand.Reader, 3072)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	doc, err := ca.Sign(nitrotest.Document{Timestamp: time.Now(), PublicKey: der})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := floorParts("DeriveSharedSecret", doc, 6000)
	if err != nil {
		t.Fatal(err)
	}
	us, err := timeFloor(parts)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"evidence_signature_ES384", "ecdh_p256", "cms_wrap_rsa3072_oaep_aes256cbc", "sigv4_cached_key", "audit_chain_sha256", "answer_signature_ed25519"} {
		if us[name] <= 0 {
			t.Errorf("%s: %v", name, us)
		}
	}
	if len(us) != 6 {
		t.Errorf("parts: %v", us)
	}
	for _, op := range []string{"GenerateDataKey", "Decrypt", "GenerateRandom"} {
		if _, err := floorParts(op, doc, 6000); err != nil {
			t.Errorf("%s: %v", op, err)
		}
	}
	// An SEV-SNP envelope's floor: the report's ES384, the binding.
	snpCA, err := snptest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := snpCA.Evidence(der, snptest.Report{})
	if err != nil {
		t.Fatal(err)
	}
	parts, err = floorParts("GenerateDataKey", ev, 6000)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range parts {
		names = append(names, p.name)
	}
	if !slices.Equal(names, []string{"evidence_signature_ES384", "evidence_binding", "data_key_aes256gcm_seal", "cms_wrap_rsa3072_oaep_aes256cbc", "sigv4_cached_key", "audit_chain_sha256", "answer_signature_ed25519"}) {
		t.Errorf("SEV-SNP floor: %v", names)
	}
	// What is not evidence has no floor.
	for _, bad := range [][]byte{{0x84, 0x01}, []byte("not evidence"), {0xa1, 0x61, 0x61, 0x01}} {
		if _, err := floorParts("DeriveSharedSecret", bad, 100); err == nil {
			t.Errorf("%x: a floor", bad)
		}
	}
}

package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
	"github.com/attestkms/attestkms/internal/testserver"
)

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

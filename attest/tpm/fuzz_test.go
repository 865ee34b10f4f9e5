package tpm_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
	"github.com/google/go-tpm/tpm2"
)

// The fuzz seeds in testdata/fuzz/FuzzVerify are made with the test AK CAs
// saved in testdata/ca-ecdsa and testdata/ca-rsa (tpmtest.CA.Save: their AK
// private keys are test keys and nothing trusts them), so that they verify
// run after run. ATTESTKMS_WRITE_SEEDS=1 go test -run TestWriteFuzzSeeds
// ./attest/tpm makes the CAs if they are missing and writes the seeds again.
const (
	seedDir    = "testdata/fuzz/FuzzVerify"
	ecdsaCADir = "testdata/ca-ecdsa"
	rsaCADir   = "testdata/ca-rsa"
)

func loadCA(t testing.TB, dir string) *tpmtest.CA {
	t.Helper()
	ca, err := tpmtest.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("ATTESTKMS_WRITE_SEEDS") != "1" {
		t.Skip("ATTESTKMS_WRITE_SEEDS=1 writes the seeds")
	}
	for dir, kind := range map[string]tpmtest.AKKind{ecdsaCADir: tpmtest.AKECDSAP256, rsaCADir: tpmtest.AKRSA2048} {
		if _, err := os.Stat(dir); err == nil {
			continue
		}
		if err := newCA(t, tpmtest.CAOptions{AK: kind}).Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	ec, rs := loadCA(t, ecdsaCADir), loadCA(t, rsaCADir)
	stranger := newCA(t, tpmtest.CAOptions{})
	sanCA := newCA(t, tpmtest.CAOptions{EditAKCert: withSAN(san(true, dirName(false, oidCN, "tpm")))})
	seeds := map[string]struct {
		ca *tpmtest.CA
		q  tpmtest.Quote
	}{
		"ok":              {ec, tpmtest.Quote{Nonce: []byte("nonce"), UserData: []byte("user data"), Clock: 1, ResetCount: 2, RestartCount: 3}},
		"ok_rsa":          {rs, tpmtest.Quote{}},
		"ok_sha384":       {ec, tpmtest.Quote{Bank: crypto.SHA384}},
		"ok_pinned":       {ec, tpmtest.Quote{OmitAKCert: true}},
		"ok_cert_only":    {rs, tpmtest.Quote{OmitAKPublic: true}},
		"ok_24_pcrs":      {ec, tpmtest.Quote{PCRs: pcrMap(24, 32)}},
		"sha1_bank":       {ec, tpmtest.Quote{Bank: crypto.SHA1}},
		"wrong_extradata": {ec, tpmtest.Quote{ExtraData: make([]byte, 32)}},
		"pcr_not_quoted":  {ec, tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.PCRs[0] = make([]byte, 32) }}},
		"pcr_extra":       {ec, tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.PCRs[9] = make([]byte, 32) }}},
		"wrong_magic":     {ec, tpmtest.Quote{EditAttest: func(a *tpm2.TPMSAttest) { a.Magic = 0 }}},
		"certify": {ec, tpmtest.Quote{EditAttest: func(a *tpm2.TPMSAttest) {
			a.Type = tpm2.TPMSTAttestCertify
			a.Attested = tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{})
		}}},
		"quote_trailing":      {ec, tpmtest.Quote{QuoteSuffix: []byte{0}}},
		"signature_trailing":  {rs, tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.Signature = append(e.Signature, 0) }}},
		"signature_sha384":    {ec, tpmtest.Quote{SigHash: crypto.SHA384}},
		"signature_tampered":  {rs, tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.Signature[20] ^= 1 }}},
		"untrusted_ca":        {stranger, tpmtest.Quote{}},
		"critical_san_cn":     {sanCA, tpmtest.Quote{}},
		"ak_public_mismatch":  {ec, tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKPublic = rs.AKPublic }}},
		"ak_not_restricted":   {ec, tpmtest.Quote{OmitAKCert: true, EditEnvelope: func(e *envelope.Envelope) { e.AKPublic[5] &^= 0x01 }}},
		"enclave_key_rsa1024": {ec, tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.PublicKey = spki(t, fakeRSA(1024, 65537)) }}},
	}
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		b := evidence(t, s.ca, s.q)
		f := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(seedDir, "seed-"+name), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzVerify feeds envelopes to verifiers trusting the seeds' CAs and
// Google's vTPM root, at times their seeds verify, so that mutations reach
// every stage. Seeds: testdata/fuzz/FuzzVerify and the real quotes'
// envelopes of testvectors/tpm. Properties: no panic, in our code or
// recovered from go-tpm's decoder; claims nil exactly when the error is
// not; every error wraps exactly one kind; accepted claims are consistent
// and the same again; the input is not modified.
func FuzzVerify(f *testing.F) {
	docs, _ := filepath.Glob(filepath.Join(vectorDir, "*.cbor"))
	for _, path := range docs {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ec, rs := loadCA(f, ecdsaCADir), loadCA(f, rsaCADir)
	testRoots := parseRoots(f, ec.RootsPEM(), rs.RootsPEM(), ec.AKPublicKeyPEM(), rs.AKPublicKeyPEM())
	type setup struct {
		v  *tpm.Verifier
		at time.Time
	}
	setups := []setup{
		{newVerifier(f, tpm.Options{Roots: testRoots}), testTime},
		{newVerifier(f, tpm.Options{Roots: testRoots, AllowSHA1: true}), testTime},
		{newVerifier(f, tpm.Options{Roots: gceRoots(f), AllowSHA1: true}), gceTime},
	}
	panics := tpm.DecodePanics()
	f.Fuzz(func(t *testing.T, doc []byte) {
		orig := bytes.Clone(doc)
		for i, s := range setups {
			c, err := s.v.Verify(doc, s.at)
			if (c == nil) == (err == nil) {
				t.Fatalf("setup %d: claims %v with error %v", i, c != nil, err)
			}
			if err != nil {
				if ks := tpm.KindsOf(err); len(ks) != 1 {
					t.Fatalf("setup %d: error %q wraps %d kinds", i, err, len(ks))
				}
				continue
			}
			checkFuzzClaims(t, c)
			again, err := s.v.Verify(doc, s.at)
			if err != nil || !reflect.DeepEqual(c, again) {
				t.Fatalf("setup %d: accepted, then %v or other claims", i, err)
			}
		}
		if n := tpm.DecodePanics(); n != panics {
			t.Fatalf("go-tpm's decoder panicked (%d)", n-panics)
		}
		if !bytes.Equal(doc, orig) {
			t.Fatal("Verify modified its input")
		}
	})
}

// checkFuzzClaims checks what accepted claims must say, whatever the input.
func checkFuzzClaims(t *testing.T, c *attest.Claims) {
	t.Helper()
	sizes := map[string]int{"SHA1": 20, "SHA256": 32, "SHA384": 48, "SHA512": 64}
	if c.Format != attest.FormatTPM2 || !c.Time.IsZero() || c.TPM == nil || c.PCRs != nil || c.Debug || c.SNP != nil {
		t.Fatalf("claims %+v", c)
	}
	size, ok := sizes[c.TPM.Bank]
	if !ok || len(c.TPM.PCRs) == 0 || len(c.TPM.PCRs) > 24 {
		t.Fatalf("bank %q, %d PCRs", c.TPM.Bank, len(c.TPM.PCRs))
	}
	for i, p := range c.TPM.PCRs {
		if i < 0 || i > 23 || len(p) != size {
			t.Fatalf("PCR%d of %d bytes", i, len(p))
		}
	}
	if n := c.PublicKey.N.BitLen(); n < 2048 || n > 4096 {
		t.Fatalf("enclave key of %d bits", n)
	}
	k, err := x509.ParsePKIXPublicKey(c.PublicKeyDER)
	if err != nil || !c.PublicKey.Equal(k) {
		t.Fatalf("PublicKeyDER is not PublicKey: %v", err)
	}
}

// TestFuzzSeeds checks that each committed seed still meets the check it
// was written for, so that the corpus does not rot into parse errors.
func TestFuzzSeeds(t *testing.T) {
	ec, rs := loadCA(t, ecdsaCADir), loadCA(t, rsaCADir)
	v := newVerifier(t, tpm.Options{Roots: parseRoots(t, ec.RootsPEM(), rs.RootsPEM(), ec.AKPublicKeyPEM(), rs.AKPublicKeyPEM())})
	want := map[string]error{
		"ok": nil, "ok_rsa": nil, "ok_sha384": nil, "ok_pinned": nil, "ok_cert_only": nil, "ok_24_pcrs": nil,
		"sha1_bank":           attest.ErrPolicy,
		"wrong_extradata":     attest.ErrBinding,
		"pcr_not_quoted":      attest.ErrSignature,
		"pcr_extra":           attest.ErrMalformed,
		"wrong_magic":         attest.ErrMalformed,
		"certify":             attest.ErrMalformed,
		"quote_trailing":      attest.ErrMalformed,
		"signature_trailing":  attest.ErrMalformed,
		"signature_sha384":    attest.ErrSignature,
		"signature_tampered":  attest.ErrSignature,
		"untrusted_ca":        attest.ErrChain,
		"critical_san_cn":     attest.ErrChain,
		"ak_public_mismatch":  attest.ErrChain,
		"ak_not_restricted":   attest.ErrChain,
		"enclave_key_rsa1024": attest.ErrKey,
	}
	files, _ := filepath.Glob(filepath.Join(seedDir, "seed-*"))
	if len(files) != len(want) {
		t.Fatalf("%d seeds; want %d", len(files), len(want))
	}
	for _, path := range files {
		name := filepath.Base(path)[len("seed-"):]
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc string
		if _, err := fmt.Sscanf(string(b), "go test fuzz v1\n[]byte(%q)\n", &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w, ok := want[name]
		if !ok {
			t.Fatalf("unexpected seed %s", name)
		}
		c, err := v.Verify([]byte(doc), testTime)
		checkResult(t, c, err, w)
	}
}

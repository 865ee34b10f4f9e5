package snp_test

import (
	"bytes"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzVerify from testdata/ca")

const seedDir = "testdata/fuzz/FuzzVerify"

// fuzzSetups are the verifiers FuzzVerify runs every input through, each
// at the time its seeds verify at.
func fuzzSetups(t testing.TB) []struct {
	name string
	opts snp.Options
	at   time.Time
} {
	roots := rootsOf(t, mainCA(t))
	return []struct {
		name string
		opts snp.Options
		at   time.Time
	}{
		{"test roots", snp.Options{Roots: roots}, testVerifyTime},
		{"test roots, lenient", snp.Options{Roots: roots, AllowDebug: true, MaxVMPL: 3, AllowProvisionalFirmware: true}, testVerifyTime},
		{"AMD roots", snp.Options{}, realTime},
	}
}

// fuzzSeeds are the seeds of testdata/fuzz/FuzzVerify, made with the test
// CA of testdata/ca, and what the first setup (test roots, default policy)
// must say of each.
func fuzzSeeds(t testing.TB) map[string]struct {
	r    snptest.Report
	key  []byte
	want string
} {
	other := bytes.Repeat([]byte{0x42}, 64)
	return map[string]struct {
		r    snptest.Report
		key  []byte
		want string
	}{
		"ok":                {snptest.Report{Nonce: []byte("nonce"), UserData: []byte("user data")}, nil, "ok"},
		"ok_v2":             {snptest.Report{Version: 2}, nil, "ok"},
		"ok_v5":             {snptest.Report{Version: 5, HostData: bytes.Repeat([]byte{1}, 32)}, nil, "ok"},
		"ok_vlek":           {snptest.Report{VLEK: true}, nil, "ok"},
		"ok_masked_chip":    {snptest.Report{MaskChipID: true}, nil, "ok"},
		"ok_no_chain":       {snptest.Report{OmitChain: true}, nil, "ok"},
		"report_1183":       {snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.Report = e.Report[:1183] }}, nil, "ErrMalformed"},
		"report_1185":       {snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.Report = append(e.Report, 0) }}, nil, "ErrMalformed"},
		"unsigned":          {snptest.Report{EditReport: put32(offSignerInfo, 7<<2)}, nil, "ErrMalformed"},
		"bad_signature":     {snptest.Report{EditReport: flip(offSignature, 1)}, nil, "ErrSignature"},
		"tampered_report":   {snptest.Report{EditReport: flip(offMeasure, 1)}, nil, "ErrSignature"},
		"vcek_other_chip":   {snptest.Report{CertChipID: other}, nil, "ErrChain"},
		"vcek_other_tcb":    {snptest.Report{CertTCB: snptest.TCB(1, 0, 1, 1)}, nil, "ErrChain"},
		"vcek_garbage":      {snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.VCEK = []byte("garbage") }}, nil, "ErrChain"},
		"vcek_expired":      {snptest.Report{CertNotAfter: testVerifyTime.Add(-time.Hour)}, nil, "ErrExpired"},
		"key_rsa1024":       {snptest.Report{}, spki(t, &testKeys().rsa1024.PublicKey), "ErrKey"},
		"key_ec":            {snptest.Report{}, ecSPKI(t), "ErrKey"},
		"binding_other_key": {snptest.Report{ReportData: bindingOf(spki(t, fakeRSA(2048, 3)))}, nil, "ErrBinding"},
		"nonce_swapped":     {snptest.Report{Nonce: []byte("a"), EditEnvelope: func(e *envelope.Envelope) { e.Nonce = []byte("b") }}, nil, "ErrBinding"},
		"debug":             {snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug}, nil, "ErrPolicy"},
		"vmpl1":             {snptest.Report{VMPL: 1}, nil, "ErrPolicy"},
		"provisional":       {snptest.Report{CommittedTCB: snptest.TCB(3, 0, 7, 115)}, nil, "ErrPolicy"},
		"migrate_ma":        {snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyMigrateMA}, nil, "ErrPolicy"},
	}
}

// TestFuzzSeeds checks that each seed in testdata/fuzz/FuzzVerify is what
// its name says, and with -update-seeds writes them anew.
func TestFuzzSeeds(t *testing.T) {
	ca := mainCA(t)
	seeds := fuzzSeeds(t)
	names := make([]string, 0, len(seeds))
	for name := range seeds {
		names = append(names, name)
	}
	sort.Strings(names)
	if *updateSeeds {
		for _, name := range names {
			s := seeds[name]
			key := s.key
			if key == nil {
				key = rsaSPKI(t)
			}
			e, err := ca.Envelope(key, s.r)
			if err != nil {
				t.Fatal(err)
			}
			b, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			writeSeed(t, "snp_"+name, b)
		}
		writeSeed(t, "snp_real_milan", readVector(t, realEnvelopeKey))
		good := readSeed(t, "snp_ok")
		writeSeed(t, "snp_trailing_byte", append(bytes.Clone(good), 0))
		writeSeed(t, "snp_unknown_field", append([]byte{good[0] + 1}, append(bytes.Clone(good[1:]), 0x63, 'x', 'y', 'z', 0x01)...))
	}
	v := newVerifier(t, fuzzSetups(t)[0].opts)
	for _, name := range names {
		c, err := v.Verify(readSeed(t, "snp_"+name), testVerifyTime)
		checkResult(t, c, err, kindNames[seeds[name].want])
	}
	for name, want := range map[string]error{"snp_trailing_byte": attest.ErrMalformed, "snp_unknown_field": attest.ErrMalformed, "snp_real_milan": attest.ErrChain} {
		c, err := v.Verify(readSeed(t, name), testVerifyTime)
		checkResult(t, c, err, want)
	}
	c, err := newVerifier(t, snp.Options{}).Verify(readSeed(t, "snp_real_milan"), realTime)
	checkResult(t, c, err, attest.ErrBinding)
}

func writeSeed(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
	if err := os.WriteFile(filepath.Join(seedDir, "seed-"+name), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readSeed(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(seedDir, "seed-"+name))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := strings.CutPrefix(string(b), "go test fuzz v1\n[]byte(")
	if s, ok = strings.CutSuffix(s, ")\n"); !ok {
		t.Fatalf("seed %s is not one []byte", name)
	}
	u, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("seed %s: %v", name, err)
	}
	return []byte(u)
}

// FuzzVerify feeds evidence to three verifiers (the test CA's roots with
// the default and a lenient policy, at the test time; AMD's roots at the
// real report's time), so that mutations reach every stage. Properties: no
// panic; claims nil exactly when the error is not; every error wraps
// exactly one kind; accepted claims are consistent with the policy, and the
// same again; the input is not modified. Seeds: testdata/fuzz/FuzzVerify
// (TestFuzzSeeds -update-seeds writes them) and the real envelope.
func FuzzVerify(f *testing.F) {
	f.Add(readVector(f, realEnvelopeKey))
	setups := fuzzSetups(f)
	verifiers := make([]*snp.Verifier, len(setups))
	for i, s := range setups {
		verifiers[i] = newVerifier(f, s.opts)
	}
	f.Fuzz(func(t *testing.T, ev []byte) {
		orig := bytes.Clone(ev)
		for i, s := range setups {
			c, err := verifiers[i].Verify(ev, s.at)
			if (c == nil) == (err == nil) {
				t.Fatalf("%s: claims %v with error %v", s.name, c != nil, err)
			}
			if err != nil {
				if ks := snp.KindsOf(err); len(ks) != 1 {
					t.Fatalf("%s: error %q wraps %d kinds", s.name, err, len(ks))
				}
				continue
			}
			checkClaims(t, c, s.opts)
			again, err := verifiers[i].Verify(ev, s.at)
			if err != nil || !reflect.DeepEqual(c, again) {
				t.Fatalf("%s: accepted, then %v or other claims", s.name, err)
			}
		}
		if !bytes.Equal(ev, orig) {
			t.Fatal("Verify modified its input")
		}
	})
}

// checkClaims checks what accepted claims must say, whatever the evidence.
func checkClaims(t *testing.T, c *attest.Claims, o snp.Options) {
	t.Helper()
	s := c.SNP
	if c.Format != attest.FormatSEVSNP || s == nil || !c.Time.IsZero() || c.PCRs != nil || c.TPM != nil {
		t.Fatalf("claims %+v", c)
	}
	if n := c.PublicKey.N.BitLen(); n < 2048 || n > 4096 {
		t.Fatalf("key of %d bits", n)
	}
	if k, err := x509.ParsePKIXPublicKey(c.PublicKeyDER); err != nil || !c.PublicKey.Equal(k) {
		t.Fatalf("PublicKeyDER is not PublicKey: %v", err)
	}
	if len(s.Measurement) != 48 || len(s.HostData) != 32 || len(s.ReportID) != 32 || len(s.ChipID) != 64 {
		t.Fatal(fmt.Sprintf("field sizes %d %d %d %d", len(s.Measurement), len(s.HostData), len(s.ReportID), len(s.ChipID)))
	}
	if (s.Signer != "VCEK" && s.Signer != "VLEK") || s.Product != "Milan" {
		t.Fatalf("signer %q, product %q", s.Signer, s.Product)
	}
	if c.Debug != (s.Policy&snptest.PolicyDebug != 0) || c.Debug && !o.AllowDebug || s.Policy&snptest.PolicyMigrateMA != 0 {
		t.Fatalf("debug %v with policy %#x", c.Debug, s.Policy)
	}
	if s.VMPL > o.MaxVMPL {
		t.Fatalf("VMPL %d", s.VMPL)
	}
}

// FuzzParseRoots: ParseRoots never panics, and returns roots with at least
// one pair or an error.
func FuzzParseRoots(f *testing.F) {
	f.Add(amdVCEKChains["Milan"])
	f.Add(mainCA(f).RootsPEM())
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := snp.ParseRoots(b)
		if (r == nil) == (err == nil) || r != nil && len(snp.Pairs(r)) == 0 {
			t.Fatalf("roots %v, error %v", r, err)
		}
	})
}

package snp_test

import (
	"bytes"
	"crypto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
)

func TestClaims(t *testing.T) {
	ca := mainCA(t)
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca), MaxVMPL: 1})
	measurement := bytes.Repeat([]byte{0xab}, 48)
	hostData := bytes.Repeat([]byte{0xcd}, 32)
	reportID := bytes.Repeat([]byte{0xef}, 32)
	chip := bytes.Repeat([]byte{0x17}, 64)
	r := snptest.Report{
		Measurement: measurement, HostData: hostData, ReportID: reportID, ChipID: chip, VMPL: 1,
		Nonce: []byte("nonce"), UserData: []byte("user data"), TCB: snptest.TCB(4, 1, 22, 213),
	}
	e, err := ca.Envelope(rsaSPKI(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Report) != 1184 || !bytes.Equal(e.Report[0x50:0x90], e.Binding(crypto.SHA512)) {
		t.Fatal("snptest's report is not 1184 bytes with REPORT_DATA = Binding(SHA-512)")
	}
	c, err := snp.VerifyEnvelope(v, e, testVerifyTime)
	checkResult(t, c, err, nil)
	s := c.SNP
	if c.Format != attest.FormatSEVSNP || !c.Time.IsZero() || c.Debug || c.PCRs != nil || c.TPM != nil || c.ModuleID != "" {
		t.Errorf("format %s, time %s, debug %v, other formats' claims set", c.Format, c.Time, c.Debug)
	}
	if !bytes.Equal(c.PublicKeyDER, rsaSPKI(t)) || !c.PublicKey.Equal(&testKeys().rsa2048.PublicKey) {
		t.Error("public key")
	}
	if string(c.Nonce) != "nonce" || string(c.UserData) != "user data" {
		t.Errorf("nonce %q, user data %q", c.Nonce, c.UserData)
	}
	if !bytes.Equal(s.Measurement, measurement) || !bytes.Equal(s.HostData, hostData) || !bytes.Equal(s.ReportID, reportID) || !bytes.Equal(s.ChipID, chip) {
		t.Errorf("measurement %x, host data %x, report id %x, chip id %x", s.Measurement, s.HostData, s.ReportID, s.ChipID)
	}
	if s.Policy != snptest.DefaultPolicy || s.VMPL != 1 || s.ReportedTCB != snptest.TCB(4, 1, 22, 213) || s.Signer != "VCEK" || s.Product != "Milan" {
		t.Errorf("policy %#x, vmpl %d, tcb %#x, signer %s, product %s", s.Policy, s.VMPL, s.ReportedTCB, s.Signer, s.Product)
	}
	m := c.Measurements()
	if m[attest.AttestationPrefix+"Format"] != "sev-snp" || m[attest.AttestationPrefix+"SnpMeasurement"] != strings.Repeat("ab", 48) || m[attest.AttestationPrefix+"SnpHostData"] != strings.Repeat("cd", 32) || len(m) != 3 {
		t.Errorf("measurements %v", m)
	}

	// The claims share no memory with the envelope.
	for _, b := range [][]byte{e.PublicKey, e.Nonce, e.UserData, e.Report} {
		for i := range b {
			b[i] ^= 0xff
		}
	}
	if !bytes.Equal(c.PublicKeyDER, rsaSPKI(t)) || string(c.Nonce) != "nonce" || string(c.UserData) != "user data" || !bytes.Equal(s.Measurement, measurement) {
		t.Error("claims changed with the envelope")
	}
}

func TestClaimsDebugAndVLEK(t *testing.T) {
	ca := mainCA(t)
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca), AllowDebug: true})
	c, err := v.Verify(evidence(t, ca, snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug, VLEK: true}), testVerifyTime)
	checkResult(t, c, err, nil)
	if !c.Debug || c.SNP.Signer != "VLEK" || c.SNP.Policy&snptest.PolicyDebug == 0 || !bytes.Equal(c.SNP.ChipID, make([]byte, 64)) {
		t.Errorf("debug %v, signer %s, policy %#x, chip id %x", c.Debug, c.SNP.Signer, c.SNP.Policy, c.SNP.ChipID)
	}
	// The same evidence, refused by the default policy.
	c, err = newVerifier(t, snp.Options{Roots: rootsOf(t, ca)}).Verify(evidence(t, ca, snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug}), testVerifyTime)
	checkResult(t, c, err, attest.ErrPolicy)
}

// TestPolicyReportsEverything: one refusal names every unmet condition.
func TestPolicyReportsEverything(t *testing.T) {
	ca := mainCA(t)
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca), MinTCB: snptest.TCB(9, 0, 0, 0)})
	c, err := v.Verify(evidence(t, ca, snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug | snptest.PolicyMigrateMA, VMPL: 2}), testVerifyTime)
	checkResult(t, c, err, attest.ErrPolicy)
	for _, want := range []string{"debug", "migration agent", "VMPL 2", "minimum TCB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestNewOptions(t *testing.T) {
	for name, o := range map[string]snp.Options{
		"max vmpl 4":  {MaxVMPL: 4},
		"empty roots": {Roots: &snp.Roots{}},
	} {
		if _, err := snp.New(o); err == nil || !strings.HasPrefix(err.Error(), "snp: ") {
			t.Errorf("%s: error %v", name, err)
		}
	}
	// The zero Options: AMD's roots, VMPL0, no debug.
	v := newVerifier(t, snp.Options{})
	c, err := v.Verify(evidence(t, mainCA(t), snptest.Report{}), testVerifyTime)
	checkResult(t, c, err, attest.ErrChain)
}

// TestConcurrent verifies from many goroutines at once (run with -race).
func TestConcurrent(t *testing.T) {
	ca := mainCA(t)
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca)})
	good := evidence(t, ca, snptest.Report{Nonce: []byte("n")})
	bad := evidence(t, ca, snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 4 {
				if c, err := v.Verify(good, testVerifyTime); err != nil || c == nil {
					t.Errorf("goroutine %d: %v", i, err)
				}
				if c, err := v.Verify(bad, testVerifyTime); err == nil || c != nil {
					t.Errorf("goroutine %d: debug evidence accepted", i)
				}
				// snptest is safe for concurrent use too.
				if _, err := ca.Evidence(rsaSPKI(t), snptest.Report{ChipID: bytes.Repeat([]byte{byte(i)}, 64)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// TestVerifyAt: the time is the caller's, inclusive at both ends of the
// certificate's validity.
func TestVerifyAt(t *testing.T) {
	ca := mainCA(t)
	from, until := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := evidence(t, ca, snptest.Report{CertNotBefore: from, CertNotAfter: until})
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca)})
	for at, want := range map[time.Time]error{
		from:                       nil,
		until:                      nil,
		from.Add(-time.Nanosecond): attest.ErrExpired,
		until.Add(time.Nanosecond): attest.ErrExpired,
		{}:                         attest.ErrExpired,
	} {
		c, err := v.Verify(ev, at)
		checkResult(t, c, err, want)
	}
}

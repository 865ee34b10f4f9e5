package snp_test

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/snp"
)

// The real report's VCEK is valid from 2022 to 2029, so it verifies only
// at a time given to Verify, as go-sev-guest verifies it: at 2022-09-24.
// It cannot bind a key of ours, so it is verified up to the binding: the
// full Verify fails with ErrBinding precisely, which it reaches only once
// the report's structure, the VCEK's chain to AMD's Milan roots and the
// report's signature have verified.

func realEnvelope(t testing.TB) *envelope.Envelope {
	t.Helper()
	e, err := envelope.Decode(readVector(t, realEnvelopeKey))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRealEnvelopeIsTheRealFiles: the envelope in testvectors/snp carries
// the real report, VCEK, ASK and ARK byte for byte (and a key of ours).
func TestRealEnvelopeIsTheRealFiles(t *testing.T) {
	e := realEnvelope(t)
	ask, rest := pem.Decode(readVector(t, realASKARKFile))
	ark, _ := pem.Decode(rest)
	if !bytes.Equal(e.Report, readVector(t, realReportFile)) || !bytes.Equal(e.VCEK, readVector(t, realVCEKFile)) ||
		!bytes.Equal(e.ASK, ask.Bytes) || !bytes.Equal(e.ARK, ark.Bytes) || e.VLEK != nil || e.Nonce != nil || e.UserData != nil {
		t.Fatal("the real envelope is not the real report, VCEK, ASK and ARK")
	}
	if k, _, err := attest.ParseBoundKey(e.PublicKey); err != nil || k == nil {
		t.Fatalf("the real envelope's key is not an RSA key ParseBoundKey takes: %v", err)
	}
}

func TestRealReport(t *testing.T) {
	v := newVerifier(t, snp.Options{})
	e := realEnvelope(t)
	r, product, err := snp.VerifyReport(v, e, realTime)
	if err != nil {
		t.Fatal(err)
	}
	if product != "Milan" || r.GetVersion() != 2 || r.GetVmpl() != 0 || r.GetPolicy() != 0xb0000 || r.GetReportedTcb() != 0x4405000000000002 {
		t.Errorf("product %s, version %d, VMPL %d, policy %#x, TCB %#x", product, r.GetVersion(), r.GetVmpl(), r.GetPolicy(), r.GetReportedTcb())
	}
	if m := hex.EncodeToString(r.GetMeasurement()); !strings.HasPrefix(m, "b07af9620f3b839b") {
		t.Errorf("measurement %s", m)
	}
	if c := hex.EncodeToString(r.GetChipId()); !strings.HasPrefix(c, "3ac3fe21e13fb099") {
		t.Errorf("chip id %s", c)
	}
	if !bytes.HasPrefix(r.GetReportData(), []byte{1, 2, 3, 4, 5, 0}) {
		t.Errorf("report data %x", r.GetReportData())
	}

	// The whole verification gets as far as the binding, and no further.
	c, err := v.Verify(readVector(t, realEnvelopeKey), realTime)
	checkResult(t, c, err, attest.ErrBinding)
	c, err = snp.VerifyEnvelope(v, e, realTime)
	checkResult(t, c, err, attest.ErrBinding)

	// Its guest allows debugging (policy bit 19): had it bound our key,
	// the default policy would refuse it, and AllowDebug admit it.
	err = snp.CheckPolicy(v, e, realTime)
	checkResult(t, nil, err, attest.ErrPolicy)
	if !strings.Contains(err.Error(), "debug") {
		t.Errorf("policy error %q does not say debug", err)
	}
	if err := snp.CheckPolicy(newVerifier(t, snp.Options{AllowDebug: true}), e, realTime); err != nil {
		t.Errorf("with AllowDebug: %v", err)
	}
}

func TestRealReportValidity(t *testing.T) {
	v := newVerifier(t, snp.Options{})
	ev := readVector(t, realEnvelopeKey)
	for _, tc := range []struct {
		at   time.Time
		want error
		text string // what an ErrExpired says
	}{
		{realVCEKIssued, attest.ErrBinding, ""},
		{realVCEKExpiry, attest.ErrBinding, ""},
		{realVCEKIssued.Add(-time.Second), attest.ErrExpired, "VCEK certificate is not valid before 2022-09-24T00:55:28Z"},
		{realVCEKExpiry.Add(time.Second), attest.ErrExpired, "VCEK certificate expired at 2029-09-24T00:55:28Z"},
		{time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC), attest.ErrExpired, "VCEK certificate expired at 2029-09-24T00:55:28Z"}, // the Milan ARK too
		{time.Time{}, attest.ErrExpired, "VCEK certificate: no verification time given"},                                     // the zero time is refused, not replaced by the clock
	} {
		c, err := v.Verify(ev, tc.at)
		checkResult(t, c, err, tc.want)
		if tc.want == attest.ErrExpired && !strings.Contains(err.Error(), tc.text) {
			t.Errorf("at %s: %v; want it to say %q", tc.at, err, tc.text)
		}
	}
}

// TestRealReportFlippedBits flips one bit in each signed field of the real
// report, and in its signature: each is refused as a bad signature.
func TestRealReportFlippedBits(t *testing.T) {
	v := newVerifier(t, snp.Options{})
	for _, tc := range []struct {
		name   string
		offset int
	}{
		{"guest svn", 0x04},
		{"vmpl", 0x30},
		{"current tcb", 0x38},
		{"report data", 0x50},
		{"measurement", 0x90},
		{"host data", 0xc0},
		{"report id", 0x140},
		{"reported tcb", 0x187},
		{"chip id", 0x1a0},
		{"committed tcb", 0x1e0},
		{"launch tcb", 0x1f0},
		{"current mitigation vector", 0x200},
		{"signature r", 0x2a0},
		{"signature s", 0x2e8 + 47},
	} {
		for _, bit := range []byte{0x01, 0x80} {
			e := realEnvelope(t)
			e.Report[tc.offset] ^= bit
			_, _, err := snp.VerifyReport(v, e, realTime)
			checkResult(t, nil, err, attest.ErrSignature)
		}
	}
}

// TestRealReportEveryByte changes each byte of the real report in turn
// (every fourth under the race detector, every sixteenth with -short):
// every change is refused, without a panic.
func TestRealReportEveryByte(t *testing.T) {
	v := newVerifier(t, snp.Options{})
	kinds := map[error]int{}
	step := 1
	if raceEnabled {
		step = 4
	}
	if testing.Short() {
		step = 16
	}
	for i := 0; i < 1184; i += step {
		e := realEnvelope(t)
		e.Report[i] ^= 0xff
		c, err := snp.VerifyEnvelope(v, e, realTime)
		if err == nil {
			t.Fatalf("byte %d changed: still verifies", i)
		}
		checkResult(t, c, err, snp.KindsOf(err)[0])
		kinds[snp.KindsOf(err)[0]]++
	}
	t.Logf("changes refused: %v", kinds)
	if kinds[attest.ErrSignature] == 0 || kinds[attest.ErrMalformed] == 0 || kinds[attest.ErrBinding] != 0 {
		t.Errorf("kinds %v: want signature and parse failures, and no binding failure", kinds)
	}
}

func TestRealReportOtherRoots(t *testing.T) {
	e := realEnvelope(t)
	for name, roots := range map[string]*snp.Roots{
		"test CA":           rootsOf(t, mainCA(t)),
		"genoa and turin":   amdRoots(t, "Genoa", "Turin"),
		"milan VLEK (ASVK)": parseRoots(t, snpVLEKRoots(t, "Milan")),
	} {
		c, err := snp.VerifyEnvelope(newVerifier(t, snp.Options{Roots: roots}), e, realTime)
		checkResult(t, c, err, attest.ErrChain)
		t.Logf("%s: %v", name, err)
	}
	// The envelope's own ASK and ARK are AMD's, and still not trusted.
	c, err := snp.VerifyEnvelope(newVerifier(t, snp.Options{Roots: rootsOf(t, mainCA(t))}), e, realTime)
	checkResult(t, c, err, attest.ErrChain)
}

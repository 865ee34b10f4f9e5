package snp_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/fxamacker/cbor/v2"
)

// Offsets in an ATTESTATION_REPORT (SEV-SNP Firmware ABI, table 23).
const (
	offVersion    = 0x00
	offPolicy     = 0x08
	offVMPL       = 0x30
	offSigAlgo    = 0x34
	offSignerInfo = 0x48
	offReportData = 0x50
	offMeasure    = 0x90
	offCPUID      = 0x188
	offSignature  = 0x2a0
)

func flip(off int, bit byte) func([]byte) { return func(b []byte) { b[off] ^= bit } }

func put32(off int, v uint32) func([]byte) {
	return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
}

func put64(off int, v uint64) func([]byte) {
	return func(b []byte) { binary.LittleEndian.PutUint64(b[off:], v) }
}

// fakeRSA is an RSA public key of exactly bits bits that nobody can use.
func fakeRSA(bits, e int) any {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(12345))
	return &rsa.PublicKey{N: n, E: e}
}

// bindingOf is the REPORT_DATA that binds key, with no nonce or user data.
func bindingOf(key []byte) []byte {
	return (&envelope.Envelope{Format: attest.FormatSEVSNP, PublicKey: key}).Binding(crypto.SHA512)
}

// TestHostileEvidence signs one broken envelope per check with the test CA
// and asserts the kind of its refusal, and that claims are nil.
func TestHostileEvidence(t *testing.T) {
	ca, other := mainCA(t), otherCA(t)
	k := testKeys()
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	otherChip := bytes.Repeat([]byte{0x42}, 64)
	otherKey := spki(t, fakeRSA(2048, 65537))
	vcekOfOtherChip, err := ca.VCEK(otherChip, snptest.DefaultTCB)
	if err != nil {
		t.Fatal(err)
	}
	otherCAsVCEK, err := other.VCEK(snptest.DefaultChipID, snptest.DefaultTCB)
	if err != nil {
		t.Fatal(err)
	}
	defaults := snp.Options{Roots: rootsOf(t, ca)}
	lenient := snp.Options{Roots: rootsOf(t, ca), AllowDebug: true, MaxVMPL: 3, AllowProvisionalFirmware: true}
	vcekOnly := snp.Options{Roots: parseRoots(t, ca.RootsPEM()[:pemLen(ca.RootsPEM(), 2)])} // the ASK pair only

	type tc struct {
		name string
		r    snptest.Report
		key  []byte       // nil: the RSA-2048 test key
		opts *snp.Options // nil: defaults
		at   time.Time    // zero: testVerifyTime
		want error        // nil: verifies
		ca   *snptest.CA  // nil: ca
	}
	for _, tc := range []tc{
		{name: "genuine"},
		{name: "version 2", r: snptest.Report{Version: 2}},
		{name: "version 5", r: snptest.Report{Version: 5}},
		{name: "nonce and user data", r: snptest.Report{Nonce: []byte("nonce"), UserData: []byte("user data")}},
		{name: "nonce only", r: snptest.Report{Nonce: []byte("n")}},
		{name: "1024-byte user data", r: snptest.Report{UserData: make([]byte, 1024)}},
		{name: "vlek", r: snptest.Report{VLEK: true}},
		{name: "masked chip id", r: snptest.Report{MaskChipID: true}},
		{name: "smt not allowed", r: snptest.Report{Policy: 1 << 17}},
		{name: "abi 1.55 required", r: snptest.Report{Policy: snptest.DefaultPolicy | 1<<8 | 55}},
		{name: "single socket", r: snptest.Report{Policy: snptest.DefaultPolicy | 1<<20}},
		{name: "rsa-4096 key", key: spki(t, fakeRSA(4096, 65537))},
		{name: "no ask and ark", r: snptest.Report{OmitChain: true}},
		{name: "ask and ark of another CA (never read)", r: snptest.Report{Chain: other}},
		{name: "vcek valid from now", r: snptest.Report{CertNotBefore: testVerifyTime}},
		{name: "vcek valid until now", r: snptest.Report{CertNotAfter: testVerifyTime}},
		{name: "debug, allowed", r: snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug}, opts: &lenient},
		{name: "vmpl 3, allowed", r: snptest.Report{VMPL: 3}, opts: &lenient},
		{name: "provisional firmware, allowed", r: snptest.Report{CommittedTCB: snptest.TCB(3, 0, 7, 115)}, opts: &lenient},
		{name: "min tcb met", opts: &snp.Options{Roots: defaults.Roots, MinTCB: snptest.DefaultTCB}},

		{name: "report of 1183 bytes", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.Report = e.Report[:1183] }}, want: attest.ErrMalformed},
		{name: "report of 1185 bytes", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.Report = append(e.Report, 0) }}, want: attest.ErrMalformed},
		{name: "version 1", r: snptest.Report{EditReport: put32(offVersion, 1)}, want: attest.ErrMalformed},
		{name: "version 6", r: snptest.Report{EditReport: put32(offVersion, 6)}, want: attest.ErrMalformed},
		{name: "policy without reserved bit 17", r: snptest.Report{EditReport: put64(offPolicy, 1<<16)}, want: attest.ErrMalformed},
		{name: "policy bit 63", r: snptest.Report{EditReport: put64(offPolicy, snptest.DefaultPolicy|1<<63)}, want: attest.ErrMalformed},
		{name: "signature algorithm 2", r: snptest.Report{EditReport: put32(offSigAlgo, 2)}, want: attest.ErrMalformed},
		{name: "unsigned (signing key none)", r: snptest.Report{EditReport: put32(offSignerInfo, 7<<2)}, want: attest.ErrMalformed},
		{name: "reserved signing key 2", r: snptest.Report{EditReport: put32(offSignerInfo, 2<<2)}, want: attest.ErrMalformed},
		{name: "reserved byte after cpuid", r: snptest.Report{EditReport: flip(offCPUID+3, 1)}, want: attest.ErrMalformed},
		{name: "cpuid bytes in a version 2 report", r: snptest.Report{Version: 2, EditReport: flip(offCPUID, 1)}, want: attest.ErrMalformed},
		{name: "stepping that does not re-encode", r: snptest.Report{EditReport: func(b []byte) { b[offCPUID+2] = 0x11 }}, want: attest.ErrMalformed},
		{name: "bytes after the signature's s", r: snptest.Report{EditReport: flip(offSignature+0x90, 1)}, want: attest.ErrMalformed},
		{name: "vlek-signed report with a vcek", r: snptest.Report{VLEK: true, EditEnvelope: func(e *envelope.Envelope) { e.VCEK, e.VLEK = e.VLEK, nil }}, want: attest.ErrMalformed},
		{name: "vcek-signed report with a vlek", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.VCEK, e.VLEK = nil, e.VCEK }}, want: attest.ErrMalformed},
		{name: "tpm2 format", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.Format = attest.FormatTPM2 }}, want: attest.ErrMalformed},

		{name: "tampered signature", r: snptest.Report{EditReport: flip(offSignature, 1)}, want: attest.ErrSignature},
		{name: "signature r out of range", r: snptest.Report{EditReport: flip(offSignature+0x47, 1)}, want: attest.ErrSignature},
		{name: "zero signature", r: snptest.Report{EditReport: func(b []byte) { clear(b[offSignature:]) }}, want: attest.ErrSignature},
		{name: "tampered measurement", r: snptest.Report{EditReport: flip(offMeasure, 0x80)}, want: attest.ErrSignature},
		{name: "vmpl lowered after signing", r: snptest.Report{VMPL: 2, EditReport: put32(offVMPL, 0)}, want: attest.ErrSignature},
		{name: "debug bit cleared after signing", r: snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug, EditReport: put64(offPolicy, snptest.DefaultPolicy)}, want: attest.ErrSignature},
		{name: "report data rewritten to the binding", r: snptest.Report{ReportData: bindingOf(otherKey), EditReport: func(b []byte) { copy(b[offReportData:], bindingOf(rsaSPKI(t))) }}, want: attest.ErrSignature},
		{name: "vcek of another chip in the envelope", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.VCEK = vcekOfOtherChip.Raw }}, want: attest.ErrSignature},

		{name: "vcek issued for another chip", r: snptest.Report{CertChipID: otherChip}, want: attest.ErrChain},
		{name: "vcek issued for another tcb", r: snptest.Report{CertTCB: snptest.TCB(3, 0, 9, 115)}, want: attest.ErrChain},
		{name: "vlek issued for another tcb", r: snptest.Report{VLEK: true, CertTCB: snptest.TCB(3, 0, 9, 115)}, want: attest.ErrChain},
		{name: "signed by another CA", ca: other, want: attest.ErrChain},
		{name: "signed by another CA, with its ask and ark", ca: other, r: snptest.Report{Chain: other}, want: attest.ErrChain},
		{name: "another CA's vcek for the same chip", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.VCEK = otherCAsVCEK.Raw }}, want: attest.ErrSignature},
		{name: "vlek without asvk roots", r: snptest.Report{VLEK: true}, opts: &vcekOnly, want: attest.ErrChain},
		{name: "vcek not DER", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.VCEK = []byte("not a certificate") }}, want: attest.ErrChain},
		{name: "vcek with a trailing byte", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.VCEK = append(e.VCEK, 0) }}, want: attest.ErrChain},
		{name: "vcek in PEM", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) {
			e.VCEK = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.VCEK})
		}}, want: attest.ErrChain},
		{name: "ask in place of the vcek", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.VCEK = ca.ASK.Raw }}, want: attest.ErrChain},

		{name: "expired vcek", r: snptest.Report{CertNotAfter: testVerifyTime.Add(-time.Second)}, want: attest.ErrExpired},
		{name: "vcek not yet valid", r: snptest.Report{CertNotBefore: testVerifyTime.Add(time.Second)}, want: attest.ErrExpired},
		{name: "roots expired", at: snptest.NotAfter.Add(time.Second), r: snptest.Report{CertNotAfter: snptest.NotAfter.Add(time.Hour)}, want: attest.ErrExpired},
		{name: "1970", at: time.Unix(0, 0).UTC(), want: attest.ErrExpired},

		{name: "rsa-1024 key", key: spki(t, &k.rsa1024.PublicKey), want: attest.ErrKey},
		{name: "ec key", key: ecSPKI(t), want: attest.ErrKey},
		{name: "x25519 key", key: spki(t, x25519.PublicKey()), want: attest.ErrKey},
		{name: "rsa-8192 key", key: spki(t, fakeRSA(8192, 65537)), want: attest.ErrKey},
		{name: "rsa exponent even", key: spki(t, fakeRSA(2048, 65536)), want: attest.ErrKey},
		{name: "garbage key", key: bytes.Repeat([]byte{1}, 300), want: attest.ErrKey},
		{name: "key with trailing bytes", key: append(rsaSPKI(t), 0), want: attest.ErrKey},

		{name: "report data of another key", r: snptest.Report{ReportData: bindingOf(otherKey)}, want: attest.ErrBinding},
		{name: "report data zero", r: snptest.Report{ReportData: make([]byte, 64)}, want: attest.ErrBinding},
		{name: "public key swapped", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.PublicKey = otherKey }}, want: attest.ErrBinding},
		{name: "nonce swapped", r: snptest.Report{Nonce: []byte("nonce"), EditEnvelope: func(e *envelope.Envelope) { e.Nonce = []byte("other") }}, want: attest.ErrBinding},
		{name: "user data swapped", r: snptest.Report{UserData: []byte("data"), EditEnvelope: func(e *envelope.Envelope) { e.UserData = []byte("atad") }}, want: attest.ErrBinding},
		{name: "nonce dropped", r: snptest.Report{Nonce: []byte("nonce"), EditEnvelope: func(e *envelope.Envelope) { e.Nonce = nil }}, want: attest.ErrBinding},
		{name: "nonce added", r: snptest.Report{EditEnvelope: func(e *envelope.Envelope) { e.Nonce = []byte("nonce") }}, want: attest.ErrBinding},
		{name: "nonce moved to user data", r: snptest.Report{Nonce: []byte("same"), EditEnvelope: func(e *envelope.Envelope) { e.Nonce, e.UserData = nil, e.Nonce }}, want: attest.ErrBinding},
		{name: "nonce and user data exchanged", r: snptest.Report{Nonce: []byte("a"), UserData: []byte("b"), EditEnvelope: func(e *envelope.Envelope) { e.Nonce, e.UserData = e.UserData, e.Nonce }}, want: attest.ErrBinding},
		{name: "debug report that binds nothing", r: snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug, ReportData: make([]byte, 64)}, want: attest.ErrBinding},

		{name: "debug", r: snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug}, want: attest.ErrPolicy},
		{name: "migration agent", r: snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyMigrateMA}, opts: &lenient, want: attest.ErrPolicy},
		{name: "cxl allowed", r: snptest.Report{Policy: snptest.DefaultPolicy | 1<<21}, opts: &lenient, want: attest.ErrPolicy},
		{name: "vmpl 1", r: snptest.Report{VMPL: 1}, want: attest.ErrPolicy},
		{name: "vmpl 3 above max 2", r: snptest.Report{VMPL: 3}, opts: &snp.Options{Roots: defaults.Roots, MaxVMPL: 2}, want: attest.ErrPolicy},
		{name: "vmpl 4", r: snptest.Report{VMPL: 4}, opts: &lenient, want: attest.ErrPolicy},
		{name: "provisional firmware", r: snptest.Report{CommittedTCB: snptest.TCB(3, 0, 7, 115)}, want: attest.ErrPolicy},
		{name: "below min tcb", opts: &snp.Options{Roots: defaults.Roots, MinTCB: snptest.TCB(3, 0, 9, 0)}, want: attest.ErrPolicy},
		{name: "committed tcb above current", r: snptest.Report{CommittedTCB: snptest.TCB(3, 0, 9, 115)}, opts: &lenient, want: attest.ErrPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signer := ca
			if tc.ca != nil {
				signer = tc.ca
			}
			key := tc.key
			if key == nil {
				key = rsaSPKI(t)
			}
			opts := defaults
			if tc.opts != nil {
				opts = *tc.opts
			}
			at := tc.at
			if at.IsZero() {
				at = testVerifyTime
			}
			e, err := signer.Envelope(key, tc.r)
			if err != nil {
				t.Fatal(err)
			}
			orig := cloneEnvelope(e)
			v := newVerifier(t, opts)
			c, err := snp.VerifyEnvelope(v, e, at)
			checkResult(t, c, err, tc.want)
			if err != nil {
				t.Log(err)
			}
			if !envelopesEqual(e, orig) {
				t.Fatal("VerifyEnvelope modified the envelope")
			}
			// Verify, on the encoded envelope, agrees whenever it encodes.
			if b, merr := e.Marshal(); merr == nil {
				c2, err2 := v.Verify(b, at)
				checkResult(t, c2, err2, tc.want)
			}
		})
	}
}

// TestHostileBytes feeds Verify encodings that envelope.Decode refuses.
func TestHostileBytes(t *testing.T) {
	ca := mainCA(t)
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca)})
	good := evidence(t, ca, snptest.Report{Nonce: []byte("n")})
	if c, err := v.Verify(good, testVerifyTime); err != nil {
		t.Fatal(err)
	} else if c == nil {
		t.Fatal("no claims")
	}
	withField := func(key string, value any) []byte {
		var m map[string]any
		if err := cbor.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		m[key] = value
		b, err := cbor.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, ev := range map[string][]byte{
		"nil":                    nil,
		"empty":                  {},
		"garbage":                []byte("garbage, not CBOR"),
		"trailing byte":          append(bytes.Clone(good), 0),
		"truncated":              good[:len(good)-1],
		"unknown field":          withField("quote_extra", []byte{1}),
		"tpm field":              withField("quote", []byte{1}),
		"vlek beside vcek":       withField("vlek", []byte{1}),
		"format as bytes":        withField("format", []byte("sev-snp")),
		"report as text":         withField("report", "report"),
		"empty nonce":            withField("nonce", []byte{}),
		"one byte over 16 KiB":   append(bytes.Clone(good), make([]byte, attest.MaxEvidence+1-len(good))...),
		"a cose document":        {0x84, 0x40, 0xa0, 0x40, 0x40},
		"array of the envelope":  append([]byte{0x81}, good...),
		"indefinite-length map":  append(append([]byte{0xbf}, good[1:]...), 0xff),
		"tagged envelope":        append([]byte{0xd8, 0x18}, good...),
		"report of 1186 bytes":   withField("report", make([]byte, 1186)),
		"report of 1184 zeros":   withField("report", make([]byte, 1184)),
		"report of 1184 of 0xff": withField("report", bytes.Repeat([]byte{0xff}, 1184)),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := v.Verify(ev, testVerifyTime)
			checkResult(t, c, err, attest.ErrMalformed)
			if len(err.Error()) > 400 {
				t.Errorf("error of %d bytes: %s", len(err.Error()), err)
			}
		})
	}
	c, err := snp.VerifyEnvelope(v, nil, testVerifyTime)
	checkResult(t, c, err, attest.ErrMalformed)
}

// TestProducts: each product line's evidence verifies with its own roots
// only, and says which.
func TestProducts(t *testing.T) {
	milan := mainCA(t)
	for _, product := range []string{"Genoa", "Turin"} {
		ca := testCA(t, product, product)
		for _, r := range []snptest.Report{{}, {Version: 2}, {VLEK: true}} {
			ev := evidence(t, ca, r)
			c, err := newVerifier(t, snp.Options{Roots: rootsOf(t, milan, ca)}).Verify(ev, testVerifyTime)
			checkResult(t, c, err, nil)
			if c.SNP.Product != product {
				t.Errorf("product %q; want %q", c.SNP.Product, product)
			}
			c, err = newVerifier(t, snp.Options{Roots: rootsOf(t, milan)}).Verify(ev, testVerifyTime)
			checkResult(t, c, err, attest.ErrChain)
			if !strings.Contains(err.Error(), product) {
				t.Errorf("error %q does not name %s", err, product)
			}
		}
	}
}

func cloneEnvelope(e *envelope.Envelope) *envelope.Envelope {
	c := *e
	for _, p := range []*[]byte{&c.PublicKey, &c.Nonce, &c.UserData, &c.Report, &c.VCEK, &c.VLEK, &c.ASK, &c.ARK} {
		*p = bytes.Clone(*p)
	}
	return &c
}

func envelopesEqual(a, b *envelope.Envelope) bool {
	x, y := [][]byte{a.PublicKey, a.Nonce, a.UserData, a.Report, a.VCEK, a.VLEK, a.ASK, a.ARK}, [][]byte{b.PublicKey, b.Nonce, b.UserData, b.Report, b.VCEK, b.VLEK, b.ASK, b.ARK}
	for i := range x {
		if !bytes.Equal(x[i], y[i]) || (x[i] == nil) != (y[i] == nil) {
			return false
		}
	}
	return a.Format == b.Format
}

// pemLen is the length of the first n PEM blocks of b.
func pemLen(b []byte, n int) int {
	rest := b
	for range n {
		_, rest = pem.Decode(rest)
	}
	return len(b) - len(rest)
}

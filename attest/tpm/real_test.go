package tpm_test

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/tpm"
)

// The real quotes bind go-tpm-tools' nonce, not an attestkms envelope, so a
// full Verify of them must end in ErrBinding, the last check: that proves
// every earlier one (decoding, AK, signature, chain, PCR digest, policy)
// passed. tpm.VerifyBound then verifies them to the end against their own
// nonce.

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// gceRoots trusts Google's vTPM EK/AK root, to which the vector's AK
// certificate chains (through tpm_ek_intermediate_2).
func gceRoots(t testing.TB) *tpm.Roots {
	return parseRoots(t, pemCert(readVector(t, "tpm_ek_root_1.cer")))
}

func TestRealQuotesVerify(t *testing.T) {
	roots := gceRoots(t)
	strict := newVerifier(t, tpm.Options{Roots: roots})
	sha1 := newVerifier(t, tpm.Options{Roots: roots, AllowSHA1: true})
	wantClock := map[string]uint64{"SHA1": 8219159479, "SHA256": 8219159552, "SHA384": 8219159625}
	for _, bank := range []string{"SHA1", "SHA256", "SHA384"} {
		t.Run(bank, func(t *testing.T) {
			e := gceEnvelope(t, bank)
			ev := marshal(t, e)
			orig := bytes.Clone(ev)

			// The whole of Verify: genuine, but not bound to our key.
			c, err := strict.Verify(ev, gceTime)
			if bank == "SHA1" {
				checkResult(t, c, err, attest.ErrPolicy)
				c, err = sha1.Verify(ev, gceTime)
			}
			checkResult(t, c, err, attest.ErrBinding)
			if !bytes.Equal(ev, orig) {
				t.Fatal("Verify modified its input")
			}

			// To the end, against the quote's own nonce.
			c, err = tpm.VerifyBound(strict, e, gceTime, gceNonce)
			if bank == "SHA1" {
				checkResult(t, c, err, attest.ErrPolicy)
				c, err = tpm.VerifyBound(sha1, e, gceTime, gceNonce)
			}
			checkResult(t, c, err, nil)
			if c.Format != attest.FormatTPM2 || !c.Time.IsZero() || c.TPM == nil || c.TPM.Bank != bank {
				t.Fatalf("claims %+v", c)
			}
			if c.TPM.Clock != wantClock[bank] || c.TPM.ResetCount != 10 || c.TPM.RestartCount != 0 {
				t.Errorf("clock %d, reset %d, restart %d", c.TPM.Clock, c.TPM.ResetCount, c.TPM.RestartCount)
			}
			if len(c.TPM.PCRs) != 24 {
				t.Fatalf("%d PCRs", len(c.TPM.PCRs))
			}
			for i, v := range c.TPM.PCRs {
				if !bytes.Equal(v, e.PCRs[i]) {
					t.Errorf("PCR%d %x; the envelope's %x", i, v, e.PCRs[i])
				}
			}
			// PCR17 to PCR22 are the dynamic-launch PCRs, all ones when
			// none happened; PCR23 is zero.
			for i := 17; i <= 22; i++ {
				if !bytes.Equal(c.TPM.PCRs[i], bytes.Repeat([]byte{0xff}, len(c.TPM.PCRs[0]))) {
					t.Errorf("PCR%d = %x", i, c.TPM.PCRs[i])
				}
			}
			if c.Nonce != nil || c.UserData != nil || !bytes.Equal(c.PublicKeyDER, e.PublicKey) || c.PCRs != nil {
				t.Errorf("claims %+v", c)
			}
			if m := c.Measurements(); len(m) != 25 || m[attest.AttestationPrefix+"TpmPCR0"] != hex.EncodeToString(e.PCRs[0]) {
				t.Errorf("measurements %v", m)
			}
		})
	}
	if n := tpm.DecodePanics(); n != 0 {
		t.Fatalf("%d decoder panics", n)
	}
}

// TestRealPCR0 pins a value of each bank against go-tpm-tools' vector, so a
// wrong decoding of the vector cannot pass unnoticed.
func TestRealPCR0(t *testing.T) {
	for bank, want := range map[string]string{
		"SHA1":   "c032c3b51dbb6f96b047421512fd4b4dfde496f3",
		"SHA256": "0f35c214608d93c7a6e68ae7359b4a8be5a0e99eea9107ece427c4dea4e439cf",
		"SHA384": "46ce251b0b5b3da7917c5eb7a72e6e88f8f830445b149937921b095c1fd628db691963861c1153aba9c7097ff1c747f9",
	} {
		if got := hex.EncodeToString(gceEnvelope(t, bank).PCRs[0]); got != want {
			t.Errorf("%s PCR0 %s; want %s", bank, got, want)
		}
	}
}

// TestRealAKCertificateSAN shows what acceptTPMSAN is for: crypto/x509
// alone refuses Google's AK certificate for its critical TPM subjectAltName,
// and the same chain verifies through the Verifier.
func TestRealAKCertificateSAN(t *testing.T) {
	e := gceEnvelope(t, "SHA256")
	c, err := x509.ParseCertificate(e.AKCert)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.UnhandledCriticalExtensions) != 1 || !c.UnhandledCriticalExtensions[0].Equal([]int{2, 5, 29, 17}) {
		t.Fatalf("unhandled critical extensions %v", c.UnhandledCriticalExtensions)
	}
	root, _ := x509.ParseCertificate(readVector(t, "tpm_ek_root_1.cer"))
	inter, _ := x509.ParseCertificate(readVector(t, "tpm_ek_intermediate_2.crt"))
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	_, err = c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: gceTime, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if !errors.As(err, new(x509.UnhandledCriticalExtension)) {
		t.Fatalf("x509 alone: %v; want UnhandledCriticalExtension", err)
	}
	for _, ext := range c.Extensions {
		if ext.Id.Equal([]int{2, 5, 29, 17}) {
			if err := tpm.CheckTPMDirectoryName(ext.Value); err != nil {
				t.Fatalf("Google's SAN: %v", err)
			}
		}
	}
	v := newVerifier(t, tpm.Options{Roots: gceRoots(t)})
	cl, err := v.Verify(marshal(t, e), gceTime)
	checkResult(t, cl, err, attest.ErrBinding)
	if len(c.UnhandledCriticalExtensions) != 1 {
		t.Fatal("the caller's certificate was changed")
	}
}

// TestRealTrust varies what the real evidence carries and what the Verifier
// trusts.
func TestRealTrust(t *testing.T) {
	googleRoot := pemCert(readVector(t, "tpm_ek_root_1.cer"))
	inter2 := readVector(t, "tpm_ek_intermediate_2.crt")
	inter3 := readVector(t, "tpm_ek_intermediate_3.crt")
	akCARoot := pemCert(readVector(t, "gcp_ek_ak_ca_root.crt"))
	akCAInter := readVector(t, "gcp_ek_ak_ca_intermediate_v3.crt")
	e0 := gceEnvelope(t, "SHA256")
	akCert, _ := x509.ParseCertificate(e0.AKCert)
	pin := pemPublicKey(t, akCert.PublicKey)

	for _, tc := range []struct {
		name  string
		roots [][]byte
		edit  func(*envelope.Envelope)
		at    time.Time
		want  error
	}{
		{"google root, intermediate 2", [][]byte{googleRoot}, nil, gceTime, attest.ErrBinding},
		{"both google roots", [][]byte{akCARoot, googleRoot}, nil, gceTime, attest.ErrBinding},
		{"intermediate 2 trusted itself, no ak_chain", [][]byte{pemCert(inter2)}, func(e *envelope.Envelope) { e.AKChain = nil }, gceTime, attest.ErrBinding},
		{"ak_cert alone", [][]byte{googleRoot}, func(e *envelope.Envelope) { e.AKPublic = nil }, gceTime, attest.ErrBinding},
		{"ak_public alone, pinned", [][]byte{pin}, func(e *envelope.Envelope) { e.AKCert, e.AKChain = nil, nil }, gceTime, attest.ErrBinding},
		{"ak_public alone, pinned, any time", [][]byte{pin}, func(e *envelope.Envelope) { e.AKCert, e.AKChain = nil, nil }, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), attest.ErrBinding},
		{"at the AK certificate's last second", [][]byte{googleRoot}, nil, gceAKNotAfter, attest.ErrBinding},
		{"at the AK certificate's first second", [][]byte{googleRoot}, nil, gceAKNotBefore, attest.ErrBinding},

		{"no ak_chain", [][]byte{googleRoot}, func(e *envelope.Envelope) { e.AKChain = nil }, gceTime, attest.ErrChain},
		{"intermediate 3 in ak_chain", [][]byte{googleRoot}, func(e *envelope.Envelope) { e.AKChain = [][]byte{inter3} }, gceTime, attest.ErrChain},
		{"the newer google EK/AK CA", [][]byte{akCARoot}, func(e *envelope.Envelope) { e.AKChain = [][]byte{akCAInter} }, gceTime, attest.ErrChain},
		{"ak_public alone, not pinned", [][]byte{googleRoot}, func(e *envelope.Envelope) { e.AKCert, e.AKChain = nil, nil }, gceTime, attest.ErrChain},
		{"pinned, but an ak_cert that does not chain", [][]byte{pin}, nil, gceTime, attest.ErrChain},
		{"root given as ak_chain only", [][]byte{akCARoot}, func(e *envelope.Envelope) { e.AKChain = [][]byte{readVector(t, "tpm_ek_root_1.cer")} }, gceTime, attest.ErrChain},
		{"ak_public of another key", [][]byte{googleRoot}, func(e *envelope.Envelope) { e.AKPublic = testCAAKPublicRSA(t) }, gceTime, attest.ErrChain},

		{"after the AK certificate", [][]byte{googleRoot}, nil, gceAKNotAfter.Add(time.Second), attest.ErrExpired},
		{"before the AK certificate", [][]byte{googleRoot}, nil, gceAKNotBefore.Add(-time.Second), attest.ErrExpired},
		{"no time", [][]byte{googleRoot}, nil, time.Time{}, attest.ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := gceEnvelope(t, "SHA256")
			if tc.edit != nil {
				tc.edit(e)
			}
			v := newVerifier(t, tpm.Options{Roots: parseRoots(t, tc.roots...)})
			c, err := v.Verify(marshal(t, e), tc.at)
			checkResult(t, c, err, tc.want)
			t.Log(err)
		})
	}
}

// TestRealTampered changes one thing of a real quote at a time.
func TestRealTampered(t *testing.T) {
	v := newVerifier(t, tpm.Options{Roots: gceRoots(t)})
	for _, tc := range []struct {
		name string
		edit func(*envelope.Envelope)
		want error
	}{
		{"one bit of the clock", func(e *envelope.Envelope) { e.Quote[50] ^= 1 }, attest.ErrSignature},
		{"one bit of extraData", func(e *envelope.Envelope) { e.Quote[44] ^= 0x80 }, attest.ErrSignature},
		{"one bit of the signature", func(e *envelope.Envelope) { e.Signature[100] ^= 1 }, attest.ErrSignature},
		{"one bit of a PCR value", func(e *envelope.Envelope) { e.PCRs[7][0] ^= 1 }, attest.ErrSignature},
		{"PCR values swapped", func(e *envelope.Envelope) { e.PCRs[0], e.PCRs[1] = e.PCRs[1], e.PCRs[0] }, attest.ErrSignature},
		{"one bit of the magic", func(e *envelope.Envelope) { e.Quote[0] ^= 1 }, attest.ErrMalformed},
		{"a PCR missing", func(e *envelope.Envelope) { delete(e.PCRs, 23) }, attest.ErrMalformed},
		{"a trailing byte on the quote", func(e *envelope.Envelope) { e.Quote = append(e.Quote, 0) }, attest.ErrMalformed},
		{"a trailing byte on the signature", func(e *envelope.Envelope) { e.Signature = append(e.Signature, 0) }, attest.ErrMalformed},
		{"the SHA-1 quote's signature", func(e *envelope.Envelope) { e.Signature = gceEnvelope(t, "SHA1").Signature }, attest.ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := gceEnvelope(t, "SHA256")
			e.PCRs = clonePCRs(e.PCRs)
			tc.edit(e)
			c, err := tpm.VerifyBound(v, e, gceTime, gceNonce)
			checkResult(t, c, err, tc.want)
			t.Log(err)
		})
	}
}

// TestRealEveryByte flips each byte of the real quote, signature and
// ak_public in turn: every change is refused, without a panic.
func TestRealEveryByte(t *testing.T) {
	v := newVerifier(t, tpm.Options{Roots: gceRoots(t)})
	e0 := gceEnvelope(t, "SHA256")
	if _, err := tpm.VerifyBound(v, e0, gceTime, gceNonce); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"quote", "signature", "ak_public"} {
		kinds := map[string]int{}
		e := gceEnvelope(t, "SHA256")
		b := map[string][]byte{"quote": e.Quote, "signature": e.Signature, "ak_public": e.AKPublic}[field]
		for i := range b {
			b[i] ^= 0xff
			c, err := tpm.VerifyBound(v, e, gceTime, gceNonce)
			b[i] ^= 0xff
			if err == nil {
				t.Fatalf("%s byte %d changed: still verifies", field, i)
			}
			checkResult(t, c, err, tpm.KindsOf(err)[0])
			kinds[strings.SplitN(tpm.KindsOf(err)[0].Error(), " ", 2)[0]+"…"]++
		}
		t.Logf("%s: %d changes refused: %v", field, len(b), kinds)
	}
	if n := tpm.DecodePanics(); n != 0 {
		t.Fatalf("%d decoder panics", n)
	}
}

func clonePCRs(m map[int][]byte) map[int][]byte {
	out := make(map[int][]byte, len(m))
	for i, v := range m {
		out[i] = bytes.Clone(v)
	}
	return out
}

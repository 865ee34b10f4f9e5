package tpm_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"reflect"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
)

// TestClaims checks what a genuine quote of each AK kind and bank claims.
func TestClaims(t *testing.T) {
	for _, kind := range []tpmtest.AKKind{tpmtest.AKECDSAP256, tpmtest.AKECDSAP384, tpmtest.AKRSA2048, tpmtest.AKRSA2048PSS} {
		ca := testCA(t, kind)
		v := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM()), AllowSHA1: true})
		for _, bank := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			q := tpmtest.Quote{
				Bank: bank, Nonce: []byte("nonce"), UserData: []byte("user data"),
				Clock: 123456789, ResetCount: 7, RestartCount: 3,
			}
			ev := evidence(t, ca, q)
			orig := bytes.Clone(ev)
			c, err := v.Verify(ev, testTime)
			checkResult(t, c, err, nil)
			if !bytes.Equal(ev, orig) {
				t.Fatal("Verify modified its input")
			}
			want := &attest.Claims{
				Format:       attest.FormatTPM2,
				PublicKey:    fakeRSA(2048, 65537),
				PublicKeyDER: enclaveKey(t),
				KeyType:      "RSA-2048",
				Nonce:        []byte("nonce"),
				UserData:     []byte("user data"),
				TPM: &attest.TPMClaims{
					Bank:  map[crypto.Hash]string{crypto.SHA1: "SHA1", crypto.SHA256: "SHA256", crypto.SHA384: "SHA384", crypto.SHA512: "SHA512"}[bank],
					PCRs:  tpmtest.DefaultPCRs(bank),
					Clock: 123456789, ResetCount: 7, RestartCount: 3,
				},
			}
			if !reflect.DeepEqual(c, want) {
				t.Fatalf("AK %d, bank %v: claims\n%+v %+v\nwant\n%+v %+v", kind, bank, c, c.TPM, want, want.TPM)
			}
			if m := c.Measurements(); len(m) != 9 || m[attest.AttestationPrefix+"Format"] != "tpm2" || m[attest.AttestationPrefix+"TpmPCR7"] == "" || m[attest.AttestationPrefix+"PCR7"] != "" {
				t.Errorf("measurements %v", m)
			}
		}
	}
}

// TestClaimsAreCopies: changing the envelope after verifying it changes
// nothing in the claims.
func TestClaimsAreCopies(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	e, err := ca.Envelope(enclaveKey(t), tpmtest.Quote{Nonce: []byte("n"), UserData: []byte("u")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tpm.VerifyEnvelope(verifierFor(t, ca), e, testTime)
	checkResult(t, c, err, nil)
	e.Nonce[0], e.UserData[0], e.PublicKey[40], e.PCRs[0][0] = 'x', 'x', 'x', 'x'
	if string(c.Nonce) != "n" || string(c.UserData) != "u" || bytes.Equal(c.PublicKeyDER, e.PublicKey) || c.TPM.PCRs[0][0] == 'x' {
		t.Fatal("claims share memory with the envelope")
	}
}

// TestSet wires the Verifier into attest.Set as the server does.
func TestSet(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	s := &attest.Set{Envelopes: map[attest.Format]attest.Verifier{attest.FormatTPM2: verifierFor(t, ca)}}
	c, err := s.Verify(evidence(t, ca, tpmtest.Quote{}), testTime)
	checkResult(t, c, err, nil)
	c, err = s.Verify(evidence(t, ca, tpmtest.Quote{ExtraData: []byte{1}}), testTime)
	checkResult(t, c, err, attest.ErrBinding)
}

func TestNew(t *testing.T) {
	if _, err := tpm.New(tpm.Options{}); err == nil || !strings.HasPrefix(err.Error(), "tpm: ") {
		t.Fatalf("nil roots: %v", err)
	}
	if _, err := tpm.New(tpm.Options{Roots: &tpm.Roots{}}); err == nil {
		t.Fatal("zero Roots accepted")
	}
	if _, err := tpm.NewRoots(nil, nil); err == nil {
		t.Fatal("NewRoots with nothing")
	}
	if _, err := tpm.NewRoots([]*x509.Certificate{nil}, nil); err == nil {
		t.Fatal("NewRoots with a nil certificate")
	}
	ca := testCA(t, tpmtest.AKECDSAP256)
	r, err := tpm.NewRoots([]*x509.Certificate{ca.Root}, []crypto.PublicKey{ca.AKKey()})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Certificates()) != 1 || r.NumKeys() != 1 {
		t.Fatalf("%d certificates, %d keys", len(r.Certificates()), r.NumKeys())
	}
	// Roots keep their own copy of the certificates.
	r.Certificates()[0].Raw = nil
	c, err := newVerifier(t, tpm.Options{Roots: r}).Verify(evidence(t, ca, tpmtest.Quote{}), testTime)
	checkResult(t, c, err, nil)
}

package kms

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/recipient"
)

func TestRecipientWrapsEverySecret(t *testing.T) {
	good := newEnclave(t, 0xab)
	v := &fakeVerifier{enclaves: []*enclave{good}}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	sym := mustKey(t, s, "", "")
	r := good.recipient(0)

	gdk, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: sym.KeyID, KeySpec: "AES_256", Recipient: r})
	if err != nil {
		t.Fatal(err)
	}
	if gdk.Plaintext != nil || gdk.CiphertextBlob == nil {
		t.Fatal("GenerateDataKey with a Recipient returned plaintext or no blob")
	}
	dk := good.unwrap(t, gdk.CiphertextForRecipient)
	back, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: gdk.CiphertextBlob})
	if err != nil || !bytes.Equal(back.Plaintext, dk) || len(dk) != 32 {
		t.Fatalf("the wrapped data key is not the blob's: %v", err)
	}
	if a := lastRecord(t, s, "GenerateDataKey").Attestation; a == nil || a.PCR0 != strings.Repeat("ab", 48) || a.Format != "nitro" || len(a.PublicKeySHA256) != 64 {
		t.Fatalf("audit summary %+v", a)
	}

	c = s.testCall()
	dec, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: gdk.CiphertextBlob, Recipient: r})
	if err != nil || dec.Plaintext != nil || !bytes.Equal(good.unwrap(t, dec.CiphertextForRecipient), dk) {
		t.Fatalf("Decrypt with a Recipient: %v", err)
	}
	rnd, err := s.GenerateRandom(bg, c, &GenerateRandomRequest{NumberOfBytes: 64, Recipient: r})
	if err != nil || rnd.Plaintext != nil || len(good.unwrap(t, rnd.CiphertextForRecipient)) != 64 {
		t.Fatalf("GenerateRandom with a Recipient: %v", err)
	}
	kp, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: sym.KeyID, KeyPairSpec: PairRSA2048, Recipient: r})
	if err != nil || kp.PrivateKeyPlaintext != nil {
		t.Fatalf("GenerateDataKeyPair with a Recipient: %v", err)
	}
	p8 := good.unwrap(t, kp.CiphertextForRecipient) // 1.2 KB: CMS is hybrid
	if _, err := x509.ParsePKCS8PrivateKey(p8); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: kp.PrivateKeyCiphertextBlob}); !bytes.Equal(d.Plaintext, p8) {
		t.Fatal("the wrapped private key is not the blob's")
	}

	ka := mustKey(t, s, EccNistP384, KeyAgreement)
	pub, _ := s.GetPublicKey(bg, c, &GetPublicKeyRequest{KeyID: ka.KeyID})
	kmsPub, _ := x509.ParsePKIXPublicKey(pub.PublicKey)
	peer, _ := ecdh.P384().GenerateKey(rand.Reader)
	peerSPKI, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	ds, err := s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: ka.KeyID, KeyAgreementAlgorithm: "ECDH", PublicKey: peerSPKI, Recipient: r})
	if err != nil || ds.SharedSecret != nil {
		t.Fatalf("DeriveSharedSecret with a Recipient: %v", err)
	}
	kpub, _ := kmsPub.(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	want, _ := peer.ECDH(kpub)
	if !bytes.Equal(good.unwrap(t, ds.CiphertextForRecipient), want) {
		t.Fatal("the wrapped shared secret is not the peer's ECDH")
	}

	// The WithoutPlaintext operations take no Recipient: their requests have
	// no field for one (a dialect that decodes one refuses it:
	// api/aws TestWithoutPlaintextRefusesRecipient).
	for _, req := range []any{GenerateDataKeyWithoutPlaintextRequest{}, GenerateDataKeyPairWithoutPlaintextRequest{}} {
		for _, f := range []string{"Recipient", "EncryptTo"} {
			if _, has := reflect.TypeOf(req).FieldByName(f); has {
				t.Errorf("%T has a %s", req, f)
			}
		}
	}
}

func TestRecipientRefusals(t *testing.T) {
	good, debug := newEnclave(t, 0xab), newEnclave(t, 0)
	v := &fakeVerifier{enclaves: []*enclave{good, debug}}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	sym := mustKey(t, s, "", "")
	gdk := func(r *Recipient) (*GenerateDataKeyResponse, error) {
		return s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: sym.KeyID, KeySpec: "AES_256", Recipient: r})
	}

	// Debug-mode enclaves are refused by the verifier unless it allows
	// them; kms reports that refusal as any other, and serves (and audits)
	// what the verifier admitted, without judging it again.
	r, err := gdk(debug.recipient(1))
	wantKind(t, err, ErrInvalidRecipient)
	if r != nil || !errors.Is(err, attest.ErrPolicy) || !strings.Contains(err.Error(), "debug") {
		t.Fatalf("debug enclave: %v %v", r, err)
	}
	s.opts.Attestation.(*debugPolicy).allow = true
	if _, err := gdk(debug.recipient(1)); err != nil || lastRecord(t, s, "GenerateDataKey").Attestation == nil || !lastRecord(t, s, "GenerateDataKey").Attestation.Debug {
		t.Fatalf("debug enclave its verifier admitted: %v, audited as %+v", err, lastRecord(t, s, "GenerateDataKey"))
	}
	s.opts.Attestation.(*debugPolicy).allow = false

	// Every verification failure is ErrInvalidRecipient with the attest
	// kind, but a deferred one (attest.ErrThrottled: the verifier's budget
	// for new chains is spent), which is ErrThrottled: no verdict.
	for _, kind := range attest.Kinds {
		v.err = fmt.Errorf("%w: detail", kind)
		want := ErrInvalidRecipient
		if kind == attest.ErrThrottled {
			want = ErrThrottled
		}
		r, err := gdk(good.recipient(0))
		if r != nil || !errors.Is(err, want) || Kind(err) != want || !errors.Is(err, kind) || !strings.Contains(err.Error(), "detail") {
			t.Fatalf("%v: %v %v", kind, r, err)
		}
	}
	v.err = nil

	for _, alg := range []string{"", "RSAES_OAEP_SHA_1", "rsaes_oaep_sha_256"} {
		rr := good.recipient(0)
		rr.KeyEncryptionAlgorithm = alg
		_, err := gdk(rr)
		wantKind(t, err, ErrValidation)
		if !strings.Contains(err.Error(), "RSAES_OAEP_SHA_256") {
			t.Fatalf("algorithm error does not name the allowed value: %v", err)
		}
	}
	_, err = gdk(&Recipient{KeyEncryptionAlgorithm: recipient.KeyEncryptionAlgorithm})
	wantKind(t, err, ErrValidation)

	// A disabled key is refused before the evidence is even looked at.
	calls := v.calls
	s.DisableKey(bg, c, &DisableKeyRequest{KeyID: sym.KeyID})
	_, err = gdk(good.recipient(0))
	wantKind(t, err, ErrDisabled)
	if v.calls != calls {
		t.Fatal("evidence verified for a disabled key")
	}
	s.EnableKey(bg, c, &EnableKeyRequest{KeyID: sym.KeyID})

	// No verifier configured: no Recipient is accepted.
	s.opts.Attestation = nil
	_, err = gdk(good.recipient(0))
	wantKind(t, err, ErrInvalidRecipient)
}

// TestRecipientUnusableKeys: every operation that takes a Recipient refuses
// a disabled, pending-deletion or wrong-usage key before the evidence is
// verified, and returns nothing beside the error.
func TestRecipientUnusableKeys(t *testing.T) {
	e := newEnclave(t, 0xab)
	v := &fakeVerifier{enclaves: []*enclave{e}}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	r := e.recipient(0)
	sym := mustKey(t, s, "", "")
	ka := mustKey(t, s, EccNistP256, KeyAgreement)
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: sym.KeyID, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	peerSPKI, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	ops := map[string]func(symID, kaID string) (any, error){
		"GenerateDataKey": func(id, _ string) (any, error) {
			return s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256", Recipient: r})
		},
		"GenerateDataKeyPair": func(id, _ string) (any, error) {
			return s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: id, KeyPairSpec: PairEccNistP256, Recipient: r})
		},
		"Decrypt": func(id, _ string) (any, error) {
			blob := bytes.Clone(enc.CiphertextBlob) // its header names key id
			id16, _ := parseUUID(id)
			copy(blob[1:17], id16[:])
			return s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: blob, Recipient: r})
		},
		"DeriveSharedSecret": func(_, id string) (any, error) {
			return s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: id, KeyAgreementAlgorithm: "ECDH", PublicKey: peerSPKI, Recipient: r})
		},
	}
	check := func(state string, kind error, symID, kaID string) {
		t.Helper()
		for name, op := range ops {
			calls := v.calls
			resp, err := op(symID, kaID)
			if !errors.Is(err, kind) || v.calls != calls || !reflectNil(resp) {
				t.Errorf("%s on a %s key: %v (verifier calls %d → %d)", name, state, err, calls, v.calls)
			}
		}
	}
	check("wrong-usage", ErrInvalidKeyUsage, ka.KeyID, sym.KeyID)
	for _, id := range []string{sym.KeyID, ka.KeyID} {
		if _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: id}); err != nil {
			t.Fatal(err)
		}
	}
	check("disabled", ErrDisabled, sym.KeyID, ka.KeyID)
	for _, id := range []string{sym.KeyID, ka.KeyID} {
		if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: id, PendingWindowInDays: 7}); err != nil {
			t.Fatal(err)
		}
	}
	check("pending-deletion", ErrInvalidState, sym.KeyID, ka.KeyID)
}

func pemPublic(t *testing.T, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestPublicKeyWrap(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	sm2Key, _ := sm2.GenerateKey(rand.Reader)
	sm2DER, _ := smx509.MarshalPKIXPublicKey(&sm2Key.PublicKey)

	for _, tc := range []struct {
		alg  string
		pub  []byte
		priv any
	}{
		{recipient.AlgRSAESOAEPSHA256, rsaDER, rsaKey},
		{recipient.AlgRSAESOAEPSHA1, rsaDER, rsaKey},
		{recipient.AlgRSAESPKCS1v15, rsaDER, rsaKey},
		{"", sm2DER, sm2Key},
		{recipient.AlgSM2, sm2DER, sm2Key},
		{recipient.AlgSM2ASN1, sm2DER, sm2Key},
	} {
		w := &PublicKeyWrap{PublicKey: pemPublic(t, tc.pub), Algorithm: tc.alg}
		g, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", EncryptTo: w})
		if err != nil {
			t.Fatalf("%q: %v", tc.alg, err)
		}
		if g.Plaintext != nil || g.CiphertextBlob == nil {
			t.Fatalf("%q: plaintext returned", tc.alg)
		}
		alg := tc.alg
		if alg == "" {
			alg = recipient.AlgSM2
		}
		dk, err := recipient.UnwrapFrom(tc.priv, alg, g.CiphertextForRecipient)
		if err != nil {
			t.Fatalf("%q: %v", tc.alg, err)
		}
		d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: g.CiphertextBlob, EncryptTo: w})
		if err != nil || d.Plaintext != nil {
			t.Fatalf("%q: Decrypt with EncryptTo: %v", tc.alg, err)
		}
		back, _ := recipient.UnwrapFrom(tc.priv, alg, d.CiphertextForRecipient)
		if !bytes.Equal(back, dk) || len(dk) != 32 {
			t.Fatalf("%q: the wrapped data keys differ", tc.alg)
		}
	}

	// Wrong algorithm for the key, bad keys, both targets at once.
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	der1024, _ := x509.MarshalPKIXPublicKey(&rsa1024.PublicKey)
	for name, w := range map[string]*PublicKeyWrap{
		"SM2 algorithm, RSA key": {PublicKey: pemPublic(t, rsaDER), Algorithm: recipient.AlgSM2},
		"RSA algorithm, SM2 key": {PublicKey: pemPublic(t, sm2DER), Algorithm: recipient.AlgRSAESOAEPSHA256},
		"unknown algorithm":      {PublicKey: pemPublic(t, rsaDER), Algorithm: "RSAES_OAEP_SHA_512"},
		"RSA-1024":               {PublicKey: pemPublic(t, der1024), Algorithm: recipient.AlgRSAESOAEPSHA256},
		"not a key":              {PublicKey: []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")},
		"empty":                  {},
	} {
		g, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", EncryptTo: w})
		if g != nil || !strings.Contains(err.Error(), "Encryption") {
			t.Errorf("%s: %v %v", name, g, err)
		}
		wantKind(t, err, ErrValidation)
	}
	e := newEnclave(t, 0x11)
	s.opts.Attestation = &fakeVerifier{enclaves: []*enclave{e}}
	_, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", Recipient: e.recipient(0), EncryptTo: &PublicKeyWrap{PublicKey: pemPublic(t, rsaDER)}})
	wantKind(t, err, ErrValidation)

	// A key that expects attested callers refuses a bare public key, but
	// serves the attested enclave.
	acct := s.Account().AccountID
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Deny","Principal":"*","Action":["kms:Decrypt","kms:GenerateDataKey","kms:GenerateDataKeyPair","kms:DeriveSharedSecret","kms:ReEncryptFrom"],"Resource":"*","Condition":{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("11", 48) + `"}}}]}`
	att, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: att.KeyID, KeySpec: "AES_256", EncryptTo: &PublicKeyWrap{PublicKey: pemPublic(t, rsaDER), Algorithm: recipient.AlgRSAESOAEPSHA256}})
	wantKind(t, err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "proves nothing") {
		t.Fatalf("refusal does not say why: %v", err)
	}
	if _, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: att.KeyID, KeySpec: "AES_256", Recipient: e.recipient(0)}); err != nil {
		t.Fatalf("the attested enclave was refused: %v", err)
	}
}

func TestRawRecipient(t *testing.T) {
	e := newEnclave(t, 0x22)
	s, _ := newAttestedService(t, &fakeVerifier{enclaves: []*enclave{e}}, false)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	r := e.recipient(0)
	r.Raw = true
	g, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", Recipient: r})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.CiphertextForRecipient) != 256 {
		t.Fatalf("raw wrap is %d bytes; want one RSA-2048 block", len(g.CiphertextForRecipient))
	}
	dk, err := recipient.UnwrapRaw(e.priv, g.CiphertextForRecipient)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: g.CiphertextBlob})
	if !bytes.Equal(d.Plaintext, dk) {
		t.Fatal("raw-wrapped data key differs")
	}
	_, err = s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, NumberOfBytes: 191, Recipient: r})
	wantKind(t, err, ErrValidation)
	if !strings.Contains(err.Error(), "190") {
		t.Fatalf("size error does not say the limit: %v", err)
	}
}

// TestRawRecipientKeyPairs: a data key pair for a raw Recipient is checked
// against one RSA block before the pair is made (the verifier is not even
// asked for an RSA pair), and an EC pair that fits is wrapped whole.
func TestRawRecipientKeyPairs(t *testing.T) {
	e := newEnclave(t, 0x22)
	v := &fakeVerifier{enclaves: []*enclave{e}}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	r := e.recipient(0)
	r.Raw = true
	for spec, n := range pairECPrivateKeyLen {
		_, p8, err := newKeyPair(spec)
		if err != nil || len(p8) != n {
			t.Fatalf("%s: PKCS #8 is %d bytes, table says %d (%v)", spec, len(p8), n, err)
		}
	}
	kp, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: md.KeyID, KeyPairSpec: PairEccNistP256, Recipient: r})
	if err != nil || kp.PrivateKeyPlaintext != nil {
		t.Fatalf("P-256 pair for a raw RSA-2048 Recipient: %v", err)
	}
	p8, err := recipient.UnwrapRaw(e.priv, kp.CiphertextForRecipient)
	if err != nil || len(p8) != 138 {
		t.Fatalf("unwrapped %d bytes: %v", len(p8), err)
	}
	for _, spec := range []DataKeyPairSpec{PairEccNistP521, PairRSA2048, PairRSA4096} {
		calls := v.calls
		kp, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: md.KeyID, KeyPairSpec: spec, Recipient: r})
		wantKind(t, err, ErrValidation)
		if kp != nil {
			t.Fatalf("%s: a response beside the error", spec)
		}
		if _, isRSA := pairRSABits[spec]; isRSA && v.calls != calls {
			t.Fatalf("%s: evidence verified for a pair that cannot fit", spec)
		}
	}
}

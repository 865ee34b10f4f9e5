package kms

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/recipient"
)

// enclave is a fake attested enclave: its key, and the claims a verifier
// would return for its document.
type enclave struct {
	priv   *rsa.PrivateKey
	claims *attest.Claims
}

func newEnclave(t testing.TB, pcr0 byte) *enclave {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pcrs := map[int][]byte{}
	for i := 0; i < 16; i++ {
		pcrs[i] = make([]byte, 48)
	}
	pcrs[0] = bytes.Repeat([]byte{pcr0}, 48)
	return &enclave{priv: priv, claims: &attest.Claims{
		Format: attest.FormatNitro, Time: time.Now(), PublicKey: &priv.PublicKey, PublicKeyDER: der,
		ModuleID: "i-0123-enc0123", Digest: "SHA384", PCRs: pcrs, Debug: pcr0 == 0,
	}}
}

// fakeVerifier "verifies" a document by naming an enclave: the document is
// the enclave's index.
type fakeVerifier struct {
	enclaves []*enclave
	err      error
	calls    int
}

func (f *fakeVerifier) Verify(doc []byte, now time.Time) (*attest.Claims, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return f.enclaves[doc[0]].claims, nil
}

func (e *enclave) recipient(index byte) *Recipient {
	return &Recipient{AttestationDocument: []byte{index}, KeyEncryptionAlgorithm: recipient.KeyEncryptionAlgorithm}
}

func (e *enclave) unwrap(t *testing.T, cfr []byte) []byte {
	t.Helper()
	pt, err := recipient.UnwrapCMS(e.priv, cfr)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func newAttestedService(t *testing.T, v attest.Verifier, allowDebug bool) (*Service, *clock) {
	s, clk := newTestService(t)
	s.opts.Attestation, s.opts.AllowDebugEnclaves = v, allowDebug
	return s, clk
}

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
	if c.Attestation == nil || c.Attestation.PCR0 != strings.Repeat("ab", 48) || c.Attestation.Format != "nitro" || len(c.Attestation.PublicKeySHA256) != 64 {
		t.Fatalf("audit summary %+v", c.Attestation)
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

	// Debug-mode enclaves are refused unless allowed.
	r, err := gdk(debug.recipient(1))
	wantKind(t, err, ErrInvalidRecipient)
	if r != nil || !strings.Contains(err.Error(), "debug") {
		t.Fatalf("debug enclave: %v %v", r, err)
	}
	s.opts.AllowDebugEnclaves = true
	if _, err := gdk(debug.recipient(1)); err != nil {
		t.Fatalf("debug enclave with AllowDebugEnclaves: %v", err)
	}
	s.opts.AllowDebugEnclaves = false

	// Every verification failure is ErrInvalidRecipient with the attest kind.
	for _, kind := range attest.Kinds {
		v.err = fmt.Errorf("%w: detail", kind)
		r, err := gdk(good.recipient(0))
		if r != nil || !errors.Is(err, ErrInvalidRecipient) || !errors.Is(err, kind) || !strings.Contains(err.Error(), "detail") {
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

func TestAttestationPolicy(t *testing.T) {
	x, y := newEnclave(t, 0xab), newEnclave(t, 0xcd)
	v := &fakeVerifier{enclaves: []*enclave{x, y}}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	acct := s.Account().AccountID
	// The admin may manage the key; Decrypt and GenerateDataKey only for
	// an enclave whose image is X (upper-case hex in the policy on purpose).
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},
	   "Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
	  {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},
	   "Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	   "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("AB", 48) + `"}}}]}`
	md, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	gdk := func(r *Recipient) error {
		_, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", Recipient: r})
		return err
	}
	if err := gdk(x.recipient(0)); err != nil {
		t.Fatalf("enclave X refused: %v", err)
	}
	err = gdk(y.recipient(1))
	wantKind(t, err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "kms:GenerateDataKey") {
		t.Fatalf("denial does not name the action: %v", err)
	}
	wantKind(t, gdk(nil), ErrAccessDenied) // no Recipient: no attestation keys, no match
	// Encrypt is allowed to the admin without attestation.
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	wantKind(t, err, ErrAccessDenied)
	if _, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, Recipient: x.recipient(0)}); err != nil {
		t.Fatal(err)
	}

	// Another principal of the account is bound by the same policy; one
	// not named by it is denied everything.
	other := &Call{RequestID: "o", Principal: &Principal{ARN: "arn:aws:iam::" + acct + ":user/ci"}}
	if _, err := s.DescribeKey(bg, other, &DescribeKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatalf("account user refused DescribeKey: %v", err)
	}
	stranger := &Call{RequestID: "s", Principal: &Principal{ARN: "arn:aws:iam::999999999999:root"}}
	_, err = s.DescribeKey(bg, stranger, &DescribeKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrAccessDenied)

	// An explicit Deny beats every Allow.
	deny := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*"}]}`
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: deny}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
	wantKind(t, err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "explicit deny") {
		t.Fatalf("explicit deny not said: %v", err)
	}
}

func TestPolicyLockoutCheck(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	lockout := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: lockout})), ErrMalformedPolicy)
	_, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: lockout})
	wantKind(t, err, ErrMalformedPolicy)
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: `{"Statement":[{"Effect":"Allow","Action":"kms:*"}]}`})), ErrMalformedPolicy)
	// Bypassed, it is stored — and then the admin is locked out.
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: lockout, BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	_, err = s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrAccessDenied)
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: defaultPolicy(s.Account())})), ErrAccessDenied)
}

// TestAttestationPolicyAcrossFormats: each format's condition keys admit
// only evidence of that format with that value; a Nitro PCR0 condition is
// never met by a TPM's PCR0, nor an SNP measurement by anything else.
func TestAttestationPolicyAcrossFormats(t *testing.T) {
	nitroX := newEnclave(t, 0xab)
	snpOf := func(m byte) *enclave {
		e := newEnclave(t, 1)
		e.claims = &attest.Claims{Format: attest.FormatSEVSNP, PublicKey: e.claims.PublicKey, PublicKeyDER: e.claims.PublicKeyDER,
			SNP: &attest.SNPClaims{Measurement: bytes.Repeat([]byte{m}, 48), HostData: make([]byte, 32), ChipID: make([]byte, 64)}}
		return e
	}
	tpmOf := func(pcr7 byte) *enclave {
		e := newEnclave(t, 1)
		e.claims = &attest.Claims{Format: attest.FormatTPM2, PublicKey: e.claims.PublicKey, PublicKeyDER: e.claims.PublicKeyDER,
			TPM: &attest.TPMClaims{Bank: "SHA256", PCRs: map[int][]byte{0: bytes.Repeat([]byte{0xab}, 48), 7: bytes.Repeat([]byte{pcr7}, 32)}}}
		return e
	}
	// Index:            0       1             2             3            4
	encl := []*enclave{nitroX, snpOf(0x5e), snpOf(0x66), tpmOf(0x77), tpmOf(0x78)}
	v := &fakeVerifier{enclaves: encl}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	acct := s.Account().AccountID
	keyWith := func(cond string) string {
		pol := `{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
		  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:GenerateDataKey","Resource":"*",
		   "Condition":{"StringEquals":` + cond + `}}]}`
		md, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: pol})
		if err != nil {
			t.Fatal(err)
		}
		return md.KeyID
	}
	pcr0 := strings.Repeat("ab", 48)
	cases := []struct {
		cond  string
		admit []byte // enclave indices admitted; every other one is denied
	}{
		{`{"kms:RecipientAttestation:PCR0":"` + pcr0 + `"}`, []byte{0}},
		{`{"kms:RecipientAttestation:SnpMeasurement":"` + strings.Repeat("5E", 48) + `"}`, []byte{1}},
		{`{"kms:RecipientAttestation:SnpHostData":"` + strings.Repeat("00", 32) + `"}`, []byte{1, 2}},
		{`{"kms:RecipientAttestation:TpmPCR7":"` + strings.Repeat("77", 32) + `"}`, []byte{3}},
		{`{"kms:RecipientAttestation:TpmPCR0":"` + pcr0 + `"}`, []byte{3, 4}},
		{`{"kms:RecipientAttestation:Format":"sev-snp"}`, []byte{1, 2}},
		{`{"kms:RecipientAttestation:Format":"tpm2","kms:RecipientAttestation:TpmPCR7":"` + strings.Repeat("78", 32) + `"}`, []byte{4}},
	}
	for _, tc := range cases {
		id := keyWith(tc.cond)
		for i := range encl {
			_, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256", Recipient: encl[i].recipient(byte(i))})
			if bytes.IndexByte(tc.admit, byte(i)) >= 0 {
				if err != nil {
					t.Errorf("%s: enclave %d (%s) refused: %v", tc.cond, i, encl[i].claims.Format, err)
				}
				continue
			}
			if !errors.Is(err, ErrAccessDenied) {
				t.Errorf("%s: enclave %d (%s) = %v; want AccessDenied", tc.cond, i, encl[i].claims.Format, err)
			}
		}
	}
	// The audit summary names what the policy judged.
	call := s.testCall()
	if _, err := s.GenerateDataKey(bg, call, &GenerateDataKeyRequest{KeyID: keyWith(`{"kms:RecipientAttestation:TpmPCR7":"` + strings.Repeat("77", 32) + `"}`), KeySpec: "AES_256", Recipient: encl[3].recipient(3)}); err != nil {
		t.Fatal(err)
	}
	if a := call.Attestation; a == nil || a.Format != "tpm2" || a.TpmBank != "SHA256" || a.TpmPCRs[7] != strings.Repeat("77", 32) || !a.Time.IsZero() {
		t.Fatalf("tpm2 audit summary %+v", a)
	}
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

// reflectNil reports whether v is nil or a nil pointer.
func reflectNil(v any) bool {
	return v == nil || reflect.ValueOf(v).IsNil()
}

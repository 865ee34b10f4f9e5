package tencent_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/enclave"
	"github.com/attestkms/attestkms/recipient"
)

// tcRecipient is attestkms's Recipient member.
type tcRecipient struct {
	AttestationDocument    string
	KeyEncryptionAlgorithm string
	PublicKey              string `json:",omitempty"`
}

// tcGenerateRandom is the SDK's typed GenerateRandom request with the
// Recipient member: the SDK's Send marshals it and signs that body.
type tcGenerateRandom struct {
	*tckms.GenerateRandomRequest
	Recipient *tcRecipient `json:",omitempty"`
}

// tcGenerateRandomAnswer is the SDK's answer with the signature member it
// skips.
type tcGenerateRandomAnswer struct {
	tchttp.BaseResponse
	Response *struct {
		tckms.GenerateRandomResponseParams
		AttestKMSAnswerSignature *struct{ KeyId, PublicKey, Signature, KeyArn string }
	}
}

// TestGenerateRandomRecipient: through the SDK's typed GenerateRandom with
// the Recipient member added (the SDK signs it), with each algorithm:
// Plaintext is the random wrapped to the enclave (one raw RSA-OAEP
// ciphertext, or an HPKE frame package enclave opens as GenerateRandom's,
// under no key) of the length asked, and AttestKMSAnswerSignature verifies
// over the body the SDK sent, with an empty KeyArn, and not over another
// length. Refused: a Recipient whose document another CA signed, one
// without a document, raw RSA past one block, EncryptionPublicKey (not a
// member of Tencent's GenerateRandom) — with no Plaintext.
func TestGenerateRandomRecipient(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv, "ap-guangzhou")
	rec := &sentBody{}
	c.WithHttpTransport(rec)
	var pins []string
	for _, k := range e.srv.Service.ServiceKeys() {
		pins = append(pins, k.ID)
	}
	dec := func(what, s string) []byte {
		t.Helper()
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("%s is not base64: %q", what, s)
		}
		return b
	}
	call := func(n uint64, r *tcRecipient) (*tcGenerateRandomAnswer, error) {
		req := tckms.NewGenerateRandomRequest()
		req.NumberOfBytes = u(n)
		out := &tcGenerateRandomAnswer{}
		err := c.Send(&tcGenerateRandom{req, r}, out)
		return out, err
	}

	for _, typ := range []string{enclave.KeyTypeRSA, enclave.KeyTypeP256, enclave.KeyTypeMLKEM768X25519} {
		t.Run(typ, func(t *testing.T) {
			var k *enclave.Key
			bound := e.der // RSA: the env's key, whose private half opens raw OAEP
			alg := recipient.KeyEncryptionAlgorithm
			if typ != enclave.KeyTypeRSA {
				var err error
				if k, err = enclave.NewKeyOfType(typ, 0); err != nil {
					t.Fatal(err)
				}
				bound, alg = k.PublicKeyDER(), k.Algorithm()
			}
			doc := e.doc(t, nitrotest.Document{PublicKey: bound})
			r := &tcRecipient{AttestationDocument: base64.StdEncoding.EncodeToString(doc), KeyEncryptionAlgorithm: alg}
			if k != nil && k.RecipientPublicKey() != nil {
				r.PublicKey = base64.StdEncoding.EncodeToString(k.RecipientPublicKey())
			}
			for _, n := range []uint64{1, 32, 190} {
				out, err := call(n, r)
				if err != nil {
					t.Fatalf("GenerateRandom %d with a Recipient: %v", n, err)
				}
				body := rec.body
				if !bytes.Contains(body, []byte(`"Recipient"`)) {
					t.Fatalf("the SDK did not send the Recipient: %s", body)
				}
				wrapped := dec("Plaintext", *out.Response.Plaintext)
				var got []byte
				if k == nil {
					// Tencent's Plaintext: one raw RSAES-OAEP-SHA-256 ciphertext.
					if got, err = rsa.DecryptOAEP(sha256.New(), nil, e.priv, wrapped, nil); err != nil {
						t.Fatalf("Plaintext is not raw RSA-OAEP to the enclave key: %v", err)
					}
				} else {
					if f, err := recipient.ParseHPKEFrame(wrapped); err != nil || f.Algorithm != k.Algorithm() {
						t.Fatalf("Plaintext is not an HPKE frame of %s: %v", k.Algorithm(), err)
					}
					if got, err = k.Unwrap("GenerateRandom", "", doc, wrapped); err != nil {
						t.Fatalf("Plaintext does not open as GenerateRandom's: %v", err)
					}
					if _, err := k.Unwrap("GenerateDataKey", "", doc, wrapped); err == nil {
						t.Fatal("GenerateRandom's answer opens as another operation's")
					}
				}
				if uint64(len(got)) != n {
					t.Fatalf("%d random bytes, asked %d", len(got), n)
				}
				s := out.Response.AttestKMSAnswerSignature
				if s == nil || s.KeyArn != "" {
					t.Fatalf("AttestKMSAnswerSignature: %+v", s)
				}
				sig := &answer.Signature{KeyID: s.KeyId, PublicKey: dec("PublicKey", s.PublicKey), Signature: dec("Signature", s.Signature)}
				fields := []answer.Field{{Name: "CiphertextForRecipient", Value: wrapped}}
				if err := answer.Verify(pins, sig, doc, body, "GenerateRandom", "", fields); err != nil {
					t.Fatalf("the signature: %v", err)
				}
				other := bytes.Replace(body, []byte(`"NumberOfBytes":`), []byte(`"NumberOfBytes": `), 1)
				if err := answer.Verify(pins, sig, doc, other, "GenerateRandom", "", fields); err == nil {
					t.Fatal("the signature verifies over another body")
				}
				if err := answer.Verify(pins, sig, doc, body, "GenerateDataKey", "", fields); err == nil {
					t.Fatal("the signature verifies for another operation")
				}
			}
		})
	}

	// Without a Recipient: Plaintext in the clear, no signature.
	plain, err := call(16, nil)
	if err != nil || len(dec("Plaintext", *plain.Response.Plaintext)) != 16 || plain.Response.AttestKMSAnswerSignature != nil {
		t.Fatalf("GenerateRandom without a Recipient: %v", err)
	}

	// Refusals, each with no Plaintext.
	k, _ := enclave.NewKeyOfType(enclave.KeyTypeP256, 0)
	otherCA, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := otherCA.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: e.pcrs, PublicKey: k.PublicKeyDER()})
	if err != nil {
		t.Fatal(err)
	}
	good := base64.StdEncoding.EncodeToString(e.doc(t, nitrotest.Document{}))
	for _, tc := range []struct {
		name       string
		n          uint64
		r          *tcRecipient
		code, want string
	}{
		{"a document another CA signed", 32, &tcRecipient{AttestationDocument: base64.StdEncoding.EncodeToString(forged), KeyEncryptionAlgorithm: k.Algorithm()}, "InvalidParameterValue", "Recipient"},
		{"no document", 32, &tcRecipient{KeyEncryptionAlgorithm: recipient.KeyEncryptionAlgorithm}, "MissingParameter", "Recipient.AttestationDocument"},
		{"a document that is not base64", 32, &tcRecipient{AttestationDocument: "%%%", KeyEncryptionAlgorithm: recipient.KeyEncryptionAlgorithm}, "InvalidParameterValue", "Recipient.AttestationDocument"},
		{"raw RSA past one block", 191, &tcRecipient{AttestationDocument: good, KeyEncryptionAlgorithm: recipient.KeyEncryptionAlgorithm}, "InvalidParameterValue", "does not fit one RSA-2048 block"},
		{"an unknown algorithm", 32, &tcRecipient{AttestationDocument: good, KeyEncryptionAlgorithm: "RSAES_OAEP_SHA_1"}, "InvalidParameterValue", "unsupported key encryption algorithm"},
	} {
		out, err := call(tc.n, tc.r)
		if se := wantCode(t, err, tc.code); !strings.Contains(se.Message, tc.want) {
			t.Errorf("%s: %v; want %s saying %q", tc.name, err, tc.code, tc.want)
		}
		if out.Response != nil && out.Response.Plaintext != nil {
			t.Errorf("%s: a Plaintext with the error", tc.name)
		}
	}
	// Tencent's GenerateRandom has no EncryptionPublicKey.
	_, err = commonCall(t, e.srv, "GenerateRandom", map[string]any{"NumberOfBytes": 32, "EncryptionPublicKey": "-----BEGIN PUBLIC KEY-----"})
	wantCode(t, err, "UnknownParameter")
}

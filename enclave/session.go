package enclave

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/attestkms/attestkms/answer"
)

// Session gets secrets from attestkms for this enclave: every request carries
// a fresh attestation document for Key, and every secret comes back wrapped
// to Key.
type Session struct {
	Client   *Client
	Attestor Attestor
	Key      *Key
	// KeepCiphertext, if set, sees each CiphertextForRecipient before it is
	// unwrapped (enclavetool --keep-ciphertext saves them for inspection with
	// openssl cms).
	KeepCiphertext func(op string, cfr []byte)
	// ServiceKeys are the fingerprints (answer.Fingerprint) of the service
	// keys this enclave trusts, built into its measured image: every answer
	// must then carry a signature by one of them over this request's
	// document and body, the operation, the key and the answer's fields
	// (docs/answers.md), or it is refused before it is unwrapped. Nil checks
	// no signature (only checkAnswer's consistency) — and leaves the enclave
	// open to its host answering in the service's place with a key the
	// host chose: set it.
	ServiceKeys []string
}

// wireSignature is the AWS dialect's AttestKMSAnswerSignature member.
type wireSignature struct {
	KeyId     string
	PublicKey []byte
	Signature []byte
}

type recipientJSON struct {
	AttestationDocument    []byte
	KeyEncryptionAlgorithm string
	PublicKey              []byte `json:",omitempty"` // attestkms's extension: the ML-KEM key (docs/hpke.md)
}

func (s *Session) recipient() (*recipientJSON, error) {
	// A fresh nonce in every document: no two requests carry the same
	// one, whatever the TEE's clock resolution, so an answer signed over
	// one request's document and body never verifies for another's
	// (docs/answers.md); the audit log records it.
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	doc, err := s.Attestor.Attest(s.Key.der, nonce, nil)
	if err != nil {
		return nil, err
	}
	return &recipientJSON{AttestationDocument: doc, KeyEncryptionAlgorithm: s.Key.alg, PublicKey: s.Key.pub}, nil
}

var errNoCiphertext = errors.New("attestkms answered without CiphertextForRecipient")

// call sends op with in as its body and decodes the answer into out; it
// returns the body it sent, byte for byte, which the answer's signature
// must be over.
func (s *Session) call(ctx context.Context, op string, in, out any) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return body, s.Client.Send(ctx, op, body, out)
}

// unwrap opens the answer to op: keyARN is the answer's KeyId, r the
// Recipient we sent (its document is in an HPKE answer's info), req the
// request body we sent, sig and fields the answer's signature and signed
// fields (answer.Fields(op)), checked first when ServiceKeys is set.
func (s *Session) unwrap(op, keyARN string, r *recipientJSON, req, cfr []byte, sig *wireSignature, fields ...answer.Field) ([]byte, error) {
	if len(cfr) == 0 {
		return nil, errNoCiphertext
	}
	if s.ServiceKeys != nil {
		var as *answer.Signature
		if sig != nil {
			as = &answer.Signature{KeyID: sig.KeyId, PublicKey: sig.PublicKey, Signature: sig.Signature}
		}
		if err := answer.Verify(s.ServiceKeys, as, r.AttestationDocument, req, op, keyARN, fields); err != nil {
			return nil, fmt.Errorf("refusing attestkms's answer to %s: %w", op, err)
		}
	}
	if s.KeepCiphertext != nil {
		s.KeepCiphertext(op, cfr)
	}
	return s.Key.Unwrap(op, keyARN, r.AttestationDocument, cfr)
}

// DataKey is a data key: Plaintext for use here, CiphertextBlob to store.
type DataKey struct {
	Plaintext      []byte
	CiphertextBlob []byte
	KeyID          string
}

// GenerateDataKey asks for a data key under keyID: keySpec "AES_256" or
// "AES_128", or numberOfBytes.
func (s *Session) GenerateDataKey(ctx context.Context, keyID, keySpec string, numberOfBytes int, ec map[string]string) (*DataKey, error) {
	r, err := s.recipient()
	if err != nil {
		return nil, err
	}
	in := struct {
		KeyId             string
		KeySpec           string            `json:",omitempty"`
		NumberOfBytes     int               `json:",omitempty"`
		EncryptionContext map[string]string `json:",omitempty"`
		Recipient         *recipientJSON
	}{keyID, keySpec, numberOfBytes, ec, r}
	var out struct {
		CiphertextBlob, CiphertextForRecipient []byte
		KeyId                                  string
		AttestKMSAnswerSignature               *wireSignature
	}
	req, err := s.call(ctx, "GenerateDataKey", in, &out)
	if err != nil {
		return nil, err
	}
	const op = "GenerateDataKey"
	pt, err := s.unwrap(op, out.KeyId, r, req, out.CiphertextForRecipient, out.AttestKMSAnswerSignature,
		answer.Field{Name: "CiphertextForRecipient", Value: out.CiphertextForRecipient},
		answer.Field{Name: "CiphertextBlob", Value: out.CiphertextBlob},
		answer.Field{Name: "KeyId", Value: []byte(out.KeyId)})
	if err != nil {
		return nil, err
	}
	if err := checkAnswer(op, keyID, out.KeyId, pt, dataKeyLen(keySpec, numberOfBytes)); err != nil {
		return nil, err
	}
	return &DataKey{Plaintext: pt, CiphertextBlob: out.CiphertextBlob, KeyID: out.KeyId}, nil
}

// Decrypt asks attestkms to decrypt a ciphertext blob for this enclave.
func (s *Session) Decrypt(ctx context.Context, blob []byte, keyID string, ec map[string]string) ([]byte, error) {
	r, err := s.recipient()
	if err != nil {
		return nil, err
	}
	in := struct {
		CiphertextBlob    []byte
		KeyId             string            `json:",omitempty"`
		EncryptionContext map[string]string `json:",omitempty"`
		Recipient         *recipientJSON
	}{blob, keyID, ec, r}
	var out struct {
		CiphertextForRecipient   []byte
		KeyId                    string
		EncryptionAlgorithm      string
		AttestKMSAnswerSignature *wireSignature
	}
	req, err := s.call(ctx, "Decrypt", in, &out)
	if err != nil {
		return nil, err
	}
	const op = "Decrypt"
	pt, err := s.unwrap(op, out.KeyId, r, req, out.CiphertextForRecipient, out.AttestKMSAnswerSignature,
		answer.Field{Name: "CiphertextForRecipient", Value: out.CiphertextForRecipient},
		answer.Field{Name: "KeyId", Value: []byte(out.KeyId)},
		answer.Field{Name: "EncryptionAlgorithm", Value: []byte(out.EncryptionAlgorithm)})
	if err != nil {
		return nil, err
	}
	if err := checkAnswer(op, keyID, out.KeyId, pt, -1); err != nil {
		return nil, err
	}
	return pt, nil
}

// GenerateRandom asks for n random bytes.
func (s *Session) GenerateRandom(ctx context.Context, n int) ([]byte, error) {
	r, err := s.recipient()
	if err != nil {
		return nil, err
	}
	in := struct {
		NumberOfBytes int
		Recipient     *recipientJSON
	}{n, r}
	var out struct {
		CiphertextForRecipient   []byte
		AttestKMSAnswerSignature *wireSignature
	}
	req, err := s.call(ctx, "GenerateRandom", in, &out)
	if err != nil {
		return nil, err
	}
	const op = "GenerateRandom"
	pt, err := s.unwrap(op, "", r, req, out.CiphertextForRecipient, out.AttestKMSAnswerSignature,
		answer.Field{Name: "CiphertextForRecipient", Value: out.CiphertextForRecipient})
	if err != nil {
		return nil, err
	}
	if err := checkAnswer(op, "", "", pt, n); err != nil {
		return nil, err
	}
	return pt, nil
}

// DeriveSharedSecret asks for the ECDH secret of keyID and the peer's public
// key (DER SubjectPublicKeyInfo): the raw x-coordinate, to be run through a KDF.
func (s *Session) DeriveSharedSecret(ctx context.Context, keyID string, peerSPKI []byte) ([]byte, error) {
	r, err := s.recipient()
	if err != nil {
		return nil, err
	}
	in := struct {
		KeyId                 string
		KeyAgreementAlgorithm string
		PublicKey             []byte
		Recipient             *recipientJSON
	}{keyID, "ECDH", peerSPKI, r}
	var out struct {
		CiphertextForRecipient                  []byte
		KeyId, KeyAgreementAlgorithm, KeyOrigin string
		AttestKMSAnswerSignature                *wireSignature
	}
	req, err := s.call(ctx, "DeriveSharedSecret", in, &out)
	if err != nil {
		return nil, err
	}
	const op = "DeriveSharedSecret"
	pt, err := s.unwrap(op, out.KeyId, r, req, out.CiphertextForRecipient, out.AttestKMSAnswerSignature,
		answer.Field{Name: "CiphertextForRecipient", Value: out.CiphertextForRecipient},
		answer.Field{Name: "KeyId", Value: []byte(out.KeyId)},
		answer.Field{Name: "KeyAgreementAlgorithm", Value: []byte(out.KeyAgreementAlgorithm)},
		answer.Field{Name: "KeyOrigin", Value: []byte(out.KeyOrigin)})
	if err != nil {
		return nil, err
	}
	if err := checkAnswer(op, keyID, out.KeyId, pt, -1); err != nil {
		return nil, err
	}
	return pt, nil
}

// DataKeyPair is a data key pair: the private key (PKCS#8) for use here, the
// public key (SubjectPublicKeyInfo) and the private key's ciphertext blob.
type DataKeyPair struct {
	PrivateKey               []byte
	PublicKey                []byte
	PrivateKeyCiphertextBlob []byte
	KeyID                    string
}

// GenerateDataKeyPair asks for a key pair (e.g. "ECC_NIST_P256", "RSA_2048").
func (s *Session) GenerateDataKeyPair(ctx context.Context, keyID, keyPairSpec string, ec map[string]string) (*DataKeyPair, error) {
	r, err := s.recipient()
	if err != nil {
		return nil, err
	}
	in := struct {
		KeyId             string
		KeyPairSpec       string
		EncryptionContext map[string]string `json:",omitempty"`
		Recipient         *recipientJSON
	}{keyID, keyPairSpec, ec, r}
	var out struct {
		CiphertextForRecipient, PublicKey, PrivateKeyCiphertextBlob []byte
		KeyId, KeyPairSpec                                          string
		AttestKMSAnswerSignature                                    *wireSignature
	}
	req, err := s.call(ctx, "GenerateDataKeyPair", in, &out)
	if err != nil {
		return nil, err
	}
	const op = "GenerateDataKeyPair"
	priv, err := s.unwrap(op, out.KeyId, r, req, out.CiphertextForRecipient, out.AttestKMSAnswerSignature,
		answer.Field{Name: "CiphertextForRecipient", Value: out.CiphertextForRecipient},
		answer.Field{Name: "PrivateKeyCiphertextBlob", Value: out.PrivateKeyCiphertextBlob},
		answer.Field{Name: "PublicKey", Value: out.PublicKey},
		answer.Field{Name: "KeyId", Value: []byte(out.KeyId)},
		answer.Field{Name: "KeyPairSpec", Value: []byte(out.KeyPairSpec)})
	if err != nil {
		return nil, err
	}
	if err := checkAnswer(op, keyID, out.KeyId, priv, -1); err != nil {
		return nil, err
	}
	if out.KeyPairSpec != keyPairSpec {
		clear(priv)
		return nil, fmt.Errorf("refusing attestkms's answer to %s: a %s key pair, not the %s asked for", op, out.KeyPairSpec, keyPairSpec)
	}
	return &DataKeyPair{PrivateKey: priv, PublicKey: out.PublicKey, PrivateKeyCiphertextBlob: out.PrivateKeyCiphertextBlob, KeyID: out.KeyId}, nil
}

// checkAnswer refuses an answer to op that is not for what this enclave
// asked. With ServiceKeys set the signature already binds the request body
// the enclave sent, so that the host, which holds the document, cannot send
// it with a request of its own (another key, another peer key, another
// blob, fewer bytes) and relay that answer, genuinely signed; this is
// defence in depth, and the only check without ServiceKeys. It checks what
// the enclave can: that the answer's key ARN is asked's (when asked is a
// key ARN or a key id; an alias or no key cannot be told apart here), and
// secret's length when want ≥ 0. It zeroes secret when it refuses.
func checkAnswer(op, asked, keyARN string, secret []byte, want int) error {
	err := error(nil)
	switch {
	case want >= 0 && len(secret) != want:
		err = fmt.Errorf("refusing attestkms's answer to %s: a %d-byte secret, not the %d asked for", op, len(secret), want)
	case !sameKey(asked, keyARN):
		err = fmt.Errorf("refusing attestkms's answer to %s: it is under %q, not the key %q asked for", op, keyARN, asked)
	}
	if err != nil {
		clear(secret)
	}
	return err
}

// sameKey reports whether keyARN may be the key asked names: true for an
// alias or no key, which only the service resolves.
func sameKey(asked, keyARN string) bool {
	switch {
	case asked == "" || strings.HasPrefix(asked, "alias/") || strings.Contains(asked, ":alias/"):
		return true
	case strings.HasPrefix(asked, "arn:"):
		return strings.EqualFold(asked, keyARN)
	}
	suffix := ":key/" + asked
	return len(keyARN) >= len(suffix) && strings.EqualFold(keyARN[len(keyARN)-len(suffix):], suffix)
}

// dataKeyLen is the length of the data key GenerateDataKey asks for: -1
// (not checked) for a key spec this package does not know.
func dataKeyLen(keySpec string, numberOfBytes int) int {
	switch {
	case numberOfBytes > 0:
		return numberOfBytes
	case keySpec == "AES_256":
		return 32
	case keySpec == "AES_128":
		return 16
	}
	return -1
}

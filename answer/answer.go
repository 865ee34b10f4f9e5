// Package answer signs and verifies attestkms's answers to attested
// requests (docs/answers.md): the service signs, with its Ed25519 service
// key, what an answer to a request with a Recipient says — for which
// attestation document and which request (the SHA-256 of its body as the
// service received it), which operation, which key, and the SHA-256 of each
// field that matters — so that an enclave that pins the service key refuses
// an answer its host made (a CiphertextForRecipient wrapping a key the host
// chose), an answer to a request the host made with the enclave's document
// (its own peer key for DeriveSharedSecret, its own blob for Decrypt),
// replayed from another request, or stripped of its signature.
//
// What the attacker controls: every byte between the service and the
// enclave (the enclave's host relays them). What we trust: the service key
// the enclave pins, built into its measured image. What this does not stop:
// a host that drops answers, or delays them (the document's freshness is the
// service's check, not the enclave's).
//
// Ed25519 because signing is deterministic (no random-number failure at
// signing), fast, and its 32-byte public key is easy to pin. A FIPS
// deployment would want ECDSA P-384 instead: the encoding's label would
// change with the algorithm.
package answer

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Label is the encoding's domain separation and version: the message's
// first bytes (Message).
const Label = "attestkms answer signature v2"

// Field is one field of an answer: its name as AWS KMS spells it
// (CiphertextForRecipient, CiphertextBlob, KeyId…) and its value as bytes
// (binary fields decoded, strings as UTF-8).
type Field struct {
	Name  string
	Value []byte
}

// Fields are the names of the fields an answer to op carries under its
// signature, in the order they are signed; nil for an operation whose answer
// is not signed. A verifier signs nothing it did not decode: it passes
// exactly these, from the answer it received.
func Fields(op string) []string {
	switch op {
	case "GenerateDataKey":
		return []string{"CiphertextForRecipient", "CiphertextBlob", "KeyId"}
	case "Decrypt":
		return []string{"CiphertextForRecipient", "KeyId", "EncryptionAlgorithm"}
	case "GenerateRandom":
		return []string{"CiphertextForRecipient"}
	case "GenerateDataKeyPair":
		return []string{"CiphertextForRecipient", "PrivateKeyCiphertextBlob", "PublicKey", "KeyId", "KeyPairSpec"}
	case "DeriveSharedSecret":
		return []string{"CiphertextForRecipient", "KeyId", "KeyAgreementAlgorithm", "KeyOrigin"}
	}
	return nil
}

// Errors a verifier returns, wrapped with detail (errors.Is).
var (
	// ErrUnsigned: the answer carries no signature.
	ErrUnsigned = errors.New("answer is not signed")
	// ErrUnknownKey: the signature is by a key that is not pinned.
	ErrUnknownKey = errors.New("answer is signed by a key that is not the pinned service key")
	// ErrSignature: the signature does not verify over this request and
	// answer (another document, request body, operation, key or field: a
	// substitution, a request the host made, or a replay).
	ErrSignature = errors.New("answer signature does not verify")
	// ErrMalformed: the answer's fields do not make a message (a bound
	// exceeded, a field missing from Fields), or a key does not parse.
	ErrMalformed = errors.New("answer signature malformed")
)

// Message is what is signed for the answer to op, under the key keyARN (""
// for GenerateRandom), to the request whose body is request (the bytes the
// client sent, as the service received them) and whose attestation document
// is doc:
//
//	Label ‖ 0x00
//	‖ SHA-256(doc)                                   32 bytes
//	‖ SHA-256(request)                               32 bytes
//	‖ len16(op) ‖ op
//	‖ len16(keyARN) ‖ keyARN
//	‖ count8(fields)
//	‖ for each field: len16(name) ‖ name ‖ SHA-256(value)
//
// len16 two big-endian bytes, count8 one byte. fields must be Fields(op), in
// that order: ErrMalformed otherwise.
func Message(doc, request []byte, op, keyARN string, fields []Field) ([]byte, error) {
	return MessageOfDigests(sha256.Sum256(doc), sha256.Sum256(request), op, keyARN, fields)
}

// MessageOfDigests is Message given the SHA-256 of the document and of the
// request, for a signer that has them already (the server hashed the body
// to check its signature).
func MessageOfDigests(docSHA256, requestSHA256 [sha256.Size]byte, op, keyARN string, fields []Field) ([]byte, error) {
	names := Fields(op)
	if names == nil {
		return nil, fmt.Errorf("%w: %q answers are not signed", ErrMalformed, op)
	}
	if len(fields) != len(names) {
		return nil, fmt.Errorf("%w: %s signs %d fields, not %d", ErrMalformed, op, len(names), len(fields))
	}
	if len(keyARN) > 0xffff {
		return nil, fmt.Errorf("%w: key ARN longer than %d bytes", ErrMalformed, 0xffff)
	}
	b := make([]byte, 0, 320)
	b = append(b, Label...)
	b = append(b, 0)
	b = append(b, docSHA256[:]...)
	b = append(b, requestSHA256[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(op)))
	b = append(b, op...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(keyARN)))
	b = append(b, keyARN...)
	b = append(b, byte(len(fields)))
	for i, f := range fields {
		if f.Name != names[i] {
			return nil, fmt.Errorf("%w: field %d of %s is %s, not %s", ErrMalformed, i, op, names[i], f.Name)
		}
		h := sha256.Sum256(f.Value)
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.Name)))
		b = append(b, f.Name...)
		b = append(b, h[:]...)
	}
	return b, nil
}

// Signature is an answer's signature as the dialects carry it: KeyID is the
// signing key's Fingerprint, Signature the 64-byte Ed25519 signature of
// Message, PublicKey the signing key's 32 bytes (so that an enclave that
// pins a fingerprint alone can verify; its fingerprint must be KeyID).
type Signature struct {
	KeyID     string
	Signature []byte
	PublicKey []byte
}

// Sign signs the answer Message describes with priv.
func Sign(priv ed25519.PrivateKey, doc, request []byte, op, keyARN string, fields []Field) (*Signature, error) {
	return SignDigests(priv, sha256.Sum256(doc), sha256.Sum256(request), op, keyARN, fields)
}

// SignDigests is Sign given the SHA-256 of the document and of the request
// (MessageOfDigests).
func SignDigests(priv ed25519.PrivateKey, docSHA256, requestSHA256 [sha256.Size]byte, op, keyARN string, fields []Field) (*Signature, error) {
	m, err := MessageOfDigests(docSHA256, requestSHA256, op, keyARN, fields)
	if err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	return &Signature{KeyID: Fingerprint(pub), Signature: ed25519.Sign(priv, m), PublicKey: pub}, nil
}

// Verify checks that sig is by a key whose Fingerprint is one of pinned,
// over the answer Message describes: request is the body the verifier sent,
// byte for byte. nil sig is ErrUnsigned. The key is the one sig carries,
// trusted only because its fingerprint is pinned.
func Verify(pinned []string, sig *Signature, doc, request []byte, op, keyARN string, fields []Field) error {
	if sig == nil || len(sig.Signature) == 0 {
		return ErrUnsigned
	}
	if len(sig.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: a %d-byte public key, not Ed25519's %d", ErrMalformed, len(sig.PublicKey), ed25519.PublicKeySize)
	}
	pub := ed25519.PublicKey(sig.PublicKey)
	fp := Fingerprint(pub)
	if !strings.EqualFold(sig.KeyID, fp) {
		return fmt.Errorf("%w: KeyId %q is not the fingerprint of the key it carries (%s)", ErrMalformed, sig.KeyID, fp)
	}
	found := false
	for _, p := range pinned {
		found = found || strings.EqualFold(p, fp)
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrUnknownKey, fp)
	}
	m, err := Message(doc, request, op, keyARN, fields)
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, m, sig.Signature) {
		return fmt.Errorf("%w: %s answer under key %q", ErrSignature, op, keyARN)
	}
	return nil
}

// Fingerprint is the hex SHA-256 of pub's DER SubjectPublicKeyInfo: the
// KeyId of its signatures, and what `attestkms service-key` prints. An
// Ed25519 SubjectPublicKeyInfo is a fixed 12-byte prefix and the key
// (RFC 8410): it is built here, not marshalled, since every answer signed
// or verified needs it (TestFingerprint checks it against crypto/x509).
func Fingerprint(pub ed25519.PublicKey) string {
	var der [len(spkiPrefix) + ed25519.PublicKeySize]byte
	copy(der[:], spkiPrefix)
	copy(der[len(spkiPrefix):], pub)
	h := sha256.Sum256(der[:])
	return hex.EncodeToString(h[:])
}

// spkiPrefix is the DER of an Ed25519 SubjectPublicKeyInfo before the key:
// SEQUENCE(42) { SEQUENCE(5) { OID 1.3.101.112 }, BIT STRING(33) 0x00 … }.
const spkiPrefix = "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00"

// EncodePEM is pub as a PEM "PUBLIC KEY" (SubjectPublicKeyInfo).
func EncodePEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePEM reads every Ed25519 "PUBLIC KEY" block of b: ErrMalformed if
// there is none or one is not an Ed25519 key. Text around the blocks (the
// fingerprint lines `attestkms service-key` prints) is ignored.
func ParsePEM(b []byte) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: a %T public key, not Ed25519", ErrMalformed, k)
		}
		out = append(out, pub)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no PUBLIC KEY block", ErrMalformed)
	}
	return out, nil
}

// IsFingerprint reports whether s has the form of a Fingerprint: 64 hex
// digits.
func IsFingerprint(s string) bool {
	_, err := hex.DecodeString(s)
	return len(s) == 64 && err == nil
}

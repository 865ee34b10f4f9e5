package recipient

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
)

// HPKE wrapping (RFC 9180). Besides RSAES_OAEP_SHA_256, a Recipient may name
// one of two HPKE suites, both in mode base with HKDF-SHA256 and AES-256-GCM:
//
//	HPKE_P256_SHA256_AES256GCM            DHKEM(P-256, HKDF-SHA256)   KEM 0x0010
//	HPKE_MLKEM768X25519_SHA256_AES256GCM  ML-KEM-768 + X25519 (X-Wing) KEM 0x647a
//
// For the first, the evidence's public_key is the enclave's P-256 key as a
// DER SubjectPublicKeyInfo. The second's public key, 1216 bytes (the
// ML-KEM-768 encapsulation key, 1184 bytes, then the X25519 key, 32 bytes,
// as draft-ietf-hpke-pq serializes it), does not fit the 1024 bytes of a
// Nitro document's public_key: the evidence's public_key is then the 32-byte
// SHA-256 of those 1216 bytes (MLKEMKeyDigest), in every format, and the
// Recipient carries the key itself. The service takes a key only if its
// digest is the one the evidence carries.
//
// CiphertextForRecipient is then one frame (version 1), big-endian:
//
//	offset  size  field
//	0       1     version, 0x01
//	1       1     algorithm: 0x01 HPKE_P256_SHA256_AES256GCM, 0x02 HPKE_MLKEM768X25519_SHA256_AES256GCM
//	2       2     len(enc): 65 for P-256, 1120 for ML-KEM-768+X25519
//	4       4     len(ct): the secret's length plus 16 (the GCM tag)
//	8       enc   the KEM's encapsulated key
//	8+enc   ct    the AEAD ciphertext of the secret, sequence number 0, empty aad
//
// nothing before or after. The HPKE info (HPKEInfo) binds the operation, the
// key ARN and the SHA-256 of the attestation document, so that an answer
// opens only in the context of the request it answers: replayed into another
// operation, for another key, or to another document (another nonce), it
// fails to decrypt.
//
// What this does not do: like CMS, a frame is not signed. Anyone who knows
// the enclave's public key (the host, which forwards the Recipient) can seal
// a secret of their own choosing to it under the same info; only an
// authenticated answer stops that.

// The HPKE key encryption algorithms, named as a Recipient names them.
const (
	AlgHPKEP256           = "HPKE_P256_SHA256_AES256GCM"
	AlgHPKEMLKEM768X25519 = "HPKE_MLKEM768X25519_SHA256_AES256GCM"
)

// HPKEVersion is the frame's first byte.
const HPKEVersion = 0x01

// MLKEMPublicKeySize is the length of an HPKE_MLKEM768X25519_SHA256_AES256GCM
// public key: ML-KEM-768's encapsulation key (1184) and X25519's (32).
const MLKEMPublicKeySize = 1216

// hpkeInfoLabel opens every info string: it names this use and its version.
const hpkeInfoLabel = "attestkms-hpke-v1"

// maxHPKESecret bounds what a frame carries: the largest secret the service
// wraps is an RSA-4096 data key pair's private key (about 2.4 KiB); CMS's
// envelope is bounded at 64 KiB too.
const maxHPKESecret = 64 << 10

const (
	hpkeHeaderLen = 8
	gcmTagLen     = 16
)

type hpkeSuite struct {
	alg  string
	id   byte
	kem  hpke.KEM
	nenc int
}

var hpkeSuites = []hpkeSuite{
	{AlgHPKEP256, 0x01, hpke.DHKEM(ecdh.P256()), 65},
	{AlgHPKEMLKEM768X25519, 0x02, hpke.MLKEM768X25519(), 1120},
}

func suiteOf(alg string) (hpkeSuite, bool) {
	for _, s := range hpkeSuites {
		if s.alg == alg {
			return s, true
		}
	}
	return hpkeSuite{}, false
}

// IsHPKE reports whether alg names one of the HPKE suites.
func IsHPKE(alg string) bool {
	_, ok := suiteOf(alg)
	return ok
}

// HPKEInfo is the HPKE info of a wrap for operation op (the AWS KMS name:
// GenerateDataKey, Decrypt, GenerateDataKeyPair, GenerateRandom,
// DeriveSharedSecret, GenerateDataKeyWithoutPlaintext...), under the key
// keyARN ("" for GenerateRandom, which has none), for the Recipient whose
// attestation document is doc:
//
//	"attestkms-hpke-v1" ‖ 0x00 ‖ len16(op) ‖ op ‖ len16(keyARN) ‖ keyARN ‖ SHA-256(doc)
//
// lengths as two big-endian bytes. The enclave computes the same from what
// it asked and the answer's KeyId.
func HPKEInfo(op, keyARN string, doc []byte) []byte {
	h := sha256.Sum256(doc)
	b := make([]byte, 0, len(hpkeInfoLabel)+1+2+len(op)+2+len(keyARN)+len(h))
	b = append(b, hpkeInfoLabel...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(op)))
	b = append(b, op...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(keyARN)))
	b = append(b, keyARN...)
	return append(b, h[:]...)
}

// MLKEMKeyDigest is what evidence carries in public_key for an
// HPKE_MLKEM768X25519_SHA256_AES256GCM key: the SHA-256 of its 1216 bytes.
func MLKEMKeyDigest(pub []byte) []byte {
	h := sha256.Sum256(pub)
	return h[:]
}

// ParseHPKEPublicKey reads a public key for alg: for HPKE_P256_SHA256_AES256GCM
// a DER SubjectPublicKeyInfo of a P-256 key, for
// HPKE_MLKEM768X25519_SHA256_AES256GCM the 1216-byte encoding. Anything else
// is ErrKey (ErrAlgorithm for an alg that is not HPKE).
func ParseHPKEPublicKey(alg string, b []byte) (hpke.PublicKey, error) {
	s, ok := suiteOf(alg)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an HPKE algorithm", ErrAlgorithm, describeAlgorithm(alg))
	}
	if s.id == 0x01 {
		pub, err := x509.ParsePKIXPublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("%w: not the DER SubjectPublicKeyInfo of a P-256 key", ErrKey)
		}
		ek, ok := pub.(*ecdsa.PublicKey)
		if !ok || ek.Curve.Params().Name != "P-256" {
			return nil, fmt.Errorf("%w: a %T, not a P-256 key", ErrKey, pub)
		}
		e, err := ek.ECDH()
		if err != nil {
			return nil, fmt.Errorf("%w: P-256 key: %v", ErrKey, err)
		}
		return hpke.NewDHKEMPublicKey(e)
	}
	if len(b) != MLKEMPublicKeySize {
		return nil, fmt.Errorf("%w: an ML-KEM-768+X25519 public key is %d bytes, not %d", ErrKey, MLKEMPublicKeySize, len(b))
	}
	pk, err := s.kem.NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: ML-KEM-768+X25519 public key: %v", ErrKey, err)
	}
	return pk, nil
}

// WrapHPKE seals secret to pub, a key of one of the two suites, under info
// (HPKEInfo), and returns the frame described above. The encapsulation's
// randomness is crypto/rand's: crypto/hpke takes no other.
func WrapHPKE(pub hpke.PublicKey, info, secret []byte) ([]byte, error) {
	if pub == nil {
		return nil, fmt.Errorf("%w: no public key", ErrKey)
	}
	s, err := suiteOfKEM(pub.KEM())
	if err != nil {
		return nil, err
	}
	if err := checkSecretSize(len(secret), maxHPKESecret, func() string { return "an HPKE frame holds" }); err != nil {
		return nil, err
	}
	enc, sender, err := hpke.NewSender(pub, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
	if err != nil {
		return nil, fmt.Errorf("hpke: %w", err)
	}
	ct, err := sender.Seal(nil, secret)
	if err != nil {
		return nil, fmt.Errorf("hpke: %w", err)
	}
	if len(enc) != s.nenc {
		return nil, fmt.Errorf("hpke: enc of %d bytes, want %d", len(enc), s.nenc)
	}
	return EncodeHPKEFrame(s.alg, enc, ct)
}

func suiteOfKEM(k hpke.KEM) (hpkeSuite, error) {
	for _, s := range hpkeSuites {
		if s.kem.ID() == k.ID() {
			return s, nil
		}
	}
	return hpkeSuite{}, fmt.Errorf("%w: HPKE KEM 0x%04x is not one of ours", ErrKey, k.ID())
}

// HPKEFrame is a parsed frame; Enc and Ciphertext alias the input.
type HPKEFrame struct {
	Algorithm  string
	Enc        []byte
	Ciphertext []byte
}

// EncodeHPKEFrame writes the frame of enc and ct for alg.
func EncodeHPKEFrame(alg string, enc, ct []byte) ([]byte, error) {
	s, ok := suiteOf(alg)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an HPKE algorithm", ErrAlgorithm, describeAlgorithm(alg))
	}
	b := make([]byte, 0, hpkeHeaderLen+len(enc)+len(ct))
	b = append(b, HPKEVersion, s.id)
	b = binary.BigEndian.AppendUint16(b, uint16(len(enc)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ct)))
	b = append(b, enc...)
	return append(b, ct...), nil
}

// ParseHPKEFrame reads a frame, strictly: version 1, a known algorithm, enc
// of exactly that KEM's length, a ciphertext of 17 bytes to 64 KiB plus 16,
// and nothing after it. Anything else is ErrMalformed. It decrypts nothing.
func ParseHPKEFrame(b []byte) (HPKEFrame, error) {
	if len(b) < hpkeHeaderLen {
		return HPKEFrame{}, fmt.Errorf("%w: an HPKE frame of %d bytes is shorter than its header", ErrMalformed, len(b))
	}
	if b[0] != HPKEVersion {
		return HPKEFrame{}, fmt.Errorf("%w: HPKE frame version %d, want %d", ErrMalformed, b[0], HPKEVersion)
	}
	var s hpkeSuite
	for _, c := range hpkeSuites {
		if c.id == b[1] {
			s = c
		}
	}
	if s.kem == nil {
		return HPKEFrame{}, fmt.Errorf("%w: HPKE frame algorithm 0x%02x is unknown", ErrMalformed, b[1])
	}
	nenc := int(binary.BigEndian.Uint16(b[2:4]))
	nct := uint64(binary.BigEndian.Uint32(b[4:8]))
	if nenc != s.nenc {
		return HPKEFrame{}, fmt.Errorf("%w: HPKE frame enc of %d bytes, %s's is %d", ErrMalformed, nenc, s.alg, s.nenc)
	}
	if nct <= gcmTagLen || nct > maxHPKESecret+gcmTagLen {
		return HPKEFrame{}, fmt.Errorf("%w: HPKE frame ciphertext of %d bytes, want %d to %d", ErrMalformed, nct, gcmTagLen+1, maxHPKESecret+gcmTagLen)
	}
	if uint64(len(b)) != hpkeHeaderLen+uint64(nenc)+nct {
		return HPKEFrame{}, fmt.Errorf("%w: HPKE frame of %d bytes, its header says %d", ErrMalformed, len(b), hpkeHeaderLen+uint64(nenc)+nct)
	}
	return HPKEFrame{Algorithm: s.alg, Enc: b[hpkeHeaderLen : hpkeHeaderLen+nenc], Ciphertext: b[hpkeHeaderLen+nenc:]}, nil
}

// UnwrapHPKE opens a WrapHPKE frame with priv under info. A frame that is not
// the shape above is ErrMalformed; one for another suite than priv's is
// ErrWrongKey; one that does not open (another key, another info, a flipped
// bit) is ErrDecrypt, without saying which.
func UnwrapHPKE(priv hpke.PrivateKey, info, frame []byte) ([]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("%w: no private key", ErrKey)
	}
	f, err := ParseHPKEFrame(frame)
	if err != nil {
		return nil, err
	}
	s, err := suiteOfKEM(priv.KEM())
	if err != nil {
		return nil, err
	}
	if s.alg != f.Algorithm {
		return nil, fmt.Errorf("%w: the frame is %s, the key is for %s", ErrWrongKey, f.Algorithm, s.alg)
	}
	r, err := hpke.NewRecipient(f.Enc, priv, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
	if err != nil {
		return nil, fmt.Errorf("%w: hpke", ErrDecrypt)
	}
	pt, err := r.Open(nil, f.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: hpke", ErrDecrypt)
	}
	return pt, nil
}

// Package enclave is the enclave side of attestkms: it makes an ephemeral key
// pair (RSA, or for HPKE an EC P-256 or ML-KEM-768+X25519 one: KeyType),
// gets an attestation document binding the public key from an
// Attestor (the Nitro /dev/nsm device, another TEE's, a program of the
// user's through Exec, or a simulator in tests), asks
// attestkms for a secret with that document as the Recipient, and unwraps
// the CiphertextForRecipient that comes back. The secret exists in plaintext
// only inside the enclave.
//
// Threat model: the host and the network are the attacker's. The request is
// signed (SigV4) and should travel over TLS pinned to the server's CA; the
// answer is CMS (RSA) or an HPKE frame (docs/hpke.md) wrapped to a key that
// never leaves this process. An HPKE answer opens only under the info of the
// request it answers (operation, key ARN, SHA-256 of our document), so a
// recorded answer cannot be replayed into another request. The answer is
// authenticated only when Session.ServiceKeys pins attestkms's
// answer-signing key (docs/answers.md): then every answer must be signed by
// it over this request's document, operation, key and fields, or it is
// refused before it is unwrapped. Without ServiceKeys a host that can reach
// attestkms itself could substitute a ciphertext of its own choosing,
// wrapped to our public key (which is public); it cannot learn the secret
// attestkms sent.
package enclave

import (
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/attestkms/attestkms/recipient"
)

// Attestor produces an attestation document that binds publicKeyDER (DER
// SubjectPublicKeyInfo), and optionally a nonce and user data.
type Attestor interface {
	Attest(publicKeyDER, nonce, userData []byte) ([]byte, error)
}

// Key is the enclave's ephemeral key pair: RSA (priv) or HPKE (hpke).
type Key struct {
	priv *rsa.PrivateKey
	hpke hpke.PrivateKey
	alg  string // the Recipient's KeyEncryptionAlgorithm
	der  []byte // what the evidence binds: DER SubjectPublicKeyInfo, or the SHA-256 of pub
	pub  []byte // ML-KEM-768+X25519: the 1216-byte public key the Recipient carries
}

// The key types of NewKeyOfType (enclavetool --key-type).
const (
	KeyTypeRSA            = "rsa"
	KeyTypeP256           = "p256"
	KeyTypeMLKEM768X25519 = "mlkem768x25519"
)

// NewKeyOfType generates a key of type typ: KeyTypeRSA (of bits, as NewKey),
// KeyTypeP256 (HPKE_P256_SHA256_AES256GCM) or KeyTypeMLKEM768X25519
// (HPKE_MLKEM768X25519_SHA256_AES256GCM).
func NewKeyOfType(typ string, bits int) (*Key, error) {
	switch typ {
	case KeyTypeRSA, "":
		return NewKey(bits)
	case KeyTypeP256:
		ec, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(ec.PublicKey())
		if err != nil {
			return nil, err
		}
		priv, err := hpke.NewDHKEMPrivateKey(ec)
		if err != nil {
			return nil, err
		}
		return &Key{hpke: priv, alg: recipient.AlgHPKEP256, der: der}, nil
	case KeyTypeMLKEM768X25519:
		priv, err := hpke.MLKEM768X25519().GenerateKey()
		if err != nil {
			return nil, err
		}
		pub := priv.PublicKey().Bytes()
		return &Key{hpke: priv, alg: recipient.AlgHPKEMLKEM768X25519, der: recipient.MLKEMKeyDigest(pub), pub: pub}, nil
	}
	return nil, fmt.Errorf("key type %q: use %s, %s or %s", typ, KeyTypeRSA, KeyTypeP256, KeyTypeMLKEM768X25519)
}

// Algorithm is the KeyEncryptionAlgorithm a Recipient names for k.
func (k *Key) Algorithm() string { return k.alg }

// RecipientPublicKey is what the Recipient carries beside the document: the
// ML-KEM-768+X25519 key whose SHA-256 the document binds; nil for the others.
func (k *Key) RecipientPublicKey() []byte { return k.pub }

// Unwrap opens a CiphertextForRecipient wrapped to k: CMS for an RSA key; for
// an HPKE key, the frame of the answer to operation op (the AWS KMS name),
// under keyARN ("" for GenerateRandom), for the Recipient whose attestation
// document is doc (recipient.HPKEInfo).
func (k *Key) Unwrap(op, keyARN string, doc, cfr []byte) ([]byte, error) {
	if k.hpke != nil {
		return recipient.UnwrapHPKE(k.hpke, recipient.HPKEInfo(op, keyARN, doc), cfr)
	}
	return recipient.UnwrapCMS(k.priv, cfr)
}

// NewKey generates a key of bits (2048, 3072 or 4096; 0 means 2048).
func NewKey(bits int) (*Key, error) {
	if bits == 0 {
		bits = 2048
	}
	if bits != 2048 && bits != 3072 && bits != 4096 {
		return nil, fmt.Errorf("key size %d: use 2048, 3072 or 4096", bits)
	}
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	return keyOf(priv)
}

// ParseKey reads an RSA private key from PEM (PKCS#1 or PKCS#8).
func ParseKey(pemBytes []byte) (*Key, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		return nil, errors.New("no PEM block in the key file")
	}
	var priv *rsa.PrivateKey
	switch blk.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		priv = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("the key is %T, not RSA", k)
		}
		priv = rk
	default:
		return nil, fmt.Errorf("a %q PEM block, want an RSA private key", blk.Type)
	}
	if n := priv.N.BitLen(); n < 2048 || n > 4096 {
		return nil, fmt.Errorf("an RSA-%d key: attestkms wraps only to 2048-4096-bit keys", n)
	}
	return keyOf(priv)
}

func keyOf(priv *rsa.PrivateKey) (*Key, error) {
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{priv: priv, alg: recipient.KeyEncryptionAlgorithm, der: der}, nil
}

// PublicKeyDER is what the attestation document binds: the key's DER
// SubjectPublicKeyInfo (RSA, P-256), or for an ML-KEM-768+X25519 key the
// 32-byte SHA-256 of RecipientPublicKey.
func (k *Key) PublicKeyDER() []byte { return k.der }

// MarshalPEM returns the private key as PKCS#8 PEM; RSA keys only.
func (k *Key) MarshalPEM() ([]byte, error) {
	if k.priv == nil {
		return nil, errors.New("only RSA keys are exported")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

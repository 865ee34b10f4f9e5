// Package enclave is the enclave side of attestkms: it makes an ephemeral RSA
// key pair, gets an attestation document binding the public key from an
// Attestor (the Nitro /dev/nsm device, or a simulator in tests), asks
// attestkms for a secret with that document as the Recipient, and unwraps
// the CiphertextForRecipient that comes back. The secret exists in plaintext
// only inside the enclave.
//
// Threat model: the host and the network are the attacker's. The request is
// signed (SigV4) and should travel over TLS pinned to the server's CA; the
// answer is CMS wrapped to a key that never leaves this process. What this
// package does not do: authenticate the answer — a host that can reach
// attestkms itself could substitute a ciphertext of its own choosing,
// wrapped to our public key (which is public); it cannot learn the secret
// attestkms sent. Callers that need to know the secret came from attestkms
// bind it to something only attestkms holds (a ciphertext blob it decrypts,
// an encryption context).
package enclave

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Attestor produces an attestation document that binds publicKeyDER (DER
// SubjectPublicKeyInfo), and optionally a nonce and user data.
type Attestor interface {
	Attest(publicKeyDER, nonce, userData []byte) ([]byte, error)
}

// Key is the enclave's ephemeral RSA key pair.
type Key struct {
	priv *rsa.PrivateKey
	der  []byte // public key, DER SubjectPublicKeyInfo
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
	return &Key{priv: priv, der: der}, nil
}

// PublicKeyDER is the key's DER SubjectPublicKeyInfo, which the attestation
// document carries.
func (k *Key) PublicKeyDER() []byte { return k.der }

// MarshalPEM returns the private key as PKCS#8 PEM.
func (k *Key) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

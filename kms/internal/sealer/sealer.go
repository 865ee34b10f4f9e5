// Package sealer encrypts what attestkms keeps at rest (key material, credential
// secrets) under the root key.
//
// Threat model: whoever reads the database file — a backup, a stolen disk, a
// copied data directory without the root key file — learns key metadata but no
// key material and no credential secret. Every sealed value is bound to what it
// is (its purpose) and to whose it is (its id, e.g. a key id and material
// version) as associated data, so a sealed value copied into another record
// does not open there. Whoever holds the root key holds every key: it belongs in
// a file only root can read, or a secret manager.
//
// The AES-256-GCM key is derived from the root key with HKDF-SHA256, so the
// root key itself is never used as a cipher key and other purposes can get
// their own keys later. Nonces are random: a store seals one value per key
// creation, rotation or credential, far below GCM's 2^32 random-nonce bound.
package sealer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
)

// RootKeySize is the size of a root key in bytes.
const RootKeySize = 32

// ErrOpen is returned when a sealed value does not open: the wrong root key,
// the wrong purpose or id, or tampered bytes.
var ErrOpen = errors.New("sealed value does not open")

// Sealer seals and opens values under one root key.
type Sealer struct {
	aead   cipher.AEAD
	backup []byte // the backup MAC key (BackupMAC)
}

// New returns a Sealer for a 32-byte root key. It does not keep rootKey.
func New(rootKey []byte) (*Sealer, error) {
	if len(rootKey) != RootKeySize {
		return nil, fmt.Errorf("root key must be %d bytes, got %d", RootKeySize, len(rootKey))
	}
	k, err := hkdf.Key(sha256.New, rootKey, nil, "attestkms v1 at-rest sealing", 32)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	mk, err := hkdf.Key(sha256.New, rootKey, nil, backupMACLabel, 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, backup: mk}, nil
}

// backupMACLabel is the HKDF info of the backup MAC key: distinct from the
// sealing key's, so that neither key says anything about the other.
const backupMACLabel = "attestkms v1 backup mac"

// BackupMAC is a new HMAC-SHA-256 under the backup MAC key, derived from
// the root key with HKDF-SHA256 (label "attestkms v1 backup mac"): never
// the root key itself, nor the sealing key. A root key held in an HSM
// derives it there (or computes the MAC there) behind this same method.
func (s *Sealer) BackupMAC() hash.Hash {
	return hmac.New(sha256.New, s.backup)
}

func aad(purpose string, id []byte) []byte {
	a := make([]byte, 0, len(purpose)+1+len(id))
	a = append(a, purpose...)
	a = append(a, 0)
	return append(a, id...)
}

// Seal encrypts plaintext for purpose and id: nonce || ciphertext || tag.
func (s *Sealer) Seal(purpose string, id, plaintext []byte) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		panic("sealer: crypto/rand failed: " + err.Error()) // crypto/rand does not fail on supported platforms
	}
	return s.aead.Seal(out, out[:ns], plaintext, aad(purpose, id))
}

// Open decrypts a value sealed for purpose and id.
func (s *Sealer) Open(purpose string, id, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], aad(purpose, id))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Package sealer encrypts what attestkms keeps at rest (key material, credential
// secrets) under the root key.
//
// Threat model: whoever reads the database file — a backup, a stolen disk, a
// copied data directory without the root key — learns key metadata but no
// key material and no credential secret. Every sealed value is bound to what it
// is (its purpose) and to whose it is (its id, e.g. a key id and material
// version) as associated data, so a sealed value copied into another record
// does not open there. Whoever holds the root key holds every key: it belongs
// in a hardware token (NewWrapped), a secret manager, or a file only root can
// read.
//
// Two kinds of root key, two stored formats (a store is sealed under one
// root key, so its kind says which format every value has):
//
//   - A root key in memory (New: a file, an environment variable). The
//     AES-256-GCM key is derived from it with HKDF-SHA256, so the root key
//     itself is never used as a cipher key and other purposes get their own
//     keys. A sealed value is nonce || ciphertext || tag. Nonces are random:
//     a store seals one value per key creation, rotation or credential, far
//     below GCM's 2^32 random-nonce bound.
//   - A root key that never leaves its device (NewWrapped: a PKCS#11 token,
//     non-extractable). Every value gets a data key of its own, random,
//     wrapped by the device bound to the value's purpose and id; the value is
//     sealed under the data key as above. A sealed value is
//     0x01 || len(wrapped) (2 bytes, big-endian) || wrapped || nonce ||
//     ciphertext || tag. Opening a value is one call to the device: the key
//     cache above keeps opened keys, so a request on a warm key makes none,
//     and the device, not this process, decides whether a cold one opens.
//     Per value rather than one store-wide data key: a store key unwrapped
//     once at start would make the device a start-up check only (the
//     process would hold everything from then on, as with a file), and a
//     device taken away would stop nothing.
package sealer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// RootKeySize is the size of a root key in bytes (and of a data key).
const RootKeySize = 32

// ErrOpen is returned when a sealed value does not open: the wrong root key,
// the wrong purpose or id, or tampered bytes.
var ErrOpen = errors.New("sealed value does not open")

// ErrUnavailable is returned (wrapped, with the device's reason) when a
// device root key cannot answer: a token removed, a module that fails, a
// session lost. It says nothing about the value: the same call succeeds
// once the device is back.
var ErrUnavailable = errors.New("root key unavailable")

// KeyWrapper is a root key held by a device that does the cryptography
// itself and never reveals the key (a PKCS#11 token). Errors other than a
// wrapped key that does not open (ErrOpen) wrap ErrUnavailable.
type KeyWrapper interface {
	// WrapKey encrypts the data key dek (RootKeySize bytes), bound to aad:
	// authenticated encryption (AES-GCM in the device, a fresh random IV
	// each call), so that a changed byte or another aad does not unwrap.
	WrapKey(dek, aad []byte) ([]byte, error)
	// UnwrapKey reverses WrapKey; ErrOpen if wrapped or aad was changed
	// or another key wrapped it.
	UnwrapKey(wrapped, aad []byte) ([]byte, error)
	// DeriveKey returns RootKeySize bytes derived from the root key for
	// label, the same for the same key and label every time (a PRF run by
	// the device, e.g. NIST SP 800-108 counter mode with AES-CMAC). The
	// caller owns the result and zeroes it.
	DeriveKey(label string) ([]byte, error)
	// Describe names the root key for messages (never a secret: e.g. the
	// token and object label).
	Describe() string
	// Close releases the device's sessions.
	Close() error
}

// Sealer seals and opens values under one root key.
type Sealer struct {
	aead   cipher.AEAD // a root key in memory: its derived sealing key
	wrap   KeyWrapper  // a device root key: wraps every value's data key
	backup []byte      // the backup MAC key (BackupMAC)
	record []byte      // the record MAC key (RecordMAC)
}

// New returns a Sealer for a 32-byte root key in memory. It does not keep
// rootKey.
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
	rk, err := hkdf.Key(sha256.New, rootKey, nil, recordMACLabel, 32)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(k)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, backup: mk, record: rk}, nil
}

// NewWrapped returns a Sealer whose root key is w's, in its device. It asks
// the device twice, for the backup MAC key and the record MAC key (so a
// device that is not there fails here); the Sealer owns w and Close closes
// it.
func NewWrapped(w KeyWrapper) (*Sealer, error) {
	var keys [2][]byte
	for i, label := range []string{backupMACLabel, recordMACLabel} {
		k, err := w.DeriveKey(label)
		if err == nil && len(k) != RootKeySize {
			clear(k)
			err = fmt.Errorf("%w: %s derived a key of %d bytes", ErrUnavailable, w.Describe(), len(k))
		}
		if err != nil {
			clear(keys[0])
			return nil, err
		}
		keys[i] = k
	}
	return &Sealer{wrap: w, backup: keys[0], record: keys[1]}, nil
}

// Wrapped reports whether the root key is a device's (NewWrapped).
func (s *Sealer) Wrapped() bool { return s.wrap != nil }

// Close zeroes the backup MAC key and closes the device of a wrapped root
// key. The Sealer is not used after.
func (s *Sealer) Close() error {
	if s == nil {
		return nil
	}
	clear(s.backup)
	clear(s.record)
	if s.wrap != nil {
		return s.wrap.Close()
	}
	return nil
}

// backupMACLabel is the HKDF info (or device derivation label) of the
// backup MAC key: distinct from the sealing key's, so that neither key says
// anything about the other.
const backupMACLabel = "attestkms v1 backup mac"

// BackupMAC is a new HMAC-SHA-256 under the backup MAC key, derived from
// the root key (HKDF-SHA256 with label "attestkms v1 backup mac" for a root
// key in memory; the device's DeriveKey for a device's): never the root key
// itself, nor a sealing key.
func (s *Sealer) BackupMAC() hash.Hash {
	return hmac.New(sha256.New, s.backup)
}

// recordMACLabel is the HKDF info (or device derivation label) of the
// record MAC key, which authenticates every record of the store (package
// store, mac.go): distinct from the sealing and backup MAC keys.
const recordMACLabel = "attestkms v1 record mac"

// RecordMAC is a new HMAC-SHA-256 under the record MAC key, derived from
// the root key as the backup MAC key is, with label "attestkms v1 record
// mac": held in memory (a device root key derives it once, in NewWrapped),
// so that authenticating a record costs no call to the device.
func (s *Sealer) RecordMAC() hash.Hash {
	return hmac.New(sha256.New, s.record)
}

func newGCM(k []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func aad(purpose string, id []byte) []byte {
	a := make([]byte, 0, len(purpose)+1+len(id))
	a = append(a, purpose...)
	a = append(a, 0)
	return append(a, id...)
}

// dataKeyAAD binds a value's wrapped data key to the value's purpose and
// id, under a label of its own: a data key wrapped for one record does not
// unwrap as another's.
func dataKeyAAD(purpose string, id []byte) []byte {
	return append([]byte("attestkms v1 data key\x00"), aad(purpose, id)...)
}

const (
	wrappedFormat = 0x01
	maxWrapped    = 1024 // a device's wrapping of 32 bytes: far below
)

// Seal encrypts plaintext for purpose and id. Only a device root key fails
// (ErrUnavailable).
func (s *Sealer) Seal(purpose string, id, plaintext []byte) ([]byte, error) {
	if s.wrap == nil {
		return seal(s.aead, nil, purpose, id, plaintext), nil
	}
	dek := make([]byte, RootKeySize)
	defer clear(dek)
	rand.Read(dek)
	wrapped, err := s.wrap.WrapKey(dek, dataKeyAAD(purpose, id))
	if err != nil {
		return nil, err
	}
	if len(wrapped) == 0 || len(wrapped) > maxWrapped {
		return nil, fmt.Errorf("%w: %s wrapped a data key into %d bytes", ErrUnavailable, s.wrap.Describe(), len(wrapped))
	}
	aead, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	hdr := binary.BigEndian.AppendUint16([]byte{wrappedFormat}, uint16(len(wrapped)))
	return seal(aead, append(hdr, wrapped...), purpose, id, plaintext), nil
}

// seal appends nonce || ciphertext || tag to prefix.
func seal(aead cipher.AEAD, prefix []byte, purpose string, id, plaintext []byte) []byte {
	ns := aead.NonceSize()
	out := make([]byte, len(prefix)+ns, len(prefix)+ns+len(plaintext)+aead.Overhead())
	copy(out, prefix)
	rand.Read(out[len(prefix):]) // crypto/rand does not fail (Go 1.24+: it crashes the program instead)
	return aead.Seal(out, out[len(prefix):], plaintext, aad(purpose, id))
}

// Open decrypts a value sealed for purpose and id: ErrOpen if it does not
// open; with a device root key, an error wrapping ErrUnavailable if the
// device cannot answer.
func (s *Sealer) Open(purpose string, id, sealed []byte) ([]byte, error) {
	aead := s.aead
	if s.wrap != nil {
		if len(sealed) < 3 || sealed[0] != wrappedFormat {
			return nil, ErrOpen
		}
		n := int(binary.BigEndian.Uint16(sealed[1:3]))
		if n == 0 || n > maxWrapped || len(sealed) < 3+n {
			return nil, ErrOpen
		}
		dek, err := s.wrap.UnwrapKey(sealed[3:3+n], dataKeyAAD(purpose, id))
		if err != nil {
			if errors.Is(err, ErrUnavailable) {
				return nil, err
			}
			return nil, ErrOpen
		}
		aead, err = newGCM(dek)
		clear(dek)
		if err != nil {
			return nil, ErrOpen
		}
		sealed = sealed[3+n:]
	}
	ns := aead.NonceSize()
	if len(sealed) < ns+aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, sealed[:ns], sealed[ns:], aad(purpose, id))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sort"

	"github.com/attestkms/attestkms/internal/hmacsha256"
)

// The ciphertext blob (docs/ciphertext.md), version 1:
//
//	offset  size  field
//	0       1     version, 0x01
//	1       16    key id (the UUID's 16 bytes)
//	17      4     key material version, big-endian
//	21      24    salt, random per blob
//	45      n+16  AES-256-GCM(K, nonce = 12 zero bytes, plaintext, AAD) with its tag
//
// K = HKDF-SHA256(ikm = key material, salt = salt, info = "attestkms blob v1").
// AAD = bytes 0..44 of the blob || encodeContext(encryption context).
//
// Every blob has its own GCM key, so the fixed nonce is never reused under one
// key (a repeat needs two equal 192-bit salts), and a key material version can
// encrypt without GCM's 2^32 random-nonce bound. The header is authenticated,
// so any changed byte — version, key id, material version, salt, ciphertext,
// tag — or a different encryption context fails to open.
const (
	blobVersion1  = 0x01
	blobHeaderLen = 1 + 16 + 4 + 24
	blobTagLen    = 16
	// maxBlobLen is AWS KMS's limit on a CiphertextBlob.
	maxBlobLen = 6144
	// maxPlaintextLen is what Encrypt accepts; data key pairs' PKCS#8 private
	// keys (RSA-4096: about 2.4 KB) fit under it too.
	maxPlaintextLen = 4096
)

var blobInfo = []byte("attestkms blob v1")

var errBlob = errors.New("not a ciphertext blob")

// blobHeader is the clear part of a ciphertext blob.
type blobHeader struct {
	keyID   [16]byte
	version uint32
	salt    [24]byte
}

func (h *blobHeader) marshal() []byte {
	b := make([]byte, blobHeaderLen)
	b[0] = blobVersion1
	copy(b[1:17], h.keyID[:])
	binary.BigEndian.PutUint32(b[17:21], h.version)
	copy(b[21:45], h.salt[:])
	return b
}

// parseBlob splits a blob into its header and sealed part. It checks only the
// shape: whether the blob is genuine is decided by opening it.
func parseBlob(b []byte) (blobHeader, []byte, error) {
	var h blobHeader
	if len(b) < blobHeaderLen+blobTagLen || len(b) > maxBlobLen || b[0] != blobVersion1 {
		return h, nil, errBlob
	}
	copy(h.keyID[:], b[1:17])
	h.version = binary.BigEndian.Uint32(b[17:21])
	copy(h.salt[:], b[21:45])
	return h, b[blobHeaderLen:], nil
}

func blobAEAD(material []byte, salt []byte) (cipher.AEAD, error) {
	var k [32]byte
	hmacsha256.HKDF(k[:], material, salt, blobInfo)
	defer clear(k[:])
	b, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

var zeroNonce [12]byte

// sealBlob encrypts plaintext under one key material version.
func sealBlob(keyID [16]byte, version uint32, material, plaintext []byte, ec EncryptionContext) ([]byte, error) {
	var salt [24]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, err
	}
	return sealBlobSalt(keyID, version, material, plaintext, ec, salt)
}

// sealBlobSalt is sealBlob with a given salt, for deterministic tests.
func sealBlobSalt(keyID [16]byte, version uint32, material, plaintext []byte, ec EncryptionContext, salt [24]byte) ([]byte, error) {
	h := blobHeader{keyID: keyID, version: version, salt: salt}
	aead, err := blobAEAD(material, h.salt[:])
	if err != nil {
		return nil, err
	}
	hdr := h.marshal()
	ad := append(hdr[:blobHeaderLen:blobHeaderLen], encodeContext(ec)...)
	return aead.Seal(hdr, zeroNonce[:], plaintext, ad), nil
}

// openBlob decrypts a blob whose header is h and whole bytes are blob.
func openBlob(blob []byte, h blobHeader, material []byte, ec EncryptionContext) ([]byte, error) {
	aead, err := blobAEAD(material, h.salt[:])
	if err != nil {
		return nil, err
	}
	ad := append(blob[:blobHeaderLen:blobHeaderLen], encodeContext(ec)...)
	return aead.Open(nil, zeroNonce[:], blob[blobHeaderLen:], ad)
}

// EncryptionContext is the non-secret key-value map bound to a ciphertext as
// authenticated data.
type EncryptionContext map[string]string

// encodeContext is the canonical encoding of an encryption context: the count
// and then each pair sorted by key, every string prefixed with its length, all
// as big-endian uint16 (validateContext bounds the sizes).
func encodeContext(ec EncryptionContext) []byte {
	keys := make([]string, 0, len(ec))
	n := 2
	for k, v := range ec {
		keys = append(keys, k)
		n += 4 + len(k) + len(v)
	}
	sort.Strings(keys)
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint16(b, uint16(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

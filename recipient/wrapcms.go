package recipient

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
)

// The server's side: WrapCMS writes the envelope of the package doc, with
// AWS's definite and indefinite lengths, to a key whose evidence verified.

// oaepAlgorithmID is the keyEncryptionAlgorithm AWS writes, byte for byte:
// id-RSAES-OAEP with explicit parameters, sha256 and mgf1(sha256) each with
// NULL parameters, pSourceAlgorithm left to its default (the empty label).
var oaepAlgorithmID = der(tagSequence,
	der(tagOID, oidRSAESOAEP),
	der(tagSequence,
		der(tagContext0C, sha256AlgorithmID),
		der(tagContext1C, der(tagSequence, der(tagOID, oidMGF1), sha256AlgorithmID))))

var sha256AlgorithmID = der(tagSequence, der(tagOID, oidSHA256), der(tagNull))

const (
	// contentChunk is the size of the OCTET STRING chunks encryptedContent
	// is cut into. The one real AWS response we hold has a single 224-byte
	// chunk, so AWS's own size is not observed; 1000 is the segment size of
	// BouncyCastle's BEROctetString, whose encoding AWS's matches element for
	// element. kmstool concatenates any number of chunks, as do OpenSSL and
	// UnwrapCMS; only secrets of 992 bytes or more are cut at all.
	contentChunk = 1000

	// maxCMSSecret bounds what WrapCMS wraps: AWS KMS's largest plaintext is
	// 4096 bytes and the PKCS#8 private key of an RSA-4096 data key pair is
	// about 2.4 KB. It keeps every envelope WrapCMS makes far inside
	// maxEnvelope.
	maxCMSSecret = 16 << 10
)

// WrapCMS wraps secret to pub as the CMS EnvelopedData AWS KMS returns for
// Nitro Enclaves in CiphertextForRecipient; the package doc gives its shape.
// spkiDER is the DER SubjectPublicKeyInfo of pub as the evidence carried it:
// the recipient's subject key identifier is its SHA-256, as AWS computes it.
// It must describe pub (ErrKey otherwise); nil means pub's own DER encoding.
// A nil rand is crypto/rand; every call draws a fresh content-encryption key
// and IV from it. The secret must be 1 to 16 KiB long (ErrSecretSize).
//
// The content-encryption key is zeroed before WrapCMS returns, and the
// padded copy of the secret is encrypted in place, so no copy of either
// outlives the call in memory this package owns. (crypto/aes and crypto/rsa
// keep their own transient copies, which Go gives no way to wipe.)
func WrapCMS(pub *rsa.PublicKey, spkiDER []byte, secret []byte, rand io.Reader) ([]byte, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(pub, spkiDER)
	if err != nil {
		return nil, err
	}
	if len(secret) == 0 || len(secret) > maxCMSSecret {
		return nil, fmt.Errorf("%w: %d bytes, want 1 to %d", ErrSecretSize, len(secret), maxCMSSecret)
	}
	if rand == nil {
		rand = cryptorand.Reader
	}

	var cek [cekSize]byte
	defer clear(cek[:])
	iv := make([]byte, ivSize)
	if _, err := io.ReadFull(rand, cek[:]); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	if _, err := io.ReadFull(rand, iv); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	encryptedKey, err := rsa.EncryptOAEP(sha256.New(), rand, pub, cek[:], nil)
	if err != nil {
		return nil, fmt.Errorf("rsa-oaep encryption: %w", err)
	}
	block, err := aes.NewCipher(cek[:])
	if err != nil {
		return nil, err // unreachable: the key is 32 bytes
	}

	// PKCS#7 padding (RFC 5652, 6.3): 1 to 16 bytes, each the pad's length.
	pad := aes.BlockSize - len(secret)%aes.BlockSize
	content := make([]byte, len(secret)+pad)
	copy(content, secret)
	for i := len(secret); i < len(content); i++ {
		content[i] = byte(pad)
	}
	// In place: the padded plaintext is gone once this returns. Nothing
	// between the copy above and here can fail.
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(content, content)

	return marshalEnvelope(ski, encryptedKey, iv, content), nil
}

// subjectKeyID returns SHA-256 of spkiDER, after checking that spkiDER is
// pub's SubjectPublicKeyInfo, or of pub's DER encoding if spkiDER is nil.
func subjectKeyID(pub *rsa.PublicKey, spkiDER []byte) ([]byte, error) {
	switch {
	case spkiDER == nil:
		var err error
		if spkiDER, err = x509.MarshalPKIXPublicKey(pub); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
	case isRSASPKIOf(pub, spkiDER):
		// The one DER encoding of pub, which crypto/x509 reads as pub:
		// the check below would pass, for 2 µs and 9 allocations.
	default:
		k, err := x509.ParsePKIXPublicKey(spkiDER)
		if err != nil {
			return nil, fmt.Errorf("%w: SubjectPublicKeyInfo: %v", ErrKey, err)
		}
		if rk, ok := k.(*rsa.PublicKey); !ok || !rk.Equal(pub) {
			return nil, fmt.Errorf("%w: SubjectPublicKeyInfo is not the public key's", ErrKey)
		}
	}
	h := sha256.Sum256(spkiDER)
	return h[:], nil
}

// rsaAlgorithmID is rsaEncryption with its NULL parameters (RFC 8017).
var rsaAlgorithmID = der(tagSequence, der(tagOID, []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}), der(tagNull))

// isRSASPKIOf reports whether spki is, byte for byte, the DER
// SubjectPublicKeyInfo crypto/x509 writes for pub (a positive modulus of at
// most maxRSABits, a positive exponent): it writes that encoding in a
// buffer on the stack and compares. False says nothing: subjectKeyID then
// has crypto/x509 parse spki, as it always did. A test holds the encoding to
// x509.MarshalPKIXPublicKey's.
func isRSASPKIOf(pub *rsa.PublicKey, spki []byte) bool {
	if pub.N.Sign() <= 0 || pub.N.BitLen() > maxRSABits || pub.E <= 0 {
		return false
	}
	var nbuf [1 + maxRSABits/8]byte
	n := nbuf[:1+(pub.N.BitLen()+7)/8]
	pub.N.FillBytes(n[1:])
	if n[1]&0x80 == 0 { // a leading zero only where the sign bit needs one
		n = n[1:]
	}
	var ebuf [9]byte
	binary.BigEndian.PutUint64(ebuf[1:], uint64(pub.E))
	e := ebuf[:]
	for len(e) > 1 && e[0] == 0 && e[1]&0x80 == 0 {
		e = e[1:]
	}
	keyLen := derLen(len(n)) + derLen(len(e))        // RSAPublicKey's contents
	bitsLen := 1 + derLen(keyLen)                    // the BIT STRING's
	spkiLen := len(rsaAlgorithmID) + derLen(bitsLen) // the SubjectPublicKeyInfo's
	if derLen(spkiLen) != len(spki) {
		return false
	}
	var buf [64 + maxRSABits/8]byte
	b := appendHeader(buf[:0], tagSequence, spkiLen)
	b = append(b, rsaAlgorithmID...)
	b = appendHeader(b, tagBitString, bitsLen)
	b = append(b, 0) // no unused bits
	b = appendHeader(b, tagSequence, keyLen)
	b = appendHeader(b, tagInteger, len(n))
	b = append(b, n...)
	b = appendHeader(b, tagInteger, len(e))
	b = append(b, e...)
	return bytes.Equal(b, spki)
}

// derLen is the length of a DER element with contents of n bytes.
func derLen(n int) int { return len(appendHeader(make([]byte, 0, 6), 0, n)) + n }

// marshalEnvelope encodes ContentInfo(EnvelopedData) for one
// KeyTransRecipientInfo, which names its recipient by ski, in DER as AWS
// does, around the IV and the encrypted content, with AWS's indefinite and
// definite lengths (see the package doc). It writes into one buffer of the
// right size: every length is known before the first byte.
func marshalEnvelope(ski, encryptedKey, iv, content []byte) []byte {
	ktriLen := 3 + derLen(len(ski)) + len(oaepAlgorithmID) + derLen(len(encryptedKey))
	aesLen := derLen(len(oidAES256CBC)) + derLen(len(iv))
	chunks := (len(content) + contentChunk - 1) / contentChunk
	b := make([]byte, 0, 64+derLen(derLen(ktriLen))+derLen(aesLen)+len(content)+4*chunks)
	b = appendIndefinite(b, tagSequence) // ContentInfo
	b = appendDER(b, tagOID, oidEnvelopedData)
	b = appendIndefinite(b, tagContext0C) // [0] EXPLICIT
	b = appendIndefinite(b, tagSequence)  // EnvelopedData
	b = append(b, tagInteger, 1, envelopedDataVersion)
	b = appendHeader(b, tagSet, derLen(ktriLen)) // recipientInfos: one KeyTransRecipientInfo
	b = appendHeader(b, tagSequence, ktriLen)
	b = append(b, tagInteger, 1, ktriVersion)
	b = appendDER(b, tagContext0, ski)
	b = append(b, oaepAlgorithmID...)
	b = appendDER(b, tagOctetString, encryptedKey)
	b = appendIndefinite(b, tagSequence) // EncryptedContentInfo
	b = appendDER(b, tagOID, oidData)
	b = appendHeader(b, tagSequence, aesLen)
	b = appendDER(b, tagOID, oidAES256CBC)
	b = appendDER(b, tagOctetString, iv)
	b = appendIndefinite(b, tagContext0C) // encryptedContent [0] IMPLICIT, constructed
	for c := content; len(c) > 0; {
		n := min(len(c), contentChunk)
		b = appendDER(b, tagOctetString, c[:n])
		c = c[n:]
	}
	for range 5 { // encryptedContent, EncryptedContentInfo, EnvelopedData, [0], ContentInfo
		b = append(b, endOfContents...)
	}
	return b
}

// appendDER appends a definite-length element whose contents are the
// concatenation of parts, its length in the minimal form DER wants.
func appendDER(b []byte, tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b = appendHeader(b, tag, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// der is appendDER to a new slice.
func der(tag byte, parts ...[]byte) []byte { return appendDER(nil, tag, parts...) }

func appendHeader(b []byte, tag byte, n int) []byte {
	b = append(b, tag)
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xff:
		return append(b, 0x81, byte(n))
	case n <= 0xffff:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// appendIndefinite opens a constructed indefinite-length element; each must
// be closed by appending endOfContents.
func appendIndefinite(b []byte, tag byte) []byte { return append(b, tag, 0x80) }

var endOfContents = []byte{0, 0}

package recipient

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"io"
)

// Object identifiers, as the contents of their DER encoding.
var (
	oidEnvelopedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03} // 1.2.840.113549.1.7.3
	oidData          = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01} // 1.2.840.113549.1.7.1
	oidRSAESOAEP     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07} // 1.2.840.113549.1.1.7
	oidMGF1          = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08} // 1.2.840.113549.1.1.8
	oidSHA256        = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01} // 2.16.840.1.101.3.4.2.1
	oidAES256CBC     = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a} // 2.16.840.1.101.3.4.1.42
)

// oaepAlgorithmID is the keyEncryptionAlgorithm AWS writes, byte for byte:
// id-RSAES-OAEP with explicit parameters, sha256 and mgf1(sha256) each with
// NULL parameters, pSourceAlgorithm left to its default (the empty label).
var oaepAlgorithmID = der(tagSequence,
	der(tagOID, oidRSAESOAEP),
	der(tagSequence,
		der(tagContext0C, sha256AlgorithmID),
		der(tagContext1C, der(tagSequence, der(tagOID, oidMGF1), sha256AlgorithmID))))

var sha256AlgorithmID = der(tagSequence, der(tagOID, oidSHA256), der(tagNull))

// Versions: 2 for an EnvelopedData whose recipient is named by subject key
// identifier, and 2 for that KeyTransRecipientInfo (RFC 5652, 6.1 and 6.2.1).
const (
	envelopedDataVersion = 2
	ktriVersion          = 2
)

const (
	cekSize = 32 // AES-256
	ivSize  = aes.BlockSize

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

	// maxEnvelope bounds what UnwrapCMS reads: an envelope of a
	// maxCMSSecret secret to an RSA-4096 key is about 17 KB.
	maxEnvelope = 64 << 10

	// maxContentChunks bounds the chunks of encryptedContent. BouncyCastle
	// (and so, we believe, AWS) cuts 1000-byte chunks, OpenSSL's streaming
	// output 4096-byte ones: a maxEnvelope envelope holds 66 of the former.
	maxContentChunks = 1024
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

	ri := marshalKTRI(ski, oaepAlgorithmID, encryptedKey)
	return marshalEnvelope(ri, iv, content), nil
}

// subjectKeyID returns SHA-256 of spkiDER, after checking that spkiDER is
// pub's SubjectPublicKeyInfo, or of pub's DER encoding if spkiDER is nil.
func subjectKeyID(pub *rsa.PublicKey, spkiDER []byte) ([]byte, error) {
	if spkiDER == nil {
		var err error
		if spkiDER, err = x509.MarshalPKIXPublicKey(pub); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
	} else {
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

// marshalKTRI encodes a KeyTransRecipientInfo naming its recipient by ski,
// in DER as AWS does.
func marshalKTRI(ski, keyAlgorithmID, encryptedKey []byte) []byte {
	return der(tagSequence,
		der(tagInteger, []byte{ktriVersion}),
		der(tagContext0, ski),
		keyAlgorithmID,
		der(tagOctetString, encryptedKey))
}

// marshalEnvelope encodes ContentInfo(EnvelopedData) around the contents of
// the recipientInfos SET, the IV and the encrypted content, with AWS's
// indefinite and definite lengths (see the package doc).
func marshalEnvelope(recipientInfos, iv, content []byte) []byte {
	chunks := (len(content) + contentChunk - 1) / contentChunk
	b := make([]byte, 0, 64+len(recipientInfos)+len(content)+4*chunks)
	b = appendIndefinite(b, tagSequence) // ContentInfo
	b = appendDER(b, tagOID, oidEnvelopedData)
	b = appendIndefinite(b, tagContext0C) // [0] EXPLICIT
	b = appendIndefinite(b, tagSequence)  // EnvelopedData
	b = appendDER(b, tagInteger, []byte{envelopedDataVersion})
	b = appendDER(b, tagSet, recipientInfos)
	b = appendIndefinite(b, tagSequence) // EncryptedContentInfo
	b = appendDER(b, tagOID, oidData)
	b = appendDER(b, tagSequence, der(tagOID, oidAES256CBC), der(tagOctetString, iv))
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

// envelope is what UnwrapCMS needs of a parsed CiphertextForRecipient. It is
// unverified: parsing says nothing of who made it.
type envelope struct {
	ski          []byte // the recipient's subject key identifier
	encryptedKey []byte // RSA-OAEP-SHA-256 of the content-encryption key
	iv           []byte // 16 bytes
	content      []byte // AES-256-CBC ciphertext, a positive multiple of 16 bytes, chunks joined
}

// parseEnvelope reads an envelope of the shape in the package doc, with
// definite or indefinite lengths wherever BER allows either, and checks
// everything that can be checked without the private key.
func parseEnvelope(ber []byte) (*envelope, error) {
	if len(ber) > maxEnvelope {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(ber), maxEnvelope)
	}
	top := reader{b: ber}
	ci, err := top.read(tagSequence, "contentInfo")
	if err != nil {
		return nil, err
	}
	// Nothing may follow. The real AWS response and both sdk-c vectors end
	// exactly at their last end-of-contents (the sdk-c one said to carry two
	// extra zero bytes does not: they are its fifth end-of-contents, that of
	// the constructed encryptedContent). Bytes after the envelope mean nothing
	// to any reader of it, so accepting them would only add one more encoding
	// of the same envelope, for a producer that is broken or a host that
	// tampers; refusing them costs nothing with AWS.
	if !top.empty() {
		return nil, fmt.Errorf("%w: %d bytes after the contentInfo", ErrMalformed, len(top.b))
	}

	r := ci.children()
	if err := readOID(&r, oidEnvelopedData, "contentInfo contentType (want envelopedData)"); err != nil {
		return nil, err
	}
	explicit, err := r.read(tagContext0C, "contentInfo content")
	if err != nil {
		return nil, err
	}
	if err := r.done("contentInfo"); err != nil {
		return nil, err
	}
	r = explicit.children()
	ed, err := r.read(tagSequence, "envelopedData")
	if err != nil {
		return nil, err
	}
	if err := r.done("contentInfo content"); err != nil {
		return nil, err
	}

	var env envelope
	r = ed.children()
	version, err := readSmallInt(&r, "envelopedData version")
	if err != nil {
		return nil, err
	}
	if r.peek() == tagContext0C {
		return nil, fmt.Errorf("%w: envelopedData has originatorInfo", ErrMalformed)
	}
	ris, err := r.read(tagSet, "recipientInfos")
	if err != nil {
		return nil, err
	}
	if err := parseRecipientInfos(ris, &env); err != nil {
		return nil, err
	}
	// Checked after the recipient, whose errors say more: an
	// issuerAndSerialNumber recipient comes with version 0.
	if version != envelopedDataVersion {
		return nil, fmt.Errorf("%w: envelopedData version %d, want %d", ErrMalformed, version, envelopedDataVersion)
	}
	eci, err := r.read(tagSequence, "encryptedContentInfo")
	if err != nil {
		return nil, err
	}
	if r.peek() == tagContext1C {
		return nil, fmt.Errorf("%w: envelopedData has unprotectedAttrs", ErrMalformed)
	}
	if err := r.done("envelopedData"); err != nil {
		return nil, err
	}
	if err := parseEncryptedContentInfo(eci, &env); err != nil {
		return nil, err
	}
	return &env, nil
}

// parseRecipientInfos accepts exactly one KeyTransRecipientInfo, version 2,
// naming its recipient by subject key identifier, with AWS's OAEP algorithm.
//
// A recipient named by issuerAndSerialNumber (version 0, what OpenSSL writes
// without -keyid) is refused: AWS never sends one, an enclave has no
// certificate to match it against, and only a subject key identifier lets
// UnwrapCMS tell "not for this key" from "does not decrypt".
func parseRecipientInfos(ris element, env *envelope) error {
	r := ris.children()
	ktri, err := r.read(tagSequence, "recipientInfo (want keyTransRecipientInfo)")
	if err != nil {
		return err
	}
	if !r.empty() {
		return fmt.Errorf("%w: more than one recipientInfo", ErrMalformed)
	}

	r = ktri.children()
	version, err := readSmallInt(&r, "keyTransRecipientInfo version")
	if err != nil {
		return err
	}
	if version == 0 && r.peek() == tagSequence {
		return fmt.Errorf("%w: recipient named by issuerAndSerialNumber; only a subjectKeyIdentifier is accepted", ErrMalformed)
	}
	if version != ktriVersion {
		return fmt.Errorf("%w: keyTransRecipientInfo version %d, want %d", ErrMalformed, version, ktriVersion)
	}
	ski, err := r.read(tagContext0, "keyTransRecipientInfo rid (want subjectKeyIdentifier)")
	if err != nil {
		return err
	}
	alg, err := r.read(tagSequence, "keyEncryptionAlgorithm")
	if err != nil {
		return err
	}
	if err := checkOAEPAlgorithm(alg); err != nil {
		return err
	}
	ek, err := r.read(tagOctetString, "encryptedKey")
	if err != nil {
		return err
	}
	if err := r.done("keyTransRecipientInfo"); err != nil {
		return err
	}
	if len(ek.body) == 0 {
		return fmt.Errorf("%w: empty encryptedKey", ErrMalformed)
	}
	env.ski, env.encryptedKey = ski.body, ek.body
	return nil
}

// checkOAEPAlgorithm accepts id-RSAES-OAEP with SHA-256 as its hash and
// MGF1-SHA-256 as its mask, both explicit, and no pSourceAlgorithm (the
// empty label, its default). The SHA-256 identifiers may carry NULL
// parameters, as AWS writes, or none, as OpenSSL does: RFC 4055, 2.1, has
// readers accept both. Absent OAEP parameters mean SHA-1, and are refused.
func checkOAEPAlgorithm(alg element) error {
	r := alg.children()
	if err := readOID(&r, oidRSAESOAEP, "keyEncryptionAlgorithm (want id-RSAES-OAEP)"); err != nil {
		return err
	}
	params, err := r.read(tagSequence, "RSAES-OAEP-params (absent means SHA-1)")
	if err != nil {
		return err
	}
	if err := r.done("keyEncryptionAlgorithm"); err != nil {
		return err
	}

	r = params.children()
	hash, err := r.read(tagContext0C, "OAEP hashAlgorithm (absent means SHA-1)")
	if err != nil {
		return err
	}
	if err := readOnlySHA256(hash, "OAEP hashAlgorithm"); err != nil {
		return err
	}
	mask, err := r.read(tagContext1C, "OAEP maskGenAlgorithm (absent means MGF1-SHA-1)")
	if err != nil {
		return err
	}
	if err := r.done("RSAES-OAEP-params (a pSourceAlgorithm is not accepted)"); err != nil {
		return err
	}

	r = mask.children()
	mgf, err := r.read(tagSequence, "OAEP maskGenAlgorithm")
	if err != nil {
		return err
	}
	if err := r.done("OAEP maskGenAlgorithm"); err != nil {
		return err
	}
	r = mgf.children()
	if err := readOID(&r, oidMGF1, "OAEP maskGenAlgorithm (want mgf1)"); err != nil {
		return err
	}
	// MGF1's parameters are the hash's AlgorithmIdentifier, with no tag of
	// their own: what is left of mgf is exactly that identifier.
	return readOnlySHA256(element{body: r.b, depth: r.depth - 1}, "OAEP MGF1 hash")
}

// readOnlySHA256 checks that e holds one AlgorithmIdentifier, sha256, with
// NULL or absent parameters.
func readOnlySHA256(e element, what string) error {
	r := e.children()
	id, err := r.read(tagSequence, what)
	if err != nil {
		return err
	}
	if err := r.done(what); err != nil {
		return err
	}
	r = id.children()
	if err := readOID(&r, oidSHA256, what+" (want sha256)"); err != nil {
		return err
	}
	if !r.empty() {
		null, err := r.read(tagNull, what+" parameters")
		if err != nil {
			return err
		}
		if len(null.body) != 0 {
			return fmt.Errorf("%w: %s parameters: NULL with contents", ErrMalformed, what)
		}
	}
	return r.done(what)
}

// parseEncryptedContentInfo accepts id-data content encrypted with
// aes256-CBC under a 16-byte IV, the encryptedContent present either as a
// primitive [0] or as a constructed [0] of primitive OCTET STRING chunks.
func parseEncryptedContentInfo(eci element, env *envelope) error {
	r := eci.children()
	if err := readOID(&r, oidData, "encryptedContentInfo contentType (want data)"); err != nil {
		return err
	}
	alg, err := r.read(tagSequence, "contentEncryptionAlgorithm")
	if err != nil {
		return err
	}
	var content []byte
	switch r.peek() {
	case tagContext0:
		e, err := r.read(tagContext0, "encryptedContent")
		if err != nil {
			return err
		}
		content = bytes.Clone(e.body)
	case tagContext0C:
		e, err := r.read(tagContext0C, "encryptedContent")
		if err != nil {
			return err
		}
		if content, err = joinChunks(e); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: encryptedContent missing or not [0]", ErrMalformed)
	}
	if err := r.done("encryptedContentInfo"); err != nil {
		return err
	}

	r = alg.children()
	if err := readOID(&r, oidAES256CBC, "contentEncryptionAlgorithm (want aes256-CBC)"); err != nil {
		return err
	}
	iv, err := r.read(tagOctetString, "aes256-CBC IV")
	if err != nil {
		return err
	}
	if err := r.done("contentEncryptionAlgorithm"); err != nil {
		return err
	}
	if len(iv.body) != ivSize {
		return fmt.Errorf("%w: IV of %d bytes, want %d", ErrMalformed, len(iv.body), ivSize)
	}
	if len(content) == 0 || len(content)%aes.BlockSize != 0 {
		return fmt.Errorf("%w: encrypted content of %d bytes, want a positive multiple of %d", ErrMalformed, len(content), aes.BlockSize)
	}
	env.iv, env.content = iv.body, content
	return nil
}

// joinChunks concatenates the primitive OCTET STRING chunks of a
// constructed encryptedContent into a buffer of exactly their size. Nested
// constructed chunks, which BER allows and no producer writes, are refused.
func joinChunks(e element) ([]byte, error) {
	total := 0
	r := e.children()
	for n := 1; !r.empty(); n++ {
		if n > maxContentChunks {
			return nil, fmt.Errorf("%w: encryptedContent of more than %d chunks", ErrMalformed, maxContentChunks)
		}
		c, err := r.read(tagOctetString, "encryptedContent chunk")
		if err != nil {
			return nil, err
		}
		total += len(c.body)
	}
	content := make([]byte, 0, total)
	for r = e.children(); !r.empty(); {
		c, err := r.read(tagOctetString, "encryptedContent chunk")
		if err != nil {
			return nil, err // unreachable: read once above
		}
		content = append(content, c.body...)
	}
	return content, nil
}

func readOID(r *reader, want []byte, what string) error {
	e, err := r.read(tagOID, what)
	if err != nil {
		return err
	}
	if !bytes.Equal(e.body, want) {
		return fmt.Errorf("%w: %s: unexpected object identifier %x", ErrMalformed, what, e.body)
	}
	return nil
}

// readSmallInt reads an INTEGER of one byte, 0 to 127: a CMS version.
func readSmallInt(r *reader, what string) (int, error) {
	e, err := r.read(tagInteger, what)
	if err != nil {
		return 0, err
	}
	if len(e.body) != 1 || e.body[0] > 0x7f {
		return 0, fmt.Errorf("%w: %s: not a small non-negative integer", ErrMalformed, what)
	}
	return int(e.body[0]), nil
}

// UnwrapCMS returns the secret in a WrapCMS envelope or an AWS KMS
// CiphertextForRecipient, decrypted with priv. It parses ber as hostile (see
// the package doc), then checks that the recipient's subject key identifier
// is SHA-256 of priv's public key in DER (ErrWrongKey otherwise: the secret
// was wrapped to another key, an old one or an attacker's), decrypts the
// content-encryption key (ErrDecrypt if it does not) and then the content
// (ErrDecrypt if its padding is wrong). The secret is nil whenever the error
// is not. Success proves the envelope was made for priv, not who made it.
func UnwrapCMS(priv *rsa.PrivateKey, ber []byte) ([]byte, error) {
	if err := checkPrivateKey(priv); err != nil {
		return nil, err
	}
	env, err := parseEnvelope(ber)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	if want := sha256.Sum256(spki); !bytes.Equal(env.ski, want[:]) {
		return nil, fmt.Errorf("%w: subject key identifier %x, this key's is %x", ErrWrongKey, env.ski, want)
	}
	if len(env.encryptedKey) != priv.Size() {
		return nil, fmt.Errorf("%w: encryptedKey of %d bytes, the key's block is %d", ErrMalformed, len(env.encryptedKey), priv.Size())
	}
	cek, err := rsa.DecryptOAEP(sha256.New(), nil, priv, env.encryptedKey, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: content-encryption key: rsa-oaep", ErrDecrypt)
	}
	defer clear(cek)
	if len(cek) != cekSize {
		return nil, fmt.Errorf("%w: content-encryption key is not %d bytes", ErrDecrypt, cekSize)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, fmt.Errorf("%w: content-encryption key", ErrDecrypt) // unreachable: 32 bytes
	}
	secret := make([]byte, len(env.content))
	cipher.NewCBCDecrypter(block, env.iv).CryptBlocks(secret, env.content)
	n, ok := unpad(secret)
	if !ok {
		clear(secret)
		return nil, fmt.Errorf("%w: content padding", ErrDecrypt)
	}
	return secret[:n:n], nil
}

// unpad returns the length of b without its PKCS#7 padding, and whether the
// padding is well formed, in time that depends only on len(b) (a positive
// multiple of the block size): it reads the last block whatever the pad.
func unpad(b []byte) (int, bool) {
	last := b[len(b)-aes.BlockSize:]
	p := int(last[aes.BlockSize-1])
	good := subtle.ConstantTimeLessOrEq(1, p) & subtle.ConstantTimeLessOrEq(p, aes.BlockSize)
	for i := range aes.BlockSize {
		inPad := subtle.ConstantTimeLessOrEq(i+1, p) // the i-th byte from the end is padding
		same := subtle.ConstantTimeByteEq(last[aes.BlockSize-1-i], byte(p))
		good &= subtle.ConstantTimeSelect(inPad, same, 1)
	}
	return len(b) - p*good, good == 1
}

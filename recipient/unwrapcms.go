package recipient

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
)

// The enclave's side: UnwrapCMS reads an envelope that crossed the host, so
// every byte of it is hostile (see the package doc's threat model). It
// accepts the one shape WrapCMS and AWS KMS write, with definite or
// indefinite lengths where BER allows either, through the strict reader of
// ber.go, within the bounds below, and decrypts only once all of it parsed.

const (
	// maxEnvelope bounds what UnwrapCMS reads: an envelope of a
	// maxCMSSecret secret to an RSA-4096 key is about 17 KB.
	maxEnvelope = 64 << 10

	// maxContentChunks bounds the chunks of encryptedContent. BouncyCastle
	// (and so, we believe, AWS) cuts 1000-byte chunks, OpenSSL's streaming
	// output 4096-byte ones: a maxEnvelope envelope holds 66 of the former.
	maxContentChunks = 1024
)

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

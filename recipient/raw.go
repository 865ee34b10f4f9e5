package recipient

import (
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
)

// maxRawSecret is the longest secret one RSAES-OAEP-SHA-256 block carries
// under pub: the modulus size minus two hashes and two bytes (RFC 8017,
// 7.1.1), 190 bytes for RSA-2048.
func maxRawSecret(pub *rsa.PublicKey) int {
	return pub.Size() - 2*sha256.Size - 2
}

// WrapRaw encrypts secret to pub with RSAES-OAEP, SHA-256 for both the OAEP
// hash and MGF1, and an empty label. The secret must fit in one block (190
// bytes for RSA-2048); longer ones need WrapCMS. A nil rand is crypto/rand.
func WrapRaw(pub *rsa.PublicKey, secret []byte, rand io.Reader) ([]byte, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: empty secret", ErrSecretSize)
	}
	if max := maxRawSecret(pub); len(secret) > max {
		return nil, fmt.Errorf("%w: %d bytes, one RSA-%d OAEP-SHA-256 block holds at most %d",
			ErrSecretSize, len(secret), pub.N.BitLen(), max)
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand, pub, secret, nil)
	if err != nil {
		return nil, fmt.Errorf("rsa-oaep encryption: %w", err)
	}
	return ct, nil
}

// UnwrapRaw decrypts a WrapRaw ciphertext with priv. A ciphertext that is not
// exactly one block long is ErrMalformed; one that does not decrypt (another
// key, a flipped bit) is ErrDecrypt, without saying why: OAEP decryption
// failures must look alike.
func UnwrapRaw(priv *rsa.PrivateKey, ct []byte) ([]byte, error) {
	if err := checkPrivateKey(priv); err != nil {
		return nil, err
	}
	if len(ct) != priv.Size() {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes, the key's block is %d", ErrMalformed, len(ct), priv.Size())
	}
	secret, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: rsa-oaep", ErrDecrypt)
	}
	return secret, nil
}

// Package eckeys holds the elliptic-curve key pairs of attestkms: KEY_AGREEMENT
// keys and the pairs GenerateDataKeyPair returns, on NIST P-256, P-384, P-521
// and secp256k1. It parses and writes them in the encodings AWS KMS uses (DER
// SubjectPublicKeyInfo for public keys, DER PKCS #8 for private keys) and does
// ECDH as AWS KMS DeriveSharedSecret does.
//
// # What the attacker controls
//
// Every byte given to [ParseSPKI]: DeriveSharedSecret passes the caller's peer
// public key straight here. Bytes given to [ParsePKCS8] are ours (key material
// unsealed from the store, or a data key pair we generated) but are parsed as
// strictly, so that a corrupted or planted record fails instead of yielding a
// weak key.
//
// # What is guaranteed
//
// A *PublicKey that exists is on its curve, is not the point at infinity, came
// from an uncompressed SEC 1 point, and its SubjectPublicKeyInfo was canonical
// DER: [ParseSPKI] accepts exactly the bytes [PublicKey.MarshalSPKI] would
// write for it, and nothing else (no BER, no trailing bytes, no explicit curve
// parameters, no compressed or hybrid points, no curve we do not support).
// The check is not left to the caller: there is no way to build a PublicKey
// from unchecked bytes (and a zero PublicKey is refused wherever it is used).
//
// [PrivateKey.ECDH] refuses a peer on another curve ([ErrCurveMismatch]) and
// never returns an all-zero secret. All four curves have cofactor 1, so a peer
// that is on the curve and not the identity is in the prime-order group: no
// small-subgroup confinement is possible.
//
// A *PrivateKey's scalar is in [1, n-1]. [ParsePKCS8] accepts only the shape
// that crypto/x509, OpenSSL and MarshalPKCS8 write (PKCS #8 version 0 without
// attributes, holding an RFC 5915 ECPrivateKey version 1 whose scalar has
// exactly the curve's length), with the optional curve parameters and public
// key of the inner ECPrivateKey either absent or consistent with the outer
// algorithm and with the scalar.
//
// Scalar multiplications by a private scalar run in constant time: NIST curves
// through crypto/ecdh; secp256k1 through this package's fixed-window ladder
// over complete addition formulas (secp256k1.go), built on the constant-time
// field arithmetic of github.com/decred/dcrd/dcrec/secp256k1. That package's
// own point multiplications branch on the scalar's digits, so they are used
// only on public data and in tests.
//
// # What it does not do
//
// No key derivation: ECDH returns the raw x-coordinate of the shared point, as
// AWS KMS DeriveSharedSecret does (and as SP 800-56A's "Z" is defined). That
// value is not uniformly random and must not be used directly as a key;
// callers must run it through a KDF (HKDF, or SP 800-56C) with context of
// their own.
//
// [PrivateKey.Destroy] is best effort: it zeroes the scalar bytes this package
// holds for secp256k1, but crypto/ecdh keeps NIST scalars where it cannot be
// reached, and Go may have left copies on stacks or in freed memory.
//
// No signatures: KEY_AGREEMENT keys only agree.
package eckeys

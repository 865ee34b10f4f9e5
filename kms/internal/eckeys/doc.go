// Package eckeys holds the elliptic-curve key pairs of attestkms: KEY_AGREEMENT
// keys and the pairs GenerateDataKeyPair returns, on NIST P-256, P-384, P-521,
// secp256k1 and SM2 (GM/T 0003, the curve sm2p256v1). It parses and writes
// them in the encodings AWS KMS uses (DER SubjectPublicKeyInfo for public
// keys, DER PKCS #8 for private keys) and does ECDH as AWS KMS
// DeriveSharedSecret does, and as Huawei KMS's DeriveSharedSecret does for
// key_spec SM2 with key_agreement_algorithm ECDH.
//
// SM2 keys are encoded as OpenSSL 3 and gmsm's smx509 write them, which is
// what Huawei and Tencent accept: algorithm id-ecPublicKey with namedCurve
// sm2p256v1 (1.2.156.10197.1.301), never the older spelling that puts the SM2
// OID in the algorithm field. SM2 ECDH here is plain ECDH on that curve (the
// x-coordinate of k·peer), not the SM2 key-exchange protocol of GB/T 32918.3,
// which adds identities, ephemeral keys and an SM3 KDF.
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
// The encodings themselves are read by internal/keyder, the one parser of
// EC SubjectPublicKeyInfo and PKCS #8 that recipient uses too for SM2 keys;
// this package adds each curve's arithmetic and the canonical-encoding check.
//
// [PrivateKey.ECDH] refuses a peer on another curve ([ErrCurveMismatch]) and
// never returns an all-zero secret. All five curves have cofactor 1, so a peer
// that is on the curve and not the identity is in the prime-order group: no
// small-subgroup confinement is possible. P-256 and SM2 share a field size and
// an encoding, so a P-256 point offered as SM2 (or the reverse) is caught by
// the on-curve check, not by its length.
//
// A *PrivateKey's scalar is in [1, n-1], for SM2 in [1, n-2]: GB/T 32918.1
// defines SM2 private keys so (signing divides by 1+d), gmsm enforces it, and
// we follow rather than hold keys other SM2 software refuses. [ParsePKCS8]
// accepts only the shape that crypto/x509, OpenSSL and MarshalPKCS8 write
// (PKCS #8 version 0 without attributes, holding an RFC 5915 ECPrivateKey
// version 1 whose scalar has exactly the curve's length), with the optional
// curve parameters and public key of the inner ECPrivateKey either absent or
// consistent with the outer algorithm and with the scalar.
//
// Scalar multiplications by a private scalar run in constant time: NIST curves
// through crypto/ecdh; SM2 through github.com/emmansun/gmsm/ecdh, whose P256()
// is sm2p256v1, not NIST P-256 (field arithmetic in assembly on amd64, arm64,
// ppc64le and s390x, fiat-crypto elsewhere, and a Booth-encoded fixed-window
// multiplication that reads every table entry: the design of crypto/ecdh's
// P-256); secp256k1 through this package's fixed-window ladder over complete
// addition formulas (secp256k1.go), built on the constant-time field
// arithmetic of github.com/decred/dcrd/dcrec/secp256k1. That package's own
// point multiplications branch on the scalar's digits, so they are used only
// on public data and in tests.
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
// holds for secp256k1, but crypto/ecdh and gmsm's ecdh keep NIST and SM2
// scalars where they cannot be reached, and Go may have left copies on stacks
// or in freed memory.
//
// No signatures: KEY_AGREEMENT keys only agree.
package eckeys

package recipient

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// BenchmarkWrapCMS is the service's cost of one CiphertextForRecipient of
// a 32-byte secret to RSA-2048; BenchmarkRSAOAEPEncrypt2048 beside it is
// the RSA-OAEP-SHA-256 encryption it cannot avoid, so that the overhead of
// the envelope (randomness, AES, SKI, encoding) shows as the difference.
func BenchmarkWrapCMS(b *testing.B) {
	pub := &key2048(b).PublicKey
	spki := spkiOf(b, pub)
	secret := secretOf(32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := WrapCMS(pub, spki, secret, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSAOAEPEncrypt2048(b *testing.B) {
	pub := &key2048(b).PublicKey
	cek := secretOf(32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrapCMS4KiB(b *testing.B) {
	pub := &key2048(b).PublicKey
	secret := secretOf(4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(secret)))
	for b.Loop() {
		if _, err := WrapCMS(pub, nil, secret, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrapRaw(b *testing.B) {
	pub := &key2048(b).PublicKey
	secret := secretOf(32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := WrapRaw(pub, secret, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnwrapCMS is the enclave's cost, beside the RSA-OAEP decryption
// that dominates it.
func BenchmarkUnwrapCMS(b *testing.B) {
	key := key2048(b)
	ct := mustWrap(b, &key.PublicKey, secretOf(32))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := UnwrapCMS(key, ct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSAOAEPDecrypt2048(b *testing.B) {
	key := key2048(b)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, secretOf(32), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rsa.DecryptOAEP(sha256.New(), nil, key, ct, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnwrapCMSAWSVector is the real AWS response, RSA-4096.
func BenchmarkUnwrapCMSAWSVector(b *testing.B) {
	key := key4096(b)
	ct := testdata(b, "kms_cfr_batgo.ber")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := UnwrapCMS(key, ct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEnvelopeHostile is the cost of refusing the deepest
// nesting maxEnvelope allows: it must stay microseconds.
func BenchmarkParseEnvelopeHostile(b *testing.B) {
	deep := make([]byte, 0, maxEnvelope)
	for len(deep) < maxEnvelope-4 {
		deep = append(deep, tagSequence, 0x80)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseEnvelope(deep); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkWrapTo is the service's cost of one Tencent Plaintext wrapped to
// an EncryptionPublicKey: a 32-byte data key to RSA-2048 or SM2.
func BenchmarkWrapTo(b *testing.B) {
	rsaPub := &key2048(b).PublicKey
	sm2Pub := &sm2Key(b, 0).PublicKey
	secret := secretOf(32)
	for _, alg := range []string{AlgRSAESOAEPSHA256, AlgRSAESOAEPSHA1, AlgRSAESPKCS1v15, AlgSM2, AlgSM2ASN1} {
		var pub any = rsaPub
		if alg == AlgSM2 || alg == AlgSM2ASN1 {
			pub = sm2Pub
		}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := WrapTo(pub, alg, secret, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParsePublicKey is the cost of reading an EncryptionPublicKey.
func BenchmarkParsePublicKey(b *testing.B) {
	for name, in := range map[string][]byte{
		"RSA-2048-PEM": pemOf("PUBLIC KEY", spkiOf(b, &key2048(b).PublicKey)),
		"SM2-PEM":      pemOf("PUBLIC KEY", sm2SPKI(b, &sm2Key(b, 0).PublicKey)),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParsePublicKey(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package recipient

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzHPKEFrame: whatever the bytes, ParseHPKEFrame either refuses them
// with ErrMalformed and nothing partial, or returns a frame that re-encodes
// to exactly them (one encoding per frame: no malleability of the framing);
// UnwrapHPKE never panics and fails with one of its kinds. Seeded with real
// frames of both suites and the RFC 9180 vector's.
func FuzzHPKEFrame(f *testing.F) {
	keys := hpkeKeys(f)
	info := HPKEInfo("GenerateDataKey", "arn", []byte("doc"))
	for alg, k := range keys {
		pub, err := ParseHPKEPublicKey(alg, k.pub)
		if err != nil {
			f.Fatal(err)
		}
		frame, err := WrapHPKE(pub, info, []byte("a secret"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	enc := mustHex(f, "04c06b4f6bebc7bb495cb797ab753f911aff80aefb86fd8b6fcc35525f3ab5f03e0b21bd31a86c6048af3cb2d98e0d3bf01da5cc4c39ff5370d331a4f1f7d5a4e0")
	ct := mustHex(f, "58c61a45059d0c5704560e9d88b564a8b63f1364b8d1fcb3c4c6ddc1d291742465e902cd216f8908da49f8f96f")
	vec, _ := EncodeHPKEFrame(AlgHPKEP256, enc, ct)
	f.Add(vec)
	f.Add([]byte{1, 2, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseHPKEFrame(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || fr.Enc != nil || fr.Ciphertext != nil || fr.Algorithm != "" {
				t.Fatalf("refused with %v and %+v", err, fr)
			}
		} else {
			again, err := EncodeHPKEFrame(fr.Algorithm, fr.Enc, fr.Ciphertext)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("a frame that does not re-encode to its bytes: %v", err)
			}
		}
		for _, k := range keys {
			pt, err := UnwrapHPKE(k.priv, info, b)
			if err == nil {
				// Only a frame sealed to this key under this info opens,
				// and the fuzzer cannot make one.
				if !bytes.Equal(pt, []byte("a secret")) {
					t.Fatalf("opened to %q", pt)
				}
				continue
			}
			if pt != nil || !(errors.Is(err, ErrMalformed) || errors.Is(err, ErrDecrypt) || errors.Is(err, ErrWrongKey)) {
				t.Fatalf("UnwrapHPKE: %v, %d bytes", err, len(pt))
			}
		}
	})
}

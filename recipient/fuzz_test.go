package recipient

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzUnwrapCMS feeds hostile envelopes to UnwrapCMS under two keys: the
// RSA-2048 test key (our envelopes in the seeds are for it) and the key of
// the real AWS response. Properties: no panic; a failed unwrap returns no
// secret and wraps exactly one kind; parseEnvelope and UnwrapCMS agree on
// what is malformed; what unwraps is shorter than the envelope.
func FuzzUnwrapCMS(f *testing.F) {
	for _, s := range fuzzSeedsUnwrap(f) {
		f.Add(s)
	}
	k2048, k4096 := key2048(f), key4096(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, perr := parseEnvelope(b)
		for _, key := range []*rsa.PrivateKey{k2048, k4096} {
			got, err := UnwrapCMS(key, b)
			if err != nil {
				if got != nil {
					t.Fatalf("error %v with a secret", err)
				}
				if !isKind(err) {
					t.Fatalf("%v wraps no single kind", err)
				}
				if perr != nil && !errors.Is(err, ErrMalformed) {
					t.Fatalf("parseEnvelope: %v; UnwrapCMS: %v", perr, err)
				}
				continue
			}
			if perr != nil {
				t.Fatalf("UnwrapCMS succeeded where parseEnvelope failed: %v", perr)
			}
			if len(got) >= len(b) {
				t.Fatalf("a %d-byte secret from a %d-byte envelope", len(got), len(b))
			}
		}
	})
}

// FuzzWrapUnwrap: whatever the secret, WrapCMS and UnwrapCMS (and, where it
// fits, WrapRaw and UnwrapRaw) give it back, and a size out of range is
// ErrSecretSize on both sides of the limits.
func FuzzWrapUnwrap(f *testing.F) {
	for _, n := range []int{0, 1, 15, 16, 17, 190, 191, 999, 1000, 1001, 4096} {
		f.Add(secretOf(n))
	}
	key := key2048(f)
	f.Fuzz(func(t *testing.T, secret []byte) {
		ct, err := WrapCMS(&key.PublicKey, nil, secret, nil)
		if len(secret) == 0 || len(secret) > maxCMSSecret {
			if !errors.Is(err, ErrSecretSize) || ct != nil {
				t.Fatalf("WrapCMS of %d bytes: %v", len(secret), err)
			}
		} else {
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnwrapCMS(key, ct)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("UnwrapCMS: %v, %d bytes of %d", err, len(got), len(secret))
			}
		}

		raw, err := WrapRaw(&key.PublicKey, secret, nil)
		if len(secret) == 0 || len(secret) > 190 {
			if !errors.Is(err, ErrSecretSize) || raw != nil {
				t.Fatalf("WrapRaw of %d bytes: %v", len(secret), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnwrapRaw(key, raw)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("UnwrapRaw: %v", err)
		}
	})
}

// fuzzSeedsUnwrap are FuzzUnwrapCMS's seeds: the real and sdk-c vectors,
// our envelopes of several sizes (one chunk, several), a definite-length
// one, and a few hostile shapes.
func fuzzSeedsUnwrap(tb testing.TB) map[string][]byte {
	pub := &key2048(tb).PublicKey
	seeds := map[string][]byte{
		"aws_batgo":  testdata(tb, "kms_cfr_batgo.ber"),
		"sdkc_indef": testdata(tb, "kms_cfr_sdkc_indef_content.ber"),
		"sdkc_prim":  testdata(tb, "kms_cfr_sdkc_prim_content.ber"),
		"deep":       append(bytes.Repeat([]byte{tagSequence, 0x80}, 20), bytes.Repeat([]byte{0, 0}, 20)...),
		"huge_len":   {tagSequence, 0x84, 0x80, 0, 0, 0},
	}
	for _, n := range []int{1, 32, 1500} {
		seeds[fmt.Sprintf("ours_rsa2048_%d", n)] = mustWrap(tb, pub, secretOf(n))
	}
	s := newSpec(tb, pub, secretOf(40))
	s.content = der(tagContext0, s.ciphertext)
	seeds["ours_rsa2048_prim"] = s.encode()
	s.content = chunked(s.ciphertext, 16)
	seeds["ours_rsa2048_16byte_chunks"] = s.encode()
	return seeds
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzUnwrapCMS and
// FuzzWrapUnwrap from fuzzSeedsUnwrap when RECIPIENT_WRITE_FUZZ_SEEDS=1.
// Our envelopes are random, so a rewrite changes their bytes, not their
// shapes. Crashers that go test -fuzz adds beside them are kept.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("RECIPIENT_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set RECIPIENT_WRITE_FUZZ_SEEDS=1 to rewrite the seed corpora")
	}
	write := func(target, name string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "seed_"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range fuzzSeedsUnwrap(t) {
		write("FuzzUnwrapCMS", name, b)
	}
	for _, n := range []int{1, 190, 191, 1000, 4096} {
		write("FuzzWrapUnwrap", fmt.Sprint(n), secretOf(n))
	}
}

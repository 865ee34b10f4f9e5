package recipient

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"testing"

	"github.com/emmansun/gmsm/sm2"
)

// seedWhere searches deterministic ephemeral scalars for one on which gmsm,
// encrypting secret to k with exactly that scalar, does what bad says.
func seedWhere(t *testing.T, k *sm2.PrivateKey, secret []byte, bad func(ct []byte, err error) bool) []byte {
	t.Helper()
	for i := uint32(0); i < 100000; i++ {
		seed := sha256.Sum256(binary.BigEndian.AppendUint32([]byte("sm2 seed "), i))
		ct, err := sm2.Encrypt(bytes.NewReader(seed[:]), &k.PublicKey, secret, sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2))
		if bad(ct, err) {
			return seed[:]
		}
	}
	t.Fatal("no such scalar in 100000")
	return nil
}

// TestSM2RedrawsAScalarGmsmGetsWrong: the two faults of gmsm v0.33.0 that
// sealSM2 works around (its doc), each forced with a scalar that triggers it
// followed by a good one. Before the workaround, one in 128 wraps of a 1-byte
// secret came back undecryptable (TestWrapToRoundTrip was flaky).
func TestSM2RedrawsAScalarGmsmGetsWrong(t *testing.T) {
	k := sm2Key(t, 0)
	secret := []byte{0x5a}
	cases := map[string][]byte{
		// t all zeros: gmsm asks for a second scalar, and would use a
		// corrupted public point with it.
		"mask all zeros": seedWhere(t, k, secret, func(ct []byte, err error) bool { return err != nil }),
		// C2 all zeros: a valid ciphertext gmsm's own Decrypt refuses.
		"C2 all zeros": seedWhere(t, k, secret, func(ct []byte, err error) bool { return err == nil && ct[len(ct)-1] == 0 }),
	}
	for name, seed := range cases {
		for _, alg := range sm2Algs {
			// After the bad scalar, as many good ones as it takes: a scalar
			// of the stream can itself make the 1-byte mask zero (one in
			// 256), and one 32-byte scalar made the test flaky.
			rnd := io.MultiReader(bytes.NewReader(seed), &stream{label: "good scalars"})
			ct, err := WrapTo(&k.PublicKey, alg, secret, rnd)
			if err != nil {
				t.Fatalf("%s, %q: %v", name, alg, err)
			}
			got, err := UnwrapFrom(k, alg, ct)
			if err != nil || !bytes.Equal(got, secret) {
				t.Errorf("%s, %q: the ciphertext does not decrypt: %v", name, alg, err)
			}
		}
	}
	// A reader that runs dry is an error, not a loop.
	if _, err := WrapTo(&k.PublicKey, AlgSM2, secret, bytes.NewReader(cases["mask all zeros"])); err == nil {
		t.Error("WrapTo succeeded with only a bad scalar to draw")
	}
}

// stream is an endless deterministic byte stream: SHA-256 of label and a
// counter, block after block.
type stream struct {
	label string
	n     uint32
	buf   []byte
}

func (s *stream) Read(p []byte) (int, error) {
	for len(s.buf) < len(p) {
		b := sha256.Sum256(binary.BigEndian.AppendUint32([]byte(s.label), s.n))
		s.n++
		s.buf = append(s.buf, b[:]...)
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

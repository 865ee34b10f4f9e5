package recipient

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// TestAWSVector unwraps a real CiphertextForRecipient that AWS KMS returned
// to an enclave, with that enclave's key (testdata/README.md).
func TestAWSVector(t *testing.T) {
	ct := testdata(t, "kms_cfr_batgo.ber")
	want := testdata(t, "kms_cfr_batgo_plaintext.bin")
	got, err := UnwrapCMS(key4096(t), ct)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("plaintext\n%x\nwant\n%x", got, want)
	}
}

func TestAWSVectorOtherKey(t *testing.T) {
	got, err := UnwrapCMS(key2048(t), testdata(t, "kms_cfr_batgo.ber"))
	if !errors.Is(err, ErrWrongKey) || got != nil {
		t.Fatalf("UnwrapCMS with another key = %x, %v; want nil, ErrWrongKey", got, err)
	}
}

// TestSDKCVectors parses the two envelopes of the Nitro Enclaves SDK's own
// parser test (no key: structure only) and finds what that test expects.
func TestSDKCVectors(t *testing.T) {
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		file              string
		iv                []byte
		contentLen        int
		contentPrefix     []byte
		encryptedKeyStart []byte
	}{
		{"kms_cfr_sdkc_indef_content.ber", unhex("688c6d5f7f31b0fecedf09f2e7c99ac9"), 48, unhex("70e5caaffd49ad24"), unhex("a0614593a030ee33")},
		{"kms_cfr_sdkc_prim_content.ber", unhex("e66c1172aee0f2f7be34e3afc6b0e4fe"), 16, nil, unhex("4a1ca12202e4ce0b")},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b := testdata(t, tc.file)
			env, err := parseEnvelope(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(env.iv, tc.iv) || len(env.content) != tc.contentLen ||
				!bytes.HasPrefix(env.content, tc.contentPrefix) ||
				len(env.encryptedKey) != 256 || !bytes.HasPrefix(env.encryptedKey, tc.encryptedKeyStart) || len(env.ski) != 32 {
				t.Fatalf("parsed iv %x, content %d bytes %x, encryptedKey %d bytes %x, ski %x",
					env.iv, len(env.content), env.content, len(env.encryptedKey), env.encryptedKey[:8], env.ski)
			}
			// The whole file is the envelope: its last bytes are
			// end-of-contents, not padding (testdata/README.md).
			nodes := walk(t, b)
			if last := nodes[0]; last.off != 0 || last.hdr+last.n+2 != len(b) {
				t.Fatalf("contentInfo spans %d+%d+2 bytes of %d", last.hdr, last.n, len(b))
			}
			// Trailing bytes, even zeros, are refused.
			if _, err := parseEnvelope(append(bytes.Clone(b), 0, 0)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "after the contentInfo") {
				t.Fatalf("with two trailing zero bytes: %v, want ErrMalformed", err)
			}
		})
	}
}

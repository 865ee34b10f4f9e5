package eckeys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestWycheproof runs Project Wycheproof's ECDH vectors with X.509-encoded
// public keys (C2SP/wycheproof, testvectors_v1/ecdh_<curve>_test.json: 2,000+
// cases, among them invalid-curve points, wrong curves, explicit parameters,
// every way to break the DER, and arithmetic edge cases for projective
// coordinates) through ParseSPKI and ECDH. The files are not vendored; like
// crypto/x509's PKITS suite it runs when pointed at them:
//
//	WYCHEPROOF_DIR=/path/to/wycheproof/testvectors_v1 go test -run Wycheproof ./kms/internal/eckeys
//
// "valid" cases must give the expected secret, "invalid" ones must fail, and
// "acceptable" ones (BER, compressed points, explicit parameters) may go
// either way: we refuse all of them, and check that whatever we accept gives
// the expected secret. One deliberate divergence: the "valid" NIST cases
// whose shared secret is all zeros (tcId 3, a point with x = 0, reached from
// a private key chosen for it) are refused, since ECDH never returns an
// all-zero secret; see ECDH.
func TestWycheproof(t *testing.T) {
	dir := os.Getenv("WYCHEPROOF_DIR")
	if dir == "" {
		t.Skip("WYCHEPROOF_DIR not set")
	}
	files := map[Curve]string{
		P256: "ecdh_secp256r1_test.json", P384: "ecdh_secp384r1_test.json",
		P521: "ecdh_secp521r1_test.json", Secp256k1: "ecdh_secp256k1_test.json",
	}
	for _, c := range allCurves {
		t.Run(string(c), func(t *testing.T) {
			if files[c] == "" {
				t.Skipf("Wycheproof has no ECDH vectors for %s", c) // SM2: see sm2_test.go
			}
			data, err := os.ReadFile(filepath.Join(dir, files[c]))
			if err != nil {
				t.Fatal(err)
			}
			var suite struct {
				TestGroups []struct {
					Tests []struct {
						TcID    int    `json:"tcId"`
						Comment string `json:"comment"`
						Public  string `json:"public"`
						Private string `json:"private"`
						Shared  string `json:"shared"`
						Result  string `json:"result"`
					} `json:"tests"`
				} `json:"testGroups"`
			}
			if err := json.Unmarshal(data, &suite); err != nil {
				t.Fatal(err)
			}
			var n, accepted, refused, refusedZero int
			for _, g := range suite.TestGroups {
				for _, tc := range g.Tests {
					n++
					pubDER, _ := hex.DecodeString(tc.Public)
					priv, _ := hex.DecodeString(tc.Private)
					want, _ := hex.DecodeString(tc.Shared)
					k := keyFromScalar(t, c, priv)
					var secret []byte
					pub, err := ParseSPKI(pubDER)
					if err == nil {
						secret, err = k.ECDH(pub)
					}
					if err != nil && !errors.Is(err, ErrInvalidKey) && !errors.Is(err, ErrCurveMismatch) {
						t.Errorf("tcId %d (%s): error of no kind: %v", tc.TcID, tc.Comment, err)
					}
					zero := len(want) > 0 && bytes.Equal(want, make([]byte, len(want)))
					switch {
					case err != nil && secret != nil:
						t.Errorf("tcId %d: error and a secret", tc.TcID)
					case zero && (err == nil || !errors.Is(err, ErrInvalidKey)):
						t.Errorf("tcId %d (%s): all-zero secret not refused: %v", tc.TcID, tc.Comment, err)
					case zero:
						refusedZero++
					case err != nil && secret != nil:
						t.Errorf("tcId %d: error and a secret", tc.TcID)
					case tc.Result == "valid" && err != nil:
						t.Errorf("tcId %d (%s): valid case refused: %v", tc.TcID, tc.Comment, err)
					case tc.Result == "invalid" && err == nil:
						t.Errorf("tcId %d (%s): invalid case accepted", tc.TcID, tc.Comment)
					case err == nil && !bytes.Equal(secret, want):
						t.Errorf("tcId %d (%s): secret %x, want %x", tc.TcID, tc.Comment, secret, want)
					case tc.Result == "acceptable" && err == nil:
						accepted++
					case tc.Result == "acceptable":
						refused++
					}
				}
			}
			t.Logf("%d cases; of the acceptable ones %d accepted, %d refused; %d all-zero secrets refused", n, accepted, refused, refusedZero)
		})
	}
}

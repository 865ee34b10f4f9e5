package recipient

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckAlgorithm(t *testing.T) {
	if err := CheckAlgorithm("RSAES_OAEP_SHA_256"); err != nil {
		t.Fatalf("RSAES_OAEP_SHA_256: %v", err)
	}
	for _, alg := range []string{
		"", "RSAES_OAEP_SHA_1", "rsaes_oaep_sha_256", "RSAES_OAEP_SHA_256 ", " RSAES_OAEP_SHA_256",
		"RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_256\x00", "SM2PKE", strings.Repeat("A", 10000),
	} {
		err := CheckAlgorithm(alg)
		if !errors.Is(err, ErrAlgorithm) {
			t.Errorf("%q: %v, want ErrAlgorithm", alg, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, KeyEncryptionAlgorithm) {
			t.Errorf("%q: %q does not name the allowed value", alg, msg)
		}
		if len(msg) > 200 || strings.ContainsRune(msg, 0) {
			t.Errorf("%q: the message repeats the input unbounded or raw: %q", alg[:min(len(alg), 20)], msg[:min(len(msg), 200)])
		}
	}
}

func TestKinds(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds {
		msg := k.Error()
		if seen[msg] || msg == "" || strings.ToLower(msg) != msg && !strings.Contains(msg, "RSA") {
			t.Errorf("kind %q: duplicate, empty or capitalised", msg)
		}
		seen[msg] = true
	}
}

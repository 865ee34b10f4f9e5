package enclave

import (
	"bytes"
	"testing"
)

// recordingAttestor keeps the nonce of each document it is asked for.
type recordingAttestor struct{ nonces [][]byte }

func (a *recordingAttestor) Attest(_, nonce, _ []byte) ([]byte, error) {
	a.nonces = append(a.nonces, bytes.Clone(nonce))
	return []byte("document"), nil
}

// TestEveryRequestHasItsNonce: each request's document is asked for with
// a fresh 16-byte nonce, so no two requests carry the same document.
func TestEveryRequestHasItsNonce(t *testing.T) {
	k, err := NewKeyOfType(KeyTypeP256, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := &recordingAttestor{}
	s := &Session{Attestor: a, Key: k}
	for range 3 {
		if _, err := s.recipient(); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, n := range a.nonces {
		if len(n) != 16 || seen[string(n)] {
			t.Fatalf("nonces %x: want three distinct 16-byte values", a.nonces)
		}
		seen[string(n)] = true
	}
}

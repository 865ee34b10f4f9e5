package kms

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"

	"github.com/attestkms/attestkms/kms/internal/eckeys"
	"github.com/attestkms/attestkms/kms/internal/policy"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// key is a stored key with its material opened, as operations use it. It is
// shared through the key cache (keycache.go): material is zeroed only when
// the last holder releases it, never under an operation still using it.
type key struct {
	rec       *store.Key     // read-only
	policy    *policy.Policy // rec.Policy, parsed
	policyErr error          // why rec.Policy does not parse: every request is then denied
	id16      [16]byte
	sym       map[uint32][]byte  // symmetric material by version
	ec        *eckeys.PrivateKey // KEY_AGREEMENT keys
	refs      atomic.Int32
	// tx, for a key judged inside a change's transaction (policyOf), is
	// that transaction: the key's aliases are read in it.
	tx store.Reader
}

// release drops one reference; the last one zeroes the material.
func (k *key) release() {
	if k.refs.Add(-1) == 0 {
		k.zero()
	}
}

// zero zeroes k's opened material.
func (k *key) zero() {
	for _, m := range k.sym {
		clear(m)
	}
	if k.ec != nil {
		k.ec.Destroy()
	}
}

// decodeKey opens the sealed material of rec. On error no opened material
// is left behind: what was opened before the failure is zeroed.
func decodeKey(s *sealer.Sealer, rec *store.Key) (*key, error) {
	k := &key{rec: rec}
	if err := k.open(s); err != nil {
		k.zero()
		return nil, err
	}
	return k, nil
}

// policyOf is rec, read in tx, as authorize judges it: its policy parsed,
// no material opened. The caller must not release it.
func policyOf(rec *store.Key, tx store.Reader) *key {
	k := &key{rec: rec, tx: tx}
	k.policy, k.policyErr = policy.Parse(rec.Policy)
	return k
}

// open fills k's material from k.rec.
func (k *key) open(s *sealer.Sealer) error {
	rec := k.rec
	id16, err := parseUUID(rec.ID)
	if err != nil {
		return fmt.Errorf("stored key %q: %w", rec.ID, err)
	}
	k.id16 = id16
	k.policy, k.policyErr = policy.Parse(rec.Policy)
	info, ok := keySpecs[KeySpec(rec.Spec)]
	if !ok || len(rec.Materials) == 0 {
		return fmt.Errorf("stored key %q: spec %q with %d materials", rec.ID, rec.Spec, len(rec.Materials))
	}
	if info.symmetric {
		k.sym = make(map[uint32][]byte, len(rec.Materials))
	}
	for i := range rec.Materials {
		m := &rec.Materials[i]
		pt, err := store.OpenMaterial(s, rec.ID, m)
		if err != nil {
			return fmt.Errorf("stored key %q material %d: %w", rec.ID, m.Version, err)
		}
		if info.symmetric {
			if _, dup := k.sym[m.Version]; dup || len(pt) != 32 {
				clear(pt)
				return fmt.Errorf("stored key %q material %d: %d bytes or a repeated version", rec.ID, m.Version, len(pt))
			}
			k.sym[m.Version] = pt
			continue
		}
		priv, err := eckeys.ParsePKCS8(pt)
		clear(pt)
		if err != nil {
			return fmt.Errorf("stored key %q: %w", rec.ID, err)
		}
		if priv.Curve() != info.curve || k.ec != nil {
			priv.Destroy()
			return fmt.Errorf("stored key %q: curve %s, spec %s, %d materials", rec.ID, priv.Curve(), rec.Spec, len(rec.Materials))
		}
		k.ec = priv
	}
	return nil
}

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// parseUUID accepts only the canonical lower-case 8-4-4-4-12 form.
func parseUUID(s string) ([16]byte, error) {
	var b [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, fmt.Errorf("not a key id")
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return b, fmt.Errorf("not a key id")
		}
	}
	hex.Decode(b[:], []byte(h))
	return b, nil
}

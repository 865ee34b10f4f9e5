package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/attestkms/attestkms/kms/internal/sealer"
)

// What is sealed, and bound to what: the purposes package sealer binds as
// associated data, with each value's id. They are part of the stored
// format: changing one makes every stored value of it unopenable.
const (
	purposeRootCheck  = "root-check"
	purposeMaterial   = "key-material"
	purposeCredential = "credential-secret"
	// purposeScopedCredential seals the secret of a credential with an
	// admin permission (but the root's), an identity policy or an expiry,
	// bound to them (Credential.sealedAs).
	purposeScopedCredential = "credential-secret-scoped"
	// purposeServiceKeys seals Meta.ServiceKeys, the answer-signing key
	// set (kms/servicekey.go), as one value.
	purposeServiceKeys = "service-keys"
)

// SealServiceKeys seals the service's answer-signing key set (its encoding
// is kms's) for Meta.ServiceKeys.
func SealServiceKeys(sl *sealer.Sealer, set []byte) ([]byte, error) {
	return sl.Seal(purposeServiceKeys, nil, set)
}

// OpenServiceKeys opens Meta.ServiceKeys. The caller zeroes the result.
func OpenServiceKeys(sl *sealer.Sealer, sealed []byte) ([]byte, error) {
	return sl.Open(purposeServiceKeys, nil, sealed)
}

// ResealServiceKeys moves m's service keys (if any) from one root key to
// another.
func ResealServiceKeys(from, to *sealer.Sealer, m *Meta) error {
	if len(m.ServiceKeys) == 0 {
		return nil
	}
	pt, err := OpenServiceKeys(from, m.ServiceKeys)
	if err != nil {
		return err
	}
	defer clear(pt)
	sealed, err := SealServiceKeys(to, pt)
	if err != nil {
		return err
	}
	m.ServiceKeys = sealed
	return nil
}

// RootCredentialName is the name of the account's root credential, the one
// Init makes: it always has the admin permission (kms).
const RootCredentialName = "admin"

// The root check's values. v1: a store made before records were
// authenticated (or not yet migrated: attestkms store protect MACs every
// record and moves it to v3 in one change). v2: every record of the store
// carries a MAC, and one without is refused. v3: that, and the store keeps
// a records digest (digest.go) that every change keeps current, whose
// absence is refused. The mark
// is inside a sealed value so that a database writer, who cannot seal,
// cannot clear it to have kms MAC the writer's records as legacy ones; it
// can only put back a v1 check it kept from before the migration (package
// doc, "Records are authenticated").
var (
	rootCheckV1 = []byte("attestkms root key check v1")
	rootCheckV2 = []byte("attestkms root key check v2: records authenticated")
	rootCheckV3 = []byte("attestkms root key check v3: records authenticated and digested")
)

// ErrRootKey: the root key does not open the store's root check.
var ErrRootKey = errors.New("store: the root key does not open this store")

// SealRootCheck is a new Meta.RootCheck for the root key of sl, marking a
// store whose records are all authenticated and digested (v3).
func SealRootCheck(sl *sealer.Sealer) ([]byte, error) {
	return sl.Seal(purposeRootCheck, nil, rootCheckV3)
}

// SealRootCheckV2 is the root check attestkms wrote before the records
// digest: for tests that make such a store.
func SealRootCheckV2(sl *sealer.Sealer) ([]byte, error) {
	return sl.Seal(purposeRootCheck, nil, rootCheckV2)
}

// SealRootCheckV1 is the root check attestkms wrote before records were
// authenticated: for tests that make such a store.
func SealRootCheckV1(sl *sealer.Sealer) ([]byte, error) {
	return sl.Seal(purposeRootCheck, nil, rootCheckV1)
}

// CheckRoot reports whether sl's root key is the one m's RootCheck was
// sealed under (ErrRootKey if not).
func CheckRoot(sl *sealer.Sealer, m *Meta) error {
	_, err := RootCheckVersion(sl, m)
	return err
}

// RootCheckVersion is the version of m's root check under sl's root key:
// 1 (records not authenticated yet), 2 (every record authenticated) or 3
// (and digested); ErrRootKey if it does not open, or opens to none.
func RootCheckVersion(sl *sealer.Sealer, m *Meta) (int, error) {
	pt, err := sl.Open(purposeRootCheck, nil, m.RootCheck)
	if err != nil {
		if errors.Is(err, sealer.ErrUnavailable) {
			return 0, err
		}
		return 0, ErrRootKey
	}
	switch {
	case bytes.Equal(pt, rootCheckV1):
		return 1, nil
	case bytes.Equal(pt, rootCheckV2):
		return 2, nil
	case bytes.Equal(pt, rootCheckV3):
		return 3, nil
	}
	return 0, ErrRootKey
}

// materialAAD binds a material to its key and version.
func materialAAD(keyID string, version uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(keyID), 0), version)
}

// SealMaterial is version of key keyID's material, plaintext (which the
// caller owns and zeroes), sealed, with a new random material id. CreatedAt
// and RotationType are the caller's to set. Only a device root key fails
// (sealer.ErrUnavailable).
func SealMaterial(sl *sealer.Sealer, keyID string, version uint32, plaintext []byte) (Material, error) {
	var mid [32]byte
	rand.Read(mid[:])
	sealed, err := sl.Seal(purposeMaterial, materialAAD(keyID, version), plaintext)
	if err != nil {
		return Material{}, err
	}
	return Material{Version: version, ID: hex.EncodeToString(mid[:]), Sealed: sealed}, nil
}

// ResealMaterial seals m's material, opened under from, under to, keeping
// its version and id: a root-key rotation.
func ResealMaterial(from, to *sealer.Sealer, keyID string, m *Material) error {
	pt, err := OpenMaterial(from, keyID, m)
	if err != nil {
		return err
	}
	defer clear(pt)
	sealed, err := to.Seal(purposeMaterial, materialAAD(keyID, m.Version), pt)
	if err != nil {
		return err
	}
	m.Sealed = sealed
	return nil
}

// OpenMaterial opens material m of key keyID: a material copied from
// another key or version does not open (sealer.ErrOpen). The caller owns
// the plaintext and zeroes it.
func OpenMaterial(sl *sealer.Sealer, keyID string, m *Material) ([]byte, error) {
	return sl.Open(purposeMaterial, materialAAD(keyID, m.Version), m.Sealed)
}

// SealCredential seals secret into c.Sealed, bound to c's access key id and
// to its scope (sealedAs): set every other field first.
func SealCredential(sl *sealer.Sealer, c *Credential, secret []byte) error {
	purpose, id := c.sealedAs()
	sealed, err := sl.Seal(purpose, id, secret)
	if err != nil {
		return err
	}
	c.Sealed = sealed
	return nil
}

// ResealCredential seals c's secret, opened under from, under to: a
// root-key rotation.
func ResealCredential(from, to *sealer.Sealer, c *Credential) error {
	secret, err := OpenCredential(from, c)
	if err != nil {
		return err
	}
	defer clear(secret)
	return SealCredential(to, c, secret)
}

// OpenCredential opens c's secret; a record whose scope was changed in the
// database does not open (sealer.ErrOpen). The caller owns the secret.
func OpenCredential(sl *sealer.Sealer, c *Credential) ([]byte, error) {
	purpose, id := c.sealedAs()
	return sl.Open(purpose, id, c.Sealed)
}

// scoped reports whether the record carries what records made before
// identity policies, expiry and further admins did not.
func (c *Credential) scoped() bool {
	return c.Admin && c.Name != RootCredentialName || c.IdentityPolicy != "" || c.ExpiresAt != nil
}

// sealedAs is what a credential's secret is sealed for: the access key id
// alone for a record without scope (as every record was before, so that an
// older attestkms still opens the store), else the scoped purpose bound to
// every attribute that limits or grants. An older attestkms, which would
// ignore a scope it does not know, then cannot open such a credential and
// refuses the store, rather than serving it unscoped; and a record whose
// scope was changed in the database no longer opens.
func (c *Credential) sealedAs() (purpose string, id []byte) {
	if !c.scoped() {
		return purposeCredential, []byte(c.AccessKeyID)
	}
	expires := ""
	if c.ExpiresAt != nil {
		expires = c.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal([]any{c.AccessKeyID, c.Name, c.Admin, c.IdentityPolicy, expires})
	if err != nil {
		panic("store: encoding a credential's binding: " + err.Error()) // strings and a bool always encode
	}
	return purposeScopedCredential, b
}

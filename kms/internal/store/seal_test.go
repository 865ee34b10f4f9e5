package store

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/sealer"
)

func newSealer(t *testing.T) *sealer.Sealer {
	t.Helper()
	root := make([]byte, sealer.RootKeySize)
	rand.Read(root)
	sl, err := sealer.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

// TestRootCheck: the root check opens under its root key only.
func TestRootCheck(t *testing.T) {
	sl, other := newSealer(t), newSealer(t)
	check, _ := SealRootCheck(sl)
	m := &Meta{RootCheck: check}
	if err := CheckRoot(sl, m); err != nil {
		t.Fatal(err)
	}
	if err := CheckRoot(other, m); err != ErrRootKey {
		t.Fatalf("another root key: %v", err)
	}
}

// TestMaterialBinding: a material opens for its key and version only, so
// that one copied into another record does not.
func TestMaterialBinding(t *testing.T) {
	sl := newSealer(t)
	pt := []byte("0123456789abcdef0123456789abcdef")
	m, _ := SealMaterial(sl, "key-a", 2, pt)
	if len(m.ID) != 64 || m.Version != 2 || bytes.Contains(m.Sealed, pt) {
		t.Fatalf("sealed material %+v", m)
	}
	if got, err := OpenMaterial(sl, "key-a", &m); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %q, %v", got, err)
	}
	other := m
	other.Version = 1
	for name, c := range map[string]struct {
		id string
		m  *Material
	}{"another key": {"key-b", &m}, "another version": {"key-a", &other}} {
		if _, err := OpenMaterial(sl, c.id, c.m); err == nil {
			t.Errorf("%s: the material opens", name)
		}
	}
}

// TestCredentialSealing: the secret of a credential with a scope (an admin
// permission, an identity policy, an expiry) is sealed bound to it, so that
// a scope changed in the database, or dropped by an older attestkms that
// does not know it, does not open; one without a scope is sealed as before,
// for its access key id alone.
func TestCredentialSealing(t *testing.T) {
	sl := newSealer(t)
	secret := []byte("secret")
	plain := &Credential{AccessKeyID: "AKIAPLAIN", Name: "plain"}
	SealCredential(sl, plain, secret)
	if plain.scoped() {
		t.Fatal("a plain credential is scoped")
	}
	if _, err := sl.Open(purposeCredential, []byte(plain.AccessKeyID), plain.Sealed); err != nil {
		t.Fatalf("a plain credential is not sealed as before: %v", err)
	}
	if _, err := OpenCredential(sl, plain); err != nil {
		t.Fatal(err)
	}
	root := &Credential{AccessKeyID: "AKIAROOT", Name: RootCredentialName, Admin: true}
	if root.scoped() {
		t.Fatal("the root credential's admin flag is a scope: an older attestkms could not open it")
	}
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	scoped := &Credential{AccessKeyID: "AKIASCOPED", Name: "scoped", IdentityPolicy: `{"Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`, ExpiresAt: &exp}
	SealCredential(sl, scoped, secret)
	if got, err := OpenCredential(sl, scoped); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := sl.Open(purposeCredential, []byte(scoped.AccessKeyID), scoped.Sealed); err == nil {
		t.Fatal("a scoped credential opens as an unscoped one: an older attestkms would serve it without its scope")
	}
	for name, change := range map[string]func(c *Credential){
		"policy dropped": func(c *Credential) { c.IdentityPolicy = "" },
		"policy changed": func(c *Credential) {
			c.IdentityPolicy = `{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
		},
		"expiry dropped":  func(c *Credential) { c.ExpiresAt = nil },
		"expiry moved":    func(c *Credential) { t := c.ExpiresAt.Add(time.Hour); c.ExpiresAt = &t },
		"made an admin":   func(c *Credential) { c.Admin = true },
		"renamed to root": func(c *Credential) { c.Name = RootCredentialName },
		"another id":      func(c *Credential) { c.AccessKeyID = "AKIAOTHER" },
	} {
		c := *scoped
		change(&c)
		if _, err := OpenCredential(sl, &c); err == nil {
			t.Errorf("%s: the secret still opens", name)
		}
	}
}

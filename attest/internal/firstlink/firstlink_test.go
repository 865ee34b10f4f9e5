package firstlink_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/internal/firstlink"
)

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64

// mint makes a certificate named name, issued by parent (self-signed if
// nil), a CA if ca.
func mint(t *testing.T, name string, ca bool, parent *issuer) *issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Unix(1<<32, 0),
		BasicConstraintsValid: true,
		IsCA:                  ca,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{c, key}
}

var names = firstlink.Names{
	Leaf:         "leaf",
	Intermediate: func(i int) string { return fmt.Sprintf("chain[%d]", i) },
	Root:         "the root",
	Roots:        "a root",
	Chain:        "the chain",
}

func certs(is ...*issuer) []*x509.Certificate {
	out := make([]*x509.Certificate, len(is))
	for i, c := range is {
		out[i] = c.cert
	}
	return out
}

// TestCheck: the gate passes a genuine first link and learns it, and
// refuses, learning nothing, each forgery that can reach it.
func TestCheck(t *testing.T) {
	root := mint(t, "root", true, nil)
	inter := mint(t, "inter", true, root)
	leaf := mint(t, "leaf", false, inter)
	direct := mint(t, "direct", false, root)
	roots := certs(root)

	forgedRoot := mint(t, "root", true, nil)          // the root's name, another key
	forgedInter := mint(t, "inter", true, forgedRoot) // names the root, signed by the forger
	forgedLeaf := mint(t, "leaf", false, forgedInter)
	impostor := mint(t, "impostor", false, mint(t, "inter", true, nil)) // names inter, signed by another key
	belowLeaf := mint(t, "below", false, leaf)                          // issued by a certificate that is no CA
	loopA := mint(t, "A", true, nil)
	loopB := mint(t, "B", true, loopA)
	loopA2 := mint(t, "A", true, loopB) // A issued by B issued by A
	orphan := mint(t, "orphan", false, mint(t, "nobody", true, nil))

	for _, tc := range []struct {
		name          string
		leaf          *issuer
		intermediates []*x509.Certificate
	}{
		{"intermediate signed by another key under the root's name", forgedLeaf, certs(forgedInter)},
		{"leaf of another key under the root's name", mint(t, "x", false, forgedRoot), nil},
		{"genuine leaf, not a CA, as the issuer", belowLeaf, certs(leaf, inter)},
		{"issuer neither a root nor carried", orphan, nil},
		{"names in a loop", mint(t, "l", false, loopA2), certs(loopB, loopA2)},
	} {
		k := firstlink.New("test", 8)
		err := k.Check(tc.leaf.cert, tc.intermediates, roots, names)
		if !errors.Is(err, attest.ErrChain) {
			t.Errorf("%s: %v, want ErrChain", tc.name, err)
		}
		if k.Len() != 0 {
			t.Errorf("%s: %d intermediates learnt from a refused chain", tc.name, k.Len())
		}
	}

	k := firstlink.New("test", 8)
	if err := k.Check(direct.cert, nil, roots, names); err != nil || k.Len() != 0 {
		t.Fatalf("leaf issued by the root: %v, %d learnt; want nil, 0 (a leaf is never learnt)", err, k.Len())
	}
	// A genuine intermediate the gate has not seen: its link is checked,
	// and it is learnt, even under a forged leaf (the one unit a copy
	// spends, once).
	if err := k.Check(impostor.cert, certs(inter), roots, names); err != nil || !k.Has(inter.cert) {
		t.Fatalf("copied genuine intermediate, new to the gate: %v, known %v; want nil, true", err, k.Has(inter.cert))
	}
	// Known now: the link below it is checked.
	if err := k.Check(impostor.cert, certs(inter), roots, names); !errors.Is(err, attest.ErrChain) {
		t.Fatalf("impostor below a known intermediate: %v, want ErrChain", err)
	}
	if err := k.Check(leaf.cert, certs(inter), roots, names); err != nil {
		t.Fatalf("genuine leaf below a known intermediate: %v", err)
	}
	// Two certificates of one name: the known one is taken, wherever it is.
	if err := k.Check(leaf.cert, certs(forgedInter, inter), roots, names); err != nil {
		t.Fatalf("genuine leaf, a forged intermediate of its issuer's name listed first: %v", err)
	}
	if n := k.Len(); n != 1 {
		t.Fatalf("%d intermediates known; want 1 (leaves are never learnt)", n)
	}

	k.Reset()
	k.LearnPath([]*x509.Certificate{leaf.cert, inter.cert, root.cert})
	if !k.Has(inter.cert) || k.Has(leaf.cert) || k.Has(root.cert) || k.Len() != 1 {
		t.Fatal("LearnPath learnt other than the path's intermediates")
	}
	k.LearnPath([]*x509.Certificate{direct.cert, root.cert})
	k.LearnPath([]*x509.Certificate{root.cert})
	if k.Len() != 1 {
		t.Fatal("LearnPath learnt from a path without intermediates")
	}
}

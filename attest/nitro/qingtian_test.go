package nitro_test

import (
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

func TestQingtian(t *testing.T) {
	qca := testCA(t, attest.FormatQingtian, 2)
	v := newVerifier(t, nitro.Options{Format: attest.FormatQingtian, Roots: qca.Roots()})
	for _, tc := range []struct {
		name string
		edit func(*nitrotest.Document)
		want error
	}{
		{"public_key", func(d *nitrotest.Document) {}, nil},
		{"pubkey", func(d *nitrotest.Document) { d.KeyName = "pubkey" }, nil},
		{"pubkey null", func(d *nitrotest.Document) { d.KeyName, d.PublicKey = "pubkey", nil }, attest.ErrKey},
		{"both key names", func(d *nitrotest.Document) { d.BothKeyNames = true }, attest.ErrMalformed},
		{"both key names, pubkey first", func(d *nitrotest.Document) { d.KeyName, d.BothKeyNames = "pubkey", true }, attest.ErrMalformed},
		{"sha256", func(d *nitrotest.Document) { d.Digest, d.PCRs = "SHA256", pcrMap(16, 32) }, nil},
		{"sha512", func(d *nitrotest.Document) { d.Digest, d.PCRs = "SHA512", pcrMap(16, 64) }, nil},
		{"sha512 with 48-byte pcrs", func(d *nitrotest.Document) { d.Digest, d.PCRs = "SHA512", pcrMap(16, 48) }, attest.ErrMalformed},
		{"sha256 digest, es384 header", func(d *nitrotest.Document) { d.Digest, d.PCRs, d.HeaderAlg = "SHA256", pcrMap(16, 32), -35 }, attest.ErrMalformed},
		{"4 certificates", func(d *nitrotest.Document) { d.PadCABundle = 2 }, nil},
		{"cabundle depth 5", func(d *nitrotest.Document) { d.PadCABundle = 3 }, attest.ErrMalformed},
		{"4096-byte user data", func(d *nitrotest.Document) { d.UserData = make([]byte, 4096) }, nil},
		{"4097-byte user data", func(d *nitrotest.Document) { d.UserData = make([]byte, 4097) }, attest.ErrMalformed},
		{"untrusted ca", func(d *nitrotest.Document) { d.ForeignCA = true }, attest.ErrChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := genuine(t)
			d.ModuleID = "qingtian-test-enclave"
			tc.edit(&d)
			c, err := v.Verify(sign(t, qca, d), testVerifyTime)
			checkResult(t, c, err, tc.want)
			if err != nil {
				t.Log(err)
				return
			}
			if c.Format != attest.FormatQingtian || c.Digest != d.Digest && d.Digest != "" || c.PublicKey == nil {
				t.Errorf("claims %+v", c)
			}
		})
	}
}

// TestFormatsApart: each verifier refuses the other's documents as an
// untrusted chain, even those valid in both shapes, and attest.Set then
// reports the error of the verifier whose roots the document reached.
func TestFormatsApart(t *testing.T) {
	nca := testCA(t, attest.FormatNitro, 1)
	qca := testCA(t, attest.FormatQingtian, 2)
	nv := newVerifier(t, nitro.Options{Roots: nca.Roots()})
	aws := newVerifier(t, nitro.Options{})
	qv := newVerifier(t, nitro.Options{Format: attest.FormatQingtian, Roots: qca.Roots()})

	qdoc := genuine(t)
	qdoc.KeyName = "pubkey"
	qdocs := map[string][]byte{"sha384": sign(t, qca, genuine(t)), "sha384 pubkey": sign(t, qca, qdoc)}
	qdoc.Digest, qdoc.PCRs = "SHA256", pcrMap(16, 32)
	qdocs["sha256 pubkey"] = sign(t, qca, qdoc)
	for name, doc := range qdocs {
		for vname, v := range map[string]*nitro.Verifier{"nitro test roots": nv, "aws root": aws} {
			c, err := v.Verify(doc, testVerifyTime)
			checkResult(t, c, err, attest.ErrChain)
			t.Logf("qingtian %s, nitro verifier with %s: %v", name, vname, err)
		}
		c, err := qv.Verify(doc, testVerifyTime)
		checkResult(t, c, err, nil)
	}
	c, err := qv.Verify(sign(t, nca, genuine(t)), testVerifyTime)
	checkResult(t, c, err, attest.ErrChain)

	set := &attest.Set{COSE: []attest.Verifier{nv, qv}}
	c, err = set.Verify(qdocs["sha256 pubkey"], testVerifyTime)
	checkResult(t, c, err, nil)
	if c.Format != attest.FormatQingtian {
		t.Fatalf("format %s", c.Format)
	}
	// A stale QingTian document: the Set explains with the QingTian error.
	c, err = set.Verify(qdocs["sha256 pubkey"], testDocTime.Add(10*60e9))
	checkResult(t, c, err, attest.ErrExpired)
}

// TestOtherPKIRefusedCheaply: a QingTian document that attest.Set tries on
// the Nitro verifier first is refused there before its signature is
// checked and before the budget for new chains is asked: QingTian traffic
// spent the budget new Nitro enclaves need, and an ECDSA verification each.
// (A Nitro document whose chain names the roots is asked, as before.)
func TestOtherPKIRefusedCheaply(t *testing.T) {
	nca := testCA(t, attest.FormatNitro, 1)
	qca := testCA(t, attest.FormatQingtian, 2)
	asked := 0
	nv := newVerifier(t, nitro.Options{Roots: nca.Roots(), ColdChain: func() bool { asked++; return true }})
	qv := newVerifier(t, nitro.Options{Format: attest.FormatQingtian, Roots: qca.Roots()})
	set := &attest.Set{COSE: []attest.Verifier{nv, qv}}
	qdoc := genuine(t)
	qdoc.KeyName = "pubkey"
	bad := qdoc
	bad.FlipSignature = true
	for _, doc := range [][]byte{sign(t, qca, qdoc), sign(t, qca, bad)} {
		c, err := nv.Verify(doc, testVerifyTime)
		checkResult(t, c, err, attest.ErrChain)
		if asked != 0 || nitro.ChainVerifications(nv) != 0 {
			t.Fatalf("the Nitro verifier asked the budget %d times and verified %d chains for a QingTian document", asked, nitro.ChainVerifications(nv))
		}
	}
	c, err := set.Verify(sign(t, qca, qdoc), testVerifyTime)
	checkResult(t, c, err, nil)
	if c.Format != attest.FormatQingtian || asked != 0 {
		t.Fatalf("through the Set: format %s, budget asked %d times", c.Format, asked)
	}
	c, err = set.Verify(sign(t, nca, genuine(t)), testVerifyTime)
	checkResult(t, c, err, nil)
	if asked != 1 || nitro.ChainVerifications(nv) != 1 {
		t.Fatalf("a Nitro document: budget asked %d times, %d chains verified", asked, nitro.ChainVerifications(nv))
	}
}

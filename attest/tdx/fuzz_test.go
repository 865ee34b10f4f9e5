package tdx

import (
	"bytes"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzVerify from testvectors/tdx")

const seedDir = "testdata/fuzz/FuzzVerify"

// realSeeds are envelopes around Intel's real quote (testvectors/tdx): the
// stored seeds of FuzzVerify, all refused at realTime with these kinds.
func realSeeds(t testing.TB) map[string]struct {
	ev   []byte
	want error
} {
	q := readQuote(t)
	col := filepath.Join(vectors, "collateral")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(col, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	signer, _ := pem.Decode(read("tcbinfo-50806f000000.issuer.pem"))
	carried := &envelope.TDXCollateral{TCBInfo: read("tcbinfo-50806f000000.json"), QEIdentity: read("qe_identity.json"),
		TCBSigningCert: signer.Bytes, PCKCRL: read("pck_crl-platform.der"), RootCRL: read("root_crl.der")}
	env := func(quote []byte, c *envelope.TDXCollateral, nonce []byte) []byte {
		b, err := (&envelope.Envelope{Format: attest.FormatTDX, PublicKey: fixedKey, Quote: quote, Collateral: c, Nonce: nonce}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	flipped := bytes.Clone(q)
	flipped[0x30+0x100] ^= 1
	return map[string]struct {
		ev   []byte
		want error
	}{
		"real":                 {env(q, nil, nil), attest.ErrBinding},
		"real_with_nonce":      {env(q, nil, []byte("nonce")), attest.ErrBinding},
		"real_carried":         {env(q, carried, nil), attest.ErrBinding},
		"real_flipped":         {env(flipped, nil, nil), attest.ErrSignature},
		"real_truncated":       {env(q[:1000], nil, nil), attest.ErrMalformed},
		"real_header_only":     {env(q[:48], nil, nil), attest.ErrMalformed},
		"real_carried_no_crls": {env(q, &envelope.TDXCollateral{TCBInfo: carried.TCBInfo, QEIdentity: carried.QEIdentity, TCBSigningCert: carried.TCBSigningCert}, nil), attest.ErrBinding},
	}
}

// fixedKey is a fixed RSA-2048 SubjectPublicKeyInfo (the seeds never bind
// it: Intel's quote binds a key of its own test).
var fixedKey = func() []byte {
	b, err := os.ReadFile(filepath.Join(vectors, "seed_key.der"))
	if err != nil {
		panic(err)
	}
	return b
}()

func TestRealSeeds(t *testing.T) {
	v := realVerifier(t, Options{})
	for name, s := range realSeeds(t) {
		c, err := v.Verify(s.ev, realTime)
		attesttest.CheckResult(t, c, err, s.want)
		path := filepath.Join(seedDir, "seed-"+name)
		want := []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.ev))
		if *updateSeeds {
			os.MkdirAll(seedDir, 0o755)
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not the seed %s makes (go test -run TestRealSeeds -update-seeds)", path, name)
		}
	}
}

// FuzzVerify: whatever the bytes, Verify returns claims or an error
// wrapping exactly one kind, never both, never a panic; with Intel's roots
// and real collateral nothing verifies (no real quote binds a key of ours),
// and with a test CA only envelopes whose quote it signed do.
func FuzzVerify(f *testing.F) {
	ca := newSimCA(f)
	sim := simVerifier(f, ca, writeCollateral(f, ca, attesttest.TDXCollateralOptions{}), Options{})
	real := realVerifier(f, Options{})
	for _, q := range []attesttest.TDXQuote{{}, {Attributes: attesttest.TDXAttributeDebug}, {ReportData: make([]byte, 64)}} {
		f.Add(marshal(f, simEnvelope(f, ca, q, []byte("n"))))
	}
	// Envelopes that carry collateral, newer than the server's (used: the
	// first-link gate and the freshness rule run) and older (a rollback):
	// without them the fuzzer hardly reaches that code.
	for _, n := range []int{19, 1} {
		c := simCollateral(f, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: n})
		e := simEnvelope(f, ca, attesttest.TDXQuote{}, []byte("n"))
		e.Collateral = &envelope.TDXCollateral{TCBInfo: c.TCBInfo, QEIdentity: c.QEIdentity,
			TCBSigningCert: ca.TCBSigning.Raw, PCKCRL: c.PCKCRL, RootCRL: c.RootCRL}
		f.Add(marshal(f, e))
	}
	f.Fuzz(func(t *testing.T, ev []byte) {
		c, err := real.Verify(ev, realTime)
		attesttest.CheckResult(t, c, err, err)
		if err == nil {
			t.Fatal("a real quote verified with a key of ours")
		}
		c, err = sim.Verify(ev, simTime)
		attesttest.CheckResult(t, c, err, err)
	})
}

package nitro_test

import (
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
)

// TestDebugMode: a document whose PCR0 is all zero or missing is of an
// enclave in debug mode. It is refused as attest.ErrPolicy, after every
// other check, unless Options.AllowDebug, which admits it with Claims.Debug;
// for Nitro and QingTian alike.
func TestDebugMode(t *testing.T) {
	pcr0Zero := pcrMap(16, 48)
	pcr0Zero[0] = make([]byte, 48)
	noPCR0 := pcrMap(16, 48)
	delete(noPCR0, 0)
	onlyPCR0 := map[int][]byte{0: pcrMap(1, 48)[0], 1: make([]byte, 48)}
	cases := []struct {
		name  string
		pcrs  map[int][]byte
		debug bool
	}{
		{"pcr0 all zero, pcr3 and pcr4 set", pcr0Zero, true},
		{"every pcr zero", nil, true}, // nitrotest's default
		{"pcr0 set, the others zero", onlyPCR0, false},
		{"every pcr set", pcrMap(16, 48), false},
	}
	for _, format := range []attest.Format{attest.FormatNitro, attest.FormatQingtian} {
		ca := testCA(t, format, 3)
		strict := newVerifier(t, nitro.Options{Format: format, Roots: ca.Roots()})
		lax := newVerifier(t, nitro.Options{Format: format, Roots: ca.Roots(), AllowDebug: true})
		for _, tc := range cases {
			d := genuine(t)
			d.PCRs = tc.pcrs
			doc := sign(t, ca, d)
			c, err := strict.Verify(doc, testVerifyTime)
			if tc.debug {
				checkResult(t, c, err, attest.ErrPolicy)
				if msg := err.Error(); !strings.Contains(msg, "debug mode") || !strings.Contains(msg, "open to its host") || !strings.Contains(msg, "--allow-debug-enclaves") {
					t.Errorf("%s %s: %q does not say why, nor how to accept it in tests", format, tc.name, msg)
				}
			} else {
				checkResult(t, c, err, nil)
			}
			c, err = lax.Verify(doc, testVerifyTime)
			checkResult(t, c, err, nil)
			if c.Debug != tc.debug || c.Format != format {
				t.Errorf("%s %s: AllowDebug gives Debug %v, format %s", format, tc.name, c.Debug, c.Format)
			}
		}

		// A document without PCR0 measures no image: malformed, whether
		// or not debug-mode enclaves are admitted (a policy's …IfExists on
		// the image, beside Format, would hold for it).
		d := genuine(t)
		d.PCRs = noPCR0
		doc := sign(t, ca, d)
		for _, v := range []*nitro.Verifier{strict, lax} {
			c, err := v.Verify(doc, testVerifyTime)
			checkResult(t, c, err, attest.ErrMalformed)
			if !strings.Contains(err.Error(), "no PCR0") {
				t.Errorf("%s: a document without PCR0 refused with %q", format, err)
			}
		}

		// A refused debug-mode document verified all the same: its chain
		// is cached, and sending it again costs no chain verification.
		d = genuine(t)
		d.PCRs = pcr0Zero
		doc = sign(t, ca, d)
		strict.Verify(doc, testVerifyTime)
		n := nitro.ChainVerifications(strict)
		c, err := strict.Verify(doc, testVerifyTime)
		checkResult(t, c, err, attest.ErrPolicy)
		if nitro.ChainVerifications(strict) != n {
			t.Errorf("%s: a debug-mode document's chain verified again", format)
		}

		// The mode is judged last: a debug document that fails anything
		// else says that instead.
		c, err = strict.Verify(doc, testDocTime.Add(10*time.Minute))
		checkResult(t, c, err, attest.ErrExpired)
		d.ForeignCA = true
		c, err = strict.Verify(sign(t, ca, d), testVerifyTime)
		checkResult(t, c, err, attest.ErrChain)
	}

	// The real debug-mode document, with the default options.
	c, err := newVerifier(t, nitro.Options{}).Verify(readVector(t, "nitro_doc_2024-01-24_debug_rsa2048.cose"), debugDocTime.Add(time.Second))
	checkResult(t, c, err, attest.ErrPolicy)
}

// TestDebugModeInSet: through attest.Set, as the server verifies, a QingTian
// document of a debug-mode enclave is refused with the QingTian verifier's
// reason (its chain reached QingTian's roots), and, admitted, is a QingTian
// document: never Nitro's, never with Nitro's condition keys.
func TestDebugModeInSet(t *testing.T) {
	nca := testCA(t, attest.FormatNitro, 1)
	qca := testCA(t, attest.FormatQingtian, 2)
	d := genuine(t)
	d.PCRs = nil // every PCR zero
	qdoc := sign(t, qca, d)
	set := func(allowDebug bool) *attest.Set {
		return &attest.Set{COSE: []attest.Verifier{
			newVerifier(t, nitro.Options{Roots: nca.Roots(), AllowDebug: allowDebug}),
			newVerifier(t, nitro.Options{Format: attest.FormatQingtian, Roots: qca.Roots(), AllowDebug: allowDebug}),
		}}
	}
	c, err := set(false).Verify(qdoc, testVerifyTime)
	checkResult(t, c, err, attest.ErrPolicy)
	c, err = set(true).Verify(qdoc, testVerifyTime)
	checkResult(t, c, err, nil)
	if c.Format != attest.FormatQingtian || !c.Debug {
		t.Fatalf("format %s, debug %v", c.Format, c.Debug)
	}
	for k := range c.Measurements() {
		if strings.HasPrefix(k, attest.AttestationPrefix) && k != attest.AttestationPrefix+"Format" {
			t.Errorf("a QingTian document gives the Nitro key %s", k)
		}
	}
}
